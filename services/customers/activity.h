/*  activity.h — a customer's activity log (DESIGN.md §5): visits, calls,
    e-mails, meetings and notes, with outcome and next step.

    Record (an rp_record table, rapport/record.h; stored as one map in this order):
        id, customer_id   set by the service
        kind              required: visit | call | email | meeting | note
        at                when it happened: RFC 3339, stored in UTC with
                          milliseconds; default the event's time
        summary           required, ≤ 2000 bytes (newlines allowed)
        outcome           ≤ 2000 bytes
        next_step         ≤ 500 bytes
        next_step_on      ISO 8601 date
        created_by        the actor's user; created_at the event's time
        duration_s, source  an integrator's activity.logged: the call's
                          length, the event's source (created_by: its `by`)

    Databases (apply_dbnames):
        activities    <customer id> NUL <at> <activity id> → the record: a
                      customer's log ordered by time (at is fixed width)
        activity_ids  <activity id> → its key in activities

    Event (docs/events.md): customer.activity_logged {id, activity_id,
    activity: {field…}}. Applying it also moves the customer's
    last_contacted_at to at when at is later (every kind counts, notes
    included; it does not change the customer's version: it is derived from
    the log, not edited), and moves a customer in tier lead to prospect (it
    has been contacted; grading.h). Refusals: 404 not_found, 409 exists, 422
    bad_event.
*/
#ifndef CUSTOMERS_ACTIVITY_H
#define CUSTOMERS_ACTIVITY_H

#include <rapport/record.h>

#include <rapport/envelope.h>
#include <rapport/store.h>

typedef enum {
    ACTIVITY_ID,
    ACTIVITY_CUSTOMER_ID,
    ACTIVITY_KIND,
    ACTIVITY_AT,
    ACTIVITY_SUMMARY,
    ACTIVITY_OUTCOME,
    ACTIVITY_NEXT_STEP,
    ACTIVITY_NEXT_STEP_ON,
    ACTIVITY_CREATED_BY,
    ACTIVITY_CREATED_AT,
    ACTIVITY_DURATION_S, //  an integrator's call length
    ACTIVITY_SOURCE,     //  the integrator's event source, for logged ones
    ACTIVITY_FIELDS
} activity_field_t;

#define ACTIVITY_MAX_ID 64

void activity_init(rp_record_t *self);

//  True for customer.activity_logged.
bool activity_event(const rp_event_t *event);

//  Apply customer.activity_logged: 0 with *status and *code set, or an
//  LMDB error.
int activity_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                   const char **code);

//  An integrator's activity.logged at seq: an activity on the customer it
//  names ({id} | {code} | {tax_id}, else its phone, else its e-mail;
//  reference.h), with id "i<seq as 16 hex>"; one that names nobody waits
//  in the unmatched queue (unmatched.h). 0 or an LMDB error.
int activity_apply_logged(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  The customer an integrator's activity.logged data names, as above,
//  into out (APPLY_MAX_ID + 1 bytes): its length, 0 for nobody.
size_t activity_logged_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *data,
                                char *out);

//  Add record (kind, summary, at and created_by set by the caller) as an
//  activity of customer with id prefix + seq in 16 hex, made by event at
//  seq, and its timeline entry; contacted: it moves last_contacted_at (and
//  a lead to prospect). 0 or an LMDB error.
int activity_add(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                 const char *customer, size_t len, rp_record_t *record, const char *prefix,
                 bool contacted);

//  The same for a queued activity.logged's data, on customer, by the
//  event (customer.event_matched at seq) that matched it.
int activity_apply_to(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                      const msgpack_object *data, const char *customer, size_t len);

//  The stored activity of an id (raw, valid until txn ends). 0 or
//  MDB_NOTFOUND.
int activity_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, MDB_val *value);

//  Move every activity of customer from to customer to (merge).
int activity_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len,
                  const char *to, size_t to_len);

void activity_test(void);

#endif
