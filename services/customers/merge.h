/*  merge.h — duplicates become one customer: customer.merged {id, from:
    [ids]} moves the contacts and activities of every `from` customer onto
    `id`, archives the `from` customers, and takes the latest
    last_contacted_at among them all. One event, so the whole merge is
    applied in one transaction or not at all, and every instance moves the
    same entries in the same order (from's order).

    The target and every source get a new version. Refusals (nothing
    changes): 404 not_found (the target or a source is missing), 422
    archived (the target is archived), 422 self_merge (id is in from),
    422 bad_event (from is not 1..MERGE_MAX_FROM distinct ids). An already
    archived source may be merged: its contacts and activities still move.
*/
#ifndef CUSTOMERS_MERGE_H
#define CUSTOMERS_MERGE_H

#include <rapport/envelope.h>
#include <rapport/store.h>

#define MERGE_MAX_FROM 50

//  0 with *status and *code set, or an LMDB error.
int merge_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                const char **code);

//  Self-test of the relation events through customers_apply_event: contacts,
//  activities, last_contacted_at, assignment, merge and the timeline, on
//  two stores that must end byte-identical.
void merge_test(void);

#endif
