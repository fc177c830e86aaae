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

    Databases (apply_dbnames):
        activities    <customer id> NUL <at> <activity id> → the record: a
                      customer's log ordered by time (at is fixed width)
        activity_ids  <activity id> → its key in activities

    Event (docs/events.md): customer.activity_logged {id, activity_id,
    activity: {field…}}. Applying it also moves the customer's
    last_contacted_at to at when at is later (every kind counts, notes
    included; it does not change the customer's version: it is derived from
    the log, not edited). Refusals: 404 not_found, 409 exists, 422
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

//  The stored activity of an id (raw, valid until txn ends). 0 or
//  MDB_NOTFOUND.
int activity_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, MDB_val *value);

//  Move every activity of customer from to customer to (merge).
int activity_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len,
                  const char *to, size_t to_len);

void activity_test(void);

#endif
