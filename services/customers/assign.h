/*  assign.h — a customer changes hands: customer.assigned {id, owner,
    team?, expected_version?} sets the owner (and the team when given),
    with a new version like any change to the record.

    Who may assign is the writer's check (relations.c: admin, or a manager
    within their own team); apply checks only the data and the version:
    404 not_found, 412 version_mismatch, 422 bad_event.
*/
#ifndef CUSTOMERS_ASSIGN_H
#define CUSTOMERS_ASSIGN_H

#include <rapport/envelope.h>
#include <rapport/store.h>

#define ASSIGN_MAX_NAME 100 //  bytes of owner and team, as in the record

//  0 with *status and *code set, or an LMDB error.
int assign_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                 const char **code);

#endif
