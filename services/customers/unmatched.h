/*  unmatched.h — integrators' events whose customer reference names
    nobody: kept in a queue admins see, until one links the entry to a
    customer (docs/customers.md § Orders, grade and tier). Nothing an
    integrator sends is dropped: an order, a payment or a logged activity
    that matches no customer waits here, and customer.event_matched
    applies it then as if it had named that customer.

    Database (the customers fold):
        unmatched  <seq, 16 hex> → {id, seq, type, source, event_id, time,
                   reference, order_no, amount, currency, reason, data}
*/
#ifndef CUSTOMERS_UNMATCHED_H
#define CUSTOMERS_UNMATCHED_H

#include <rapport/apply.h>
#include <rapport/envelope.h>
#include <rapport/store.h>

//  Queue the event at seq (reason: "unknown_customer",
//  "too_many_currencies"). 0 or an LMDB error.
int unmatched_put(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                  const char *reason);

//  Take the entry of seq out (absent: 0).
int unmatched_del(rp_store_t *store, MDB_txn *txn, uint64_t seq);

//  customer.event_matched {id: customer id, unmatched: seq}: the entry
//  applied to that customer (order.h, activity.h) and taken out. Outcomes
//  404 not_found (no such entry), 404 unknown_customer, 422 archived.
rp_apply_fn unmatched_apply_matched;

//  A page of the queue, oldest first, after cursor (an entry's id; NULL
//  for the first page): up to limit entries packed into items, *count of
//  them, next the id to continue after ("" at the end).
int unmatched_page(rp_store_t *store, MDB_txn *txn, const char *after, size_t after_len,
                   size_t limit, rp_packer_t *items, size_t *count, char next[17]);

//  The entries in the queue now.
size_t unmatched_count(rp_store_t *store, MDB_txn *txn);

//  An entry's id (16 hex digits) as its seq, and back.
bool unmatched_id_seq(const char *id, size_t len, uint64_t *seq);
void unmatched_id(char out[17], uint64_t seq);

void unmatched_test(void);

#endif
