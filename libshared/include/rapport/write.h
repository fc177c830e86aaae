/*  write.h — a service's write between its request and its reply.

    DESIGN.md §2: the writer appends the events with its lease epoch and
    the request's idempotency key, waits until it has applied them from
    the feed, and answers with the outcome apply recorded. rp_writes_append
    does the first two steps and hands the last to the service, whose
    applied function reads the outcome under seq (the last event's) and
    replies. What can go wrong on the way is answered here, alike for
    every service (docs/protocol.md):
      - the events are malformed            500 journal_error
      - the append could not be sent        503 journal_unavailable
      - the journal refused the epoch       503 not_writer (lease lost)
        (409 or 403)
      - the journal answered 503 or 504     the same, journal_unavailable
      - any other refusal                   500 journal_error
      - not applied within wait_ms          504 apply_timeout
    All of them are safe to retry with the same idempotency key: a retry
    gets the first append's seq, hence the first outcome.

    The writes in flight belong to an rp_writes_t, so a service that stops
    (the runtime drops their callbacks) frees them with it; each write's
    arg is freed with free_fn once its request is answered.

    rp_writes_refusal packs the error reply for an outcome that is not a
    success: {code, message, details?} from the outcome map {status, code?,
    details?}, the message worded by the service.
*/
#ifndef RAPPORT_WRITE_H
#define RAPPORT_WRITE_H

#include <rapport/journal.h>
#include <rapport/pack.h>
#include <rapport/service.h>

typedef struct _rp_writes_t rp_writes_t;

//  The events are applied: read the outcome of seq and reply (the origin
//  is the caller's to answer and free).
typedef void(rp_write_applied_fn)(void *arg, rp_service_t *service, rp_origin_t **origin_p,
                                  uint64_t seq);
//  Free a write's arg (NULL: nothing to free).
typedef void(rp_write_free_fn)(void *arg);
//  What people read for a refusal apply recorded (status, code).
typedef const char *(rp_write_message_fn)(int status, const char *code, size_t code_len);

//  A service's words for its refusals: {code, message} rows ending {NULL}.
typedef struct {
    const char *code, *message;
} rp_write_message_t;

//  The message of code (code_len bytes) in table, or NULL.
const char *rp_write_message(const rp_write_message_t *table, const char *code, size_t code_len);

rp_writes_t *rp_writes_new(void);
//  Frees the writes still in flight (after rp_service_run returned).
void rp_writes_destroy(rp_writes_t **self_p);

//  Append events (each one packed map) and answer as above; the origin is
//  taken over. idem: the journal key ("<service>/<idem>"), NULL or "" for
//  none. applied gets arg; free_fn(arg) runs when the write is done,
//  however it ends.
void rp_writes_append(rp_writes_t *self, rp_service_t *service, rp_origin_t **origin_p,
                      const rp_journal_event_t *events, size_t count, const char *idem, int wait_ms,
                      rp_write_applied_fn *applied, void *arg, rp_write_free_fn *free_fn);

//  Answer an append the journal refused with status, as above (for a
//  writer that appends by itself, such as an import batch).
void rp_writes_refused(rp_service_t *service, rp_origin_t **origin_p, int status);

//  Whether a write request may go ahead, checked in this order (the first
//  failure is answered, the origin freed, and false returned), after the
//  runtime's own checks of a write op (on "<service>.writer", args a map:
//  service.h):
//    - the caller may write (allowed, decided by
//      the service from the actor's role)          403 forbidden (forbidden_message)
//    - the idem key fits the journal's as
//      "<service>/<idem>" with no NUL              400 bad_idem
//    - a lease is held (not between a reconnect
//      and the next grant)                         503 not_writer
//  idem gets that journal key, or "" for a request without one.
bool rp_writes_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     bool allowed, const char *forbidden_message, char idem[RP_MAX_IDEM + 1]);

//  args.version of a write that names the version it changes: absent or
//  nil (*version_obj NULL: no check), or an unsigned integer. Otherwise
//  answers 400 bad_args (origin freed) and returns false.
bool rp_writes_version_arg(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                           const msgpack_object **version_obj, uint64_t *version);

//  Pack the whole error reply {id, status, seq, error: {code, message,
//  details?}} for a refused outcome (code "conflict" if it has none).
void rp_writes_refusal(rp_packer_t *packer, const msgpack_object *reply_id, uint64_t seq,
                       int status, const msgpack_object *outcome, rp_write_message_fn *message);

//  The outcome apply recorded for seq, read in one snapshot of store:
//  status 0 when there is none (answer 500 no_outcome), a status outside
//  200..599 read as 500; the record id it names ("" when absent or longer
//  than RP_WRITE_MAX_ID); for a refusal, the whole error reply packed in
//  refusal (rp_writes_refusal with message). The caller frees refusal
//  with rp_packer_destroy.
#define RP_WRITE_MAX_ID 64 //  the longest data.id of the services (customers, users)
typedef struct {
    int status;
    char id[RP_WRITE_MAX_ID + 1];
    rp_packer_t refusal;
} rp_write_outcome_t;
void rp_writes_outcome(rp_store_t *store, uint64_t seq, const msgpack_object *reply_id,
                       rp_write_message_fn *message, rp_write_outcome_t *outcome);

//  The answer of a service whose writes answer the record as stored: for
//  the outcome of seq, a refusal as it is, a success with {id, deleted:
//  true} when deleted, else with reply (which answers the record id as
//  stored at seq, or 404), and no outcome at all 500 no_outcome.
typedef void(rp_write_reply_fn)(rp_service_t *service, rp_origin_t **origin_p, const char *id,
                                uint64_t seq);
typedef struct {
    rp_write_message_fn *message;
    rp_write_reply_fn *reply;
    bool deleted;
} rp_write_answer_t;
void rp_writes_answer(const rp_write_answer_t *how, rp_service_t *service, rp_origin_t **origin_p,
                      uint64_t seq);

//  Append one event (packed in event, destroyed here) with idem, and
//  answer it as how says once applied (rp_writes_append, then
//  rp_writes_answer). how must outlive the write (a static).
void rp_writes_append_one(rp_writes_t *self, rp_service_t *service, rp_origin_t **origin_p,
                          rp_packer_t *event, const char *idem, int wait_ms,
                          const rp_write_answer_t *how);

void rp_writes_test(void);

#endif
