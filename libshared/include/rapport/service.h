/*  service.h — the runtime every Rapport service runs in (DESIGN.md §2).

    One thread, one loop, wiring:
      - an rp_store (own directory, flock'ed) whose applied cursor moves in
        the same transaction as the service's apply(txn, event);
      - an rp_feed that delivers journal events in order, exactly once, from
        the store's cursor on, into apply;
      - an rp_worker for "<name>" (reads) and, if asked, one for
        "<name>.writer" (the lease: writes), registered only once the store
        has caught up with the journal's head;
      - an rp_client for calls to other services (journal.append …),
        answered through callbacks;
      - a ready file (health/ready_file, see ready.h) written once the
        workers are registered and refreshed every second, for container
        health checks;
      - periodic ticks, and a clean stop on SIGTERM/SIGINT (workers say
        DISCONNECT, the store is closed).

    A service provides:

        static int apply (void *arg, rp_store_t *store, MDB_txn *txn,
                          uint64_t seq, const rp_event_t *event);
        static const rp_service_op_t ops[] = {
            {"things.get", RP_OP_READ, s_get},
            {"things.create", RP_OP_WRITE, s_create},
            {NULL}};

    apply is the only code that changes the store: deterministic, no I/O;
    it returns 0, or an error that stops the service (never for a business
    conflict: record those as outcomes). An op's fn answers now or later
    with rp_service_reply (which takes the origin); req is valid only
    during the call. A request carrying min_seq is held (bounded) until the
    store has applied that seq, so reads see the caller's own writes; when
    the bound passes first it is answered 503 "min_seq_timeout" (retry).

    The runtime answers, alike for every service and before any op runs
    (or min_seq is waited for):
      - an op not in the table               400 unknown_op
      - a write op on "<name>" (the reader)  400 writer_only
      - a write op without args (absent or
        nil)                                 400 bad_args
    (args of any other type than a map are a 400 bad_request of the
    envelope, rp_request_parse), so an op's fn may take req->args as a map,
    or NULL on a read.

    The runtime stamps every reply with {cursor, instance} (the applied seq
    and rp_log_instance(): config `instance`, else hostname-pid), and
    answers the op RP_SERVICE_STATUS_OP itself on either worker, at once
    (min_seq is not waited for): data {service, instance, cursor, epoch}.

    A write handler typically: validate, rp_service_append (with the lease
    epoch; the turn's appends go out together at its end), then in its
    callback rp_service_wait for the last seq, then reply.
*/
#ifndef RAPPORT_SERVICE_H
#define RAPPORT_SERVICE_H

#include <czmq.h>
#include <rapport/append.h>
#include <rapport/client.h>
#include <rapport/config.h>
#include <rapport/envelope.h>
#include <rapport/journal.h>
#include <rapport/store.h>

#define RP_SERVICE_STATUS_OP "service.status"

typedef struct _rp_service_t rp_service_t;

//  Where a request came from; owned by the handler until it replies.
typedef struct _rp_origin_t rp_origin_t;

typedef int(rp_service_apply_fn)(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                                 const rp_event_t *event);
typedef void(rp_service_op_fn)(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req);
typedef void(rp_service_tick_fn)(void *arg, rp_service_t *service);

//  Pack one map {name: unsigned integer} of the service's own figures
//  (names of [a-z0-9_]), for service.status and so the gateway's /metrics
//  (rapport_<service>_<name>{instance}).
typedef void(rp_service_gauges_fn)(void *arg, rp_service_t *service, msgpack_packer *pk);
//  rp_service_main's hooks for the service's own state: init reads its
//  settings and makes the arg the callbacks get (*arg), returning 0, or
//  an exit status with the reason logged (and nothing left to free); it
//  runs before the scheduling policy is set and before any socket, so it
//  opens none. fini frees that arg after the run.
typedef int(rp_service_init_fn)(rp_config_t *config, void **arg);
typedef void(rp_service_fini_fn)(void *arg);

//  Reads are served on both workers; writes only on "<name>.writer".
typedef enum { RP_OP_READ, RP_OP_WRITE } rp_op_kind_t;

//  One row of a service's op table (terminated by a row with op NULL).
typedef struct {
    const char *op; //  "customers.get"
    rp_op_kind_t kind;
    rp_service_op_fn *fn; //  gets the def's arg
} rp_service_op_t;

typedef struct {
    const char *name;             //  "customers": serves "customers"
    bool writer;                  //  also "customers.writer" (the lease)
    const char *const *owns;      //  event-type prefixes the writer owns besides "<name>."
                                  //  (NULL-terminated; NULL: none), e.g. {"customer.", NULL}
    const char *const *dbnames;   //  the store's named databases, NULL-terminated
    rp_service_apply_fn *apply;   //  required
    const rp_service_op_t *ops;   //  required: the op table, {NULL}-terminated
    rp_service_tick_fn *tick;     //  optional, every tick_ms (default 1000)
    rp_service_gauges_fn *gauges; //  optional: the service's figures in service.status
    int tick_ms;
    int credit;               //  requests in flight per worker (default 64)
    int min_seq_wait_ms;      //  bound on min_seq waits (default 5000)
    const char *store_dir;    //  default <data/dir>/<name>/<n>, first free n
    void *arg;                //  passed to the callbacks (rp_service_main: init's)
    rp_service_init_fn *init; //  optional, for rp_service_main
    rp_service_fini_fn *fini; //  optional, for rp_service_main
} rp_service_def_t;

