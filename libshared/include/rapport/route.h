/*  route.h — a service's HTTP routes, as rows of data for the gateway.

    A service folder declares its routes in services/<service>/routes.c:
    one rp_route_t per method and path, then RP_ROUTES(<service>, rows).
    The Makefile links every services/<s>/routes.c into the gateway, whose
    route engine (services/gateway/route.h) turns a row into the forward
    and the answer; no gateway C code is written per resource. The rows
    are plain data (no gateway symbols), so the file also links harmlessly
    into the service's own program.

    A request matched to a row becomes the service request
        {op, actor, idem?, args}
    with args built in this order, later steps overriding earlier ones:
      1. body       RP_BODY_NONE: not read; RP_BODY_MERGED: the JSON object
                    body is args; RP_BODY_WRAPPED: args[body_key] = body;
                    RP_BODY_LIST: a body {body_key: [...]} is args, any
                    other object one item: args[body_key] = [body]
                    (the body is checked as JSON, not as a record: the
                    service checks fields and answers 422 with errors)
      2. query      only the names in `query` are accepted (else 400
                    bad_query); each value, decoded, into args[arg]: text,
                    or an integer / boolean when it reads as one (else
                    left as text, for the service to refuse with a 422)
      3. path       every {name} of the template into args[name] (decoded
                    UTF-8; or renamed by `params`)
      4. actor      args[actor_arg] = the caller's user id
      5. headers    each of `headers` into args[arg], the body's own value
                    for that name dropped: RP_ARG_VERSION reads If-Match
                    ("N" → N; malformed: 400 bad_if_match), RP_ARG_BOOL
                    true/false (else 400 bad_header); absent: nothing
    and Idempotency-Key, when `idem`, into the envelope's idem. A write
    goes to "<service>.writer", a read to "<service>".

    The answer (a service error is always problem+json, forward.h):
      RP_ANSWER_DATA    the reply's data as is (a list page {items,
                        next_cursor}, a report, a deletion)
      RP_ANSWER_RECORD  a record (an object with a string id, else 502):
                        data, or data[record_key] when that is an object,
                        plus `adds` (data[name] copied into record[arg]);
                        ETag from its version
    A row with `roles` answers 403 forbidden to a key of any other role,
    before anything is forwarded (or a special row's handler runs). The answer is sent
    with `status` (0: the service's; 204 sends no body), `location` (a
    template filled from the record's fields, each percent-encoded) and
    the flags below.
*/
#ifndef RAPPORT_ROUTE_H
#define RAPPORT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { RP_BODY_NONE = 0, RP_BODY_MERGED, RP_BODY_WRAPPED, RP_BODY_LIST } rp_route_body_t;

typedef enum {
    RP_ARG_TEXT = 0, //  as given (decoded)
    RP_ARG_INT,      //  digits → an integer; anything else as text
    RP_ARG_BOOL,     //  true / false → a boolean (a header: else 400)
    RP_ARG_VERSION,  //  a header only: If-Match's "N" → N
} rp_route_kind_t;

//  One value mapped into args: a path parameter's, query parameter's or
//  header's name, its key in args (NULL: the same name), its kind.
typedef struct {
    const char *name;
    const char *arg;
    rp_route_kind_t kind;
} rp_route_arg_t;

//  Spellings of rp_route_arg_t, for tables: {RP_INT("limit"), RP_TEXT("cursor"), RP_END}.
#define RP_TEXT(n)                                                                                 \
    {                                                                                              \
        .name = (n), .kind = RP_ARG_TEXT                                                           \
    }
#define RP_INT(n)                                                                                  \
    {                                                                                              \
        .name = (n), .kind = RP_ARG_INT                                                            \
    }
#define RP_BOOL(n)                                                                                 \
    {                                                                                              \
        .name = (n), .kind = RP_ARG_BOOL                                                           \
    }
