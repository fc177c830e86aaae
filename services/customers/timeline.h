/*  timeline.h — what happened to a customer, newest first.

    Kept by apply, like everything else in the store (DESIGN.md §2): after
    a customer.* event has applied with outcome 200, timeline_apply adds
    one entry per customer it concerns (customer.merged: the target and
    each source). The journal is never read back for it.

    Database (apply_dbnames):
        timeline   <customer id> NUL <seq as 16 hex digits> → entry

    Entry: {seq, type, time, actor (the user, or nil), summary (one line
    for people), data (per type, below)}:
        customer.created           {name, code}
        customer.updated           {fields: [names changed]}
        customer.archived|restored {}
        customer.assigned          {owner, team}
        customer.merged            {from: [ids]} on the target,
                                   {into: id} on each source
        customer.contact_added     {contact_id, name}
        customer.contact_updated   {contact_id, name, fields: [names]}
        customer.contact_removed   {contact_id}
        customer.activity_logged   {activity_id, kind, at}
        order.placed, order.cancelled, payment.received and
        customer.event_matched     {order_no, amount, currency, product?,
                                   reason?, grade?: {from, to}, tier?:
                                   {from, to}}: the grade and tier moves
                                   the order caused are on its entry
    The cursor of a page is the seq's 16 hex digits.
*/
#ifndef CUSTOMERS_TIMELINE_H
#define CUSTOMERS_TIMELINE_H

#include <rapport/envelope.h>
#include <rapport/store.h>

#define TIMELINE_SUMMARY_MAX 160 //  bytes of a summary (cut on a character)

//  Add the entries of an applied event (outcome 200). 0 or an LMDB error.
int timeline_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  Add one entry on customer id for an event the customers fold applies
//  outside the customer.* table (orders, payments, grade and tier moves:
//  order.h): summary one line, data a packed map. 0 or an LMDB error.
int timeline_add(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                 const char *id, size_t id_len, const char *summary, const rp_packer_t *data);

//  The 16 hex digits of seq (the <rest> of a timeline key) into out.
void timeline_rest(char out[17], uint64_t seq);

//  A string of the data of the entry event seq left on customer id (e.g.
//  "contact_id"), copied into out (NUL-terminated). False if there is no
//  such entry or key, or it does not fit. Writers use it to answer a
//  retried request with the first event's ids.
bool timeline_data_str(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len, uint64_t seq,
                       const char *key, char *out, size_t size);

void timeline_test(void);

#endif