//  A service's whole main(): refuses arguments (a usage line on stderr,
//  exit 2); reads config/<name>.cfg and RAPPORT_* (rp_config_new), starts
//  the log (instance, log/level), runs init, sets the scheduling policy
//  (rp_sched_init: exit 2 if refused), lets zsys catch SIGTERM and SIGINT,
//  then serves until one comes (rp_service_new, rp_service_run) and runs
//  fini. Returns the exit status: 0 after a clean stop, 1 if the store
//  could not be opened or apply failed, else init's.
int rp_service_main(const rp_service_def_t *def, int argc, char **argv);

//  Open the store and the feed (endpoints and data dir from config:
//  broker/endpoint, feed/endpoint, data/dir). NULL if the store cannot be
//  opened (reason logged).
rp_service_t *rp_service_new(const rp_service_def_t *def, rp_config_t *config);
void rp_service_destroy(rp_service_t **self_p);

//  Catch up with the journal, register the workers, serve until SIGTERM,
//  SIGINT, rp_service_stop or a message on the pipe given to
//  rp_service_set_pipe. Returns 0 on a clean stop, -1 if apply or the store
//  failed.
int rp_service_run(rp_service_t *self);

//  Stop the loop after the current turn (from a callback).
void rp_service_stop(rp_service_t *self);

//  Also stop when anything arrives on pipe (a zactor's pipe, for tests and
//  embedding).
void rp_service_set_pipe(rp_service_t *self, zsock_t *pipe);

//  ---------------------------------------------------------------------
//  For handlers

rp_store_t *rp_service_store(rp_service_t *self);
uint64_t rp_service_cursor(rp_service_t *self);
const char *rp_service_name(rp_service_t *self);
rp_client_t *rp_service_client(rp_service_t *self);

//  The lease epoch while this instance holds "<name>.writer", else 0.
uint64_t rp_service_epoch(rp_service_t *self);

//  True if the request came on "<name>.writer".
bool rp_origin_writer(const rp_origin_t *origin);

//  The request's id (a copy, valid as long as the origin).
const msgpack_object *rp_origin_id(const rp_origin_t *origin);

//  Send a reply body and free the origin. Returns 0, or -1 if it could not
//  be sent (the worker reconnected; the broker has answered 503 already).
int rp_service_reply(rp_service_t *self, rp_origin_t **origin_p, const void *body, size_t size);

//  Reply {id, status, error: {code, message}} and free the origin.
int rp_service_reply_error(rp_service_t *self, rp_origin_t **origin_p, int status, const char *code,
                           const char *message);

//  One invalid field of a request: its name (a copy, cut to RP_MAX_FIELD
//  bytes on a UTF-8 boundary when it echoes an unknown key), a stable code
//  and what people read.
#define RP_MAX_FIELD 64
typedef struct {
    char field[RP_MAX_FIELD + 1];
    const char *code;
    const char *message;
} rp_field_error_t;

//  Reply 422 {code: "invalid", message, details: {errors: [{field, code,
//  message}…]}} for count errors, and free the origin.
int rp_service_reply_invalid(rp_service_t *self, rp_origin_t **origin_p, const char *message,
                             const rp_field_error_t *errors, int count);

//  Reply 200 with data {items: [...], next_cursor: next or nil} — the
//  shape of every list — and free the origin. items holds count packed
//  values one after another (the array header is added here); next NULL
//  or "" means this is the last page.
int rp_service_reply_page(rp_service_t *self, rp_origin_t **origin_p, const rp_packer_t *items,
                          size_t count, const char *next);

//  The same page with more pairs in data after next_cursor: more holds
//  pairs key/value pairs packed one after another (the notifications'
//  unread_count), NULL for none.
int rp_service_reply_page_more(rp_service_t *self, rp_origin_t **origin_p, const rp_packer_t *items,
                               size_t count, const char *next, const rp_packer_t *more,
                               size_t pairs);

//  Free an origin without replying.
void rp_origin_destroy(rp_origin_t **origin_p);

typedef void(rp_service_wait_fn)(void *arg, rp_service_t *service, bool applied);

//  Call fn once the store has applied seq (applied true; at once if it
//  has), or after timeout_ms (applied false), or when the service stops
//  (so fn can free its arg; the workers can still reply then).
void rp_service_wait(rp_service_t *self, uint64_t seq, int timeout_ms, rp_service_wait_fn *fn,
                     void *arg);

typedef void(rp_service_reply_fn)(void *arg, rp_service_t *service, const rp_reply_t *reply);

//  Send a request (body packed with id from rp_client_next_id) and call fn
//  with its reply, or with a 504 after timeout_ms. Returns -1 (fn is not
//  called) if it could not be sent.
int rp_service_call(rp_service_t *self, const char *service, uint64_t id, const void *body,
                    size_t size, int timeout_ms, rp_service_reply_fn *fn, void *arg);

//  Append events to the journal as this service's writer with the current
//  lease epoch. The append is sent at the end of the turn, in one
//  journal.append with the others of the turn, each a part of its own
//  with its own key, idem (NULL or "" for none; see append.h; a large
//  append goes alone). fn gets the journal's reply and, on 200, the seqs
//  of these events, first..last; a group that could not be sent answers
//  503. -1 (fn is not called) if the events are malformed or too many.
int rp_service_append(rp_service_t *self, const rp_journal_event_t *events, size_t count,
                      const char *idem, int timeout_ms, rp_appended_fn *fn, void *arg);

//  rp_service_append of count events packed one after another in packed
//  (a batch a writer built itself: a clock's, a sweep's), sizes[i] the
//  bytes of the i-th.
int rp_service_append_packed(rp_service_t *self, const msgpack_sbuffer *packed, const size_t *sizes,
                             size_t count, const char *idem, int timeout_ms, rp_appended_fn *fn,
                             void *arg);

void rp_service_test(void);

#endif
