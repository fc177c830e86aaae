/*  pending.h — a write between its request and its reply, for every
    customers write (handlers.h, relations.h): append the events with the
    lease epoch and the request's idem, wait until this instance has
    applied them, read the outcome apply recorded for the last one, and
    answer.

    The append and the wait are rp_writes' (rapport/write.h), which also
    answers the journal's and the feed's failures (the retryable 503
    not_writer / journal_unavailable and 504 apply_timeout of
    docs/customers.md). Here: a refusal recorded by apply (404, 409, 412,
    422 …) is answered as an error reply {code, message, details?}, the
    message worded by the owner's pending_message_fn; an outcome of 200
    hands the origin to the caller's done function, which reads what it
    needs from the store and replies. Since a retried idem gets the first
    append's seq, it gets the first outcome, from any instance.
*/
#ifndef CUSTOMERS_PENDING_H
#define CUSTOMERS_PENDING_H

#include "scope.h"

#include <rapport/service.h>
#include <rapport/write.h>

#define PENDING_WAIT_MS 5000 //  the append's reply, then apply: each bounded
#define PENDING_MAX_REF 64   //  bytes of a ref

typedef struct _pending_t pending_t;

//  What people read for a refusal apply recorded (status, code).
typedef rp_write_message_fn pending_message_fn;

pending_t *pending_new(pending_message_fn *message);

//  Frees the writes still in flight (after rp_service_run returned: the
//  runtime dropped their callbacks).
void pending_destroy(pending_t **self_p);

//  After an outcome of 200: reply (origin taken over). id is the outcome's
//  customer id, ref the caller's (a contact or activity id, or "").
typedef void(pending_done_fn)(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                              const char *id, const char *ref);

//  The checks every write makes before anything else: sent to
//  customers.writer, a role that may write, args a map, the idem made
//  into the journal key "customers/<idem>" (bounded, no NUL) in idem ("" if
//  none), and a lease held. On failure replies (origin freed) and returns
//  false.
bool pending_write_allowed(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                           const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1]);

//  Append events (each one packed map) and answer as above; the origin is
//  taken over. idem: the journal key ("customers/<idem>") or "" for none.
void pending_append(pending_t *self, rp_service_t *service, rp_origin_t **origin_p,
                    const rp_journal_event_t *events, size_t count, const char *idem,
                    const char *ref, pending_done_fn *done);

#endif