#define RP_AS(n, a)                                                                                \
    {                                                                                              \
        .name = (n), .arg = (a), .kind = RP_ARG_TEXT                                               \
    }
#define RP_BOOL_AS(n, a)                                                                           \
    {                                                                                              \
        .name = (n), .arg = (a), .kind = RP_ARG_BOOL                                               \
    }
#define RP_IF_MATCH(a)                                                                             \
    {                                                                                              \
        .name = "If-Match", .arg = (a), .kind = RP_ARG_VERSION                                     \
    }
#define RP_END                                                                                     \
    {                                                                                              \
        .name = NULL                                                                               \
    }

typedef enum { RP_ANSWER_DATA = 0, RP_ANSWER_RECORD } rp_route_answer_t;

//  Flags of a row.
#define RP_ROUTE_OPEN     (1u << 0) //  no API key needed (operational routes only)
#define RP_ROUTE_NO_STORE (1u << 1) //  Cache-Control: no-store (an answer with a secret)
#define RP_ROUTE_NO_ETAG  (1u << 2) //  a record answered without ETag
#define RP_ROUTE_SETTLE   (1u << 3) //  answered once the gateway's feed has the write's seq
#define RP_ROUTE_CACHED   (1u << 4) //  GET answers kept until an `events` event names data.id

typedef struct {
    const char *method;            //  "GET" (also answers HEAD), "POST", "PUT", "PATCH", "DELETE"
    const char *path;              //  template: "/api/v1/customers/{id}/contacts/{contact_id}"
    const char *service;           //  "customers"
    const char *op;                //  "customers.get"
    bool write;                    //  to "<service>.writer"
    const char *special;           //  a gateway handler by name ("import"), or NULL
    rp_route_body_t body;          //  how the body maps into args
    const char *body_key;          //  RP_BODY_WRAPPED: under this key
    const rp_route_arg_t *params;  //  renamed path parameters, RP_END-terminated; NULL: none
    const rp_route_arg_t *query;   //  accepted query parameters, RP_END-terminated; NULL: not read
    const rp_route_arg_t *headers; //  headers into args, RP_END-terminated; NULL: none
    const char *actor_arg;         //  args[actor_arg] = the caller's user id, or NULL
    bool idem;                     //  Idempotency-Key → the envelope's idem
    rp_route_answer_t answer;
    int status;                 //  the answer's status; 0: the service's
    const char *location;       //  Location template over the record's fields, or NULL
    const char *record_key;     //  the record under data[record_key], or NULL
    const rp_route_arg_t *adds; //  data[name] into record[arg], RP_END-terminated; NULL: none
    const char *events;         //  RP_ROUTE_CACHED: the event types (a prefix, "customer.")
    const char *const *also;    //  RP_ROUTE_CACHED: more prefixes (NULL-terminated) whose
                                //  events change these records too, naming one by
                                //  data.customer.id or none ({"order.", NULL})
    unsigned flags;             //  RP_ROUTE_*
    const char *roles;          //  the roles that may call it ("admin integrator"); NULL: all
    size_t max_items;           //  RP_BODY_LIST: the most items a request may hold (0: the
                                //  service's bound alone); more is 422 too_many
} rp_route_t;

//  A service's rows, as the gateway finds them.
typedef struct {
    const char *name;
    const rp_route_t *rows;
    size_t count;
} rp_route_table_t;

//  Declare a table of rows (an array) under a name. The linker gathers
//  every table into the section rp_routes, which the gateway walks
//  (gw_routes_linked), so a new service's routes.c needs no edit in the
//  gateway. A section of pointers, not of tables: its entries are then
//  evenly spaced whatever the compiler aligns.
#define RP_ROUTES(name, rows)                                                                      \
    static const rp_route_table_t s_rp_routes_##name = {#name, rows,                               \
                                                        sizeof rows / sizeof rows[0]};             \
    __attribute__((used, section("rp_routes"))) const rp_route_table_t *const rp_routes_##name =   \
        &s_rp_routes_##name

#endif
