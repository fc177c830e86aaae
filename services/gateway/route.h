/*  route.h — the gateway's route engine: rows of data (libshared
    <rapport/route.h>, one file per service: services/<s>/routes.c) turned
    into forwards and answers.

    Matching: a template is segments between '/', each a literal or a
    {name}. A path matches when every segment does, a parameter taking one
    non-empty segment; when several templates match, the one whose first
    literal comes earliest wins (/api/v1/users/me before /api/v1/users/{id}),
    whatever order the tables were added in. A matched template without a
    row for the method is a 405 with Allow (GET also answers HEAD).
    Parameters are percent-decoded: NUL-free UTF-8 of 1..GW_ROUTE_PARAM_MAX
    bytes, else 404.

    Running: a row with `special` calls the handler registered under that
    name (streaming import and export, the operational routes, the
    bootstrap admin's /users/me); any other row is forwarded as route.h
    (libshared) describes, and answered from the service's reply. GET
    answers of a RP_ROUTE_CACHED row come from the cache (cache.h) when it
    has them, and are kept there.
*/
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include "cache.h"
#include "exchange.h"
#include "forward.h"
#include "seqs.h"
#include "settle.h"

#include <event2/http.h>
#include <rapport/route.h>
#include <stdbool.h>

#define GW_ROUTE_PARAMS    4   //  path parameters in one template
#define GW_ROUTE_SEGMENTS  12  //  segments in one template (and a longer path matches none)
#define GW_ROUTE_PARAM_MAX 256 //  a path parameter, decoded, in bytes
#define GW_ROUTES_MAX      128 //  templates in one engine

typedef struct _gw_routes_t gw_routes_t;

//  What rows need to run; any may be NULL when a test does not need it
//  (no cache: every GET is forwarded; no settle: writes answer at once).
typedef struct {
    gw_forwarder_t *forwarder;
    gw_seqs_t *seqs;
    gw_cache_t *cache;
    gw_settle_t *settle;
    size_t body_max;
} gw_routes_env_t;

gw_routes_t *gw_routes_new(const gw_routes_env_t *env);
void gw_routes_destroy(gw_routes_t **self_p);

//  Add a table's rows: -1 (logged) if a row is malformed or repeats a
//  template and method already added; the engine is then unfit to serve
//  (a programming error: the gateway refuses to start).
int gw_routes_add(gw_routes_t *self, const rp_route_table_t *table);

//  Add every table linked into this program (RP_ROUTES); -1 as above.
int gw_routes_add_linked(gw_routes_t *self);

//  The decoded path parameters of a request, under their args names.
typedef struct {
    size_t count;
    const char *names[GW_ROUTE_PARAMS];
    char *values[GW_ROUTE_PARAMS];
} gw_route_params_t;

//  A special row's handler: answers the exchange, now or later.
typedef void(gw_special_fn)(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,
                            const gw_route_params_t *params);

//  Register the handler for rows whose special is name.
void gw_routes_special(gw_routes_t *self, const char *name, gw_special_fn *fn, void *arg);

//  A path matched to a template, and the method to a row.
typedef struct {
    const char *label;     //  the template (metrics label), or NULL: no route
    const rp_route_t *row; //  the method's row, or NULL: answer 405
    const char *allow;     //  the template's methods ("GET, HEAD, PATCH")
    bool open;             //  no API key needed
    size_t count;          //  parameters, still percent-encoded
    const char *raw[GW_ROUTE_PARAMS];
    size_t raw_len[GW_ROUTE_PARAMS];
    const char *names[GW_ROUTE_PARAMS]; //  their template names
} gw_route_match_t;

//  Match path and method; false (match->label NULL) if no template matches.
bool gw_routes_match(gw_routes_t *self, const char *path, enum evhttp_cmd_type method,
                     gw_route_match_t *match);

//  Run a match with a row: decode its parameters (else 404), then the
//  special handler or the generic forward. The exchange is taken over.
void gw_routes_run(gw_routes_t *self, gw_exchange_t **ex_p, const gw_route_match_t *match);

//  The generic forward of the exchange's row (for a special handler that
//  falls back to it).
void gw_routes_forward(gw_routes_t *self, gw_exchange_t **ex_p, const gw_route_params_t *params);

//  The request's query string as args, by row's query table (route.h);
//  NULL with the exchange answered 400 bad_query. For special handlers
//  (export).
json_t *gw_routes_query(gw_exchange_t **ex_p, const rp_route_t *row);

//  One template, read-only: its label, whether it needs a key, its methods.
typedef struct {
    const char *label;
    bool needs_key;
    bool get, post, put, patch, del;
} gw_route_info_t;

//  Copy up to max templates into infos; returns how many there are.
size_t gw_routes_info(gw_routes_t *self, gw_route_info_t *infos, size_t max);

void gw_routes_test(void);

#endif
