/*  apply.h — the customers store and the only code that changes it
    (DESIGN.md §2): customer.* events folded in journal order.

    Databases:
      customers  id → the record (MessagePack map, customer.h)
      codes      code → id            (unique)
      tax_ids    tax_id → id          (unique when present)
      similar    kind + key + NUL + id → "" for likely duplicates: kind 'n'
                 the normalized name (rp_normalize_name), 'p' a phone or mobile,
                 'e' the e-mail (not unique: two firms may share a switchboard)
      outcomes   seq (8 bytes BE) → {status, id, code?, fields?, ids?}
      meta       applied cursor; "code_counter" for generated codes
      orders, customer_orders, unmatched, stats: integrators' orders and
                 payments and a customer's figures (order.h, stats.h);
                 settings: the grading (grading.h); leads (lead.h)
      users, emails, keys, user_keys, preferences: the users service's
                 store, folded by its own apply (services/users/apply.h),
                 so leads go to sales users in turn alike everywhere
      contacts, contact_names, activities, activity_ids, timeline: a
                 customer's relations (contact.h, activity.h, timeline.h);
                 customer.contact_*, activity_logged, assigned and merged
                 are applied there (and in assign.h, merge.h), and every
                 event applied with outcome 200 leaves a timeline entry

    A business conflict (a duplicate code or tax id, a stale version, a
    missing record) does not stop the service: apply records it as the
    event's outcome, the writer reads it back by seq and answers with it.
    Since an idempotent retry gets the first append's seq, it gets the first
    answer too. A customer.created whose name, phone or e-mail matches a
    stored record is refused as 409 "possible_duplicate" unless its data says
    allow_duplicate: true.
*/
#ifndef CUSTOMERS_APPLY_H
#define CUSTOMERS_APPLY_H

#include "customer.h"
#include "query.h"

#include <rapport/outcome.h>

#include <rapport/envelope.h>
#include <rapport/store.h>

#define APPLY_MAX_ID      64
#define APPLY_MAX_SIMILAR 20 //  likely duplicates listed in an outcome

//  The customers fold's databases, for every store that folds customer.*
//  (the opportunities service's too).
#define CUSTOMERS_APPLY_DBNAMES                                                                    \
    "customers", "codes", "tax_ids", "similar", RP_OUTCOME_DB, QUERY_DBNAME, "contacts",           \
        "contact_names", "activities", "activity_ids", "timeline", "orders", "customer_orders",    \
        "unmatched", "stats", "settings", "leads", "contact_keys", "users", "emails", "keys",      \
        "user_keys", "preferences"

extern const char *const customers_apply_dbnames[];

//  rp_service_def_t.apply (a table of event types over rapport/apply.h):
//  arg is unused.
int customers_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                          const rp_event_t *event);

//  The stored record of id, as raw MessagePack valid until txn ends
//  (outcomes: rp_outcome_get, rapport/outcome.h). 0, MDB_NOTFOUND or an LMDB error.
int customers_apply_record_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                               MDB_val *value);

//  The id a unique index (codes or tax_ids) maps key to. 0 or MDB_NOTFOUND.
int customers_apply_index_get(rp_store_t *store, MDB_txn *txn, const char *index, const char *key,
                              size_t len, MDB_val *id);

//  Calls fn for each stored record that shares a normalized name, phone or
//  e-mail with record (field: the record's field that matched; each id once
//  per field), stopping after max calls. Returns the number of calls.
typedef void(customers_apply_similar_fn)(void *arg, const char *field, const char *id,
                                         size_t id_len);
size_t customers_apply_similar(rp_store_t *store, MDB_txn *txn, const rp_record_t *record,
                               size_t max, customers_apply_similar_fn *fn, void *arg);

//  A stored record held for a change by the relation events (activity.h,
//  merge.h): record borrows from doc, a private copy of the stored bytes
//  (LMDB pages move on put). customers_apply_hold answers 0, MDB_NOTFOUND, or -1
//  for a record that does not decode.
typedef struct {
    rp_doc_t *doc;
    rp_record_t record;
} customers_apply_held_t;

int customers_apply_hold(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                         customers_apply_held_t *held);
void customers_apply_release(customers_apply_held_t *held);

//  Store record (its id from CUSTOMER_ID) with its index entries moved
//  from old's (pass the record itself when no indexed field changed).
int customers_apply_save(rp_store_t *store, MDB_txn *txn, const rp_record_t *old,
                         const rp_record_t *record);

//  Store a new customer made by apply itself (a lead, lead.h) under id,
//  as customer.created would: its code generated when it has none,
//  version 1, created at the event's time. record is taken and given back
//  (reset it after). 0 or an LMDB error.
int customers_apply_insert(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, const char *id,
                           size_t len, rp_record_t *record);

//  Self-test support, for apply.c and the relation events' tests (merge.c):
//  apply (type, data packed by the caller, then reset) as event seq, with
//  actor {user} when user is not NULL (rp_apply_test_event). Replays are
//  checked with rp_apply_test_replay and customers_apply_dbnames.
void customers_apply_test_event(rp_store_t *store, uint64_t seq, const char *type, const char *user,
                                rp_packer_t *data);

void customers_apply_test(void);

#endif
