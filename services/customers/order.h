/*  order.h — integrators' orders and payments folded into the customers
    store (docs/integrators.md, docs/customers.md § Orders): order.placed,
    order.cancelled and payment.received, whose data the journal checked
    (rapport/integrator.h). What names nobody waits in the unmatched
    queue (unmatched.h) until an admin links it to a customer.

    Databases (the customers fold):
        orders           order_no → the order {order_no, customer_id,
                         status: placed | cancelled | unmatched, amount,
                         currency, quantity, product, spec, placed_at, cost,
                         cancelled_at, reason, seq, source, event_id}
        customer_orders  <customer id> NUL <placed_at><order_no> → the same
                         order: a customer's orders by time (page.h)
        stats            a customer's figures (stats.h)

    The rules, the same on every instance:
      - an order_no counts once: a second order.placed of it (another
        event id, a resend) changes nothing;
      - the customer reference {id | code | tax_id} is resolved when the
        event is applied; one that names nobody (or a customer with orders
        in STATS_MAX_CURRENCIES other currencies already) puts the order or
        payment in the unmatched queue, never drops it;
      - a cancel takes an order's figures back; a cancel that comes before
        its order is kept, and the order then counts as cancelled;
      - after each order won or lost, the customer's grade and tier follow
        the grading (grading.h), and its timeline has the order's entry
        with the moves it caused.
*/
#ifndef CUSTOMERS_ORDER_H
#define CUSTOMERS_ORDER_H

#include <rapport/apply.h>
#include <rapport/envelope.h>
#include <rapport/store.h>

//  True for order.placed, order.cancelled and payment.received.
bool order_event(const rp_event_t *event);

//  Apply one of them at seq: 0 or an LMDB error (bad data is logged and
//  skipped: the journal refuses it, so only a foreign journal has it).
int order_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  A queued order.placed or payment.received (its type and data) applied to
//  customer now, by the event that matched it (unmatched.h). 0 or an
//  LMDB error.
int order_apply_to(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                   const char *type, size_t type_len, const msgpack_object *data,
                   const char *customer, size_t len);

//  The grade and tier of customer id again from its figures, at the
//  event's time (a hand-set value cleared, a merge). 0 or an LMDB error.
int order_regrade(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, const char *id,
                  size_t len);

//  customer.regraded {id: "grading", month: "YYYY-MM"}: every customer
//  with figures graded again over the twelve months ending with month (the
//  months that passed took old orders out of the window), with a timeline
//  entry on each that moved. Outcome 422 bad_event for a bad month.
rp_apply_fn order_apply_regraded;

//  customer.merged: the orders and figures of customer from move to to.
int order_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len, const char *to,
               size_t to_len);

//  Pack a stored customer record (a map) with its `stats` added (year:
//  the current UTC year).
void order_pack_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *record, int year,
                         msgpack_packer *pk);

//  The current UTC year.
int order_year(void);

//  A stored order (raw, valid until txn ends). 0 or MDB_NOTFOUND.
int order_get(rp_store_t *store, MDB_txn *txn, const char *order_no, size_t len, MDB_val *value);

void order_test(void);

#endif
