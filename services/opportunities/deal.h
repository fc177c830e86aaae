/*  deal.h — the deal events' apply (docs/opportunities.md § A deal,
    § Events): opportunity.created, updated, stage_changed, archived and
    restored, and the deals following their customer (merged, assigned).

    Each row checks the event again against the store (no event, however it
    reached the journal, can store a malformed deal), then saves the deal
    with its indexes in step: by_customer, stage_open (open deals per
    pipeline and stage), the list's opp_sorted (deals_query_index_save),
    and one history entry per change of stage, amount, currency,
    probability or expected close date (history.h).

    The stage rule (deal_move): the status is the stage's kind; a move to a
    won or lost stage sets the stage's probability and clears the hand-set
    flag, and sets closed_at; a move to an open stage clears closed_at and
    takes the stage's probability unless one was set by hand; a lost stage
    needs one of the pipeline's lost reasons, any other stage clears it.
*/
#ifndef OPPORTUNITIES_DEAL_H
#define OPPORTUNITIES_DEAL_H

#include <rapport/apply.h>

//  The rows of apply.c's table (rp_apply_fn).
rp_apply_fn deal_apply_created;
rp_apply_fn deal_apply_updated;
rp_apply_fn deal_apply_stage_changed;
rp_apply_fn deal_apply_archived;
rp_apply_fn deal_apply_restored;

//  After a customer.* event that the customers apply accepted (outcome
//  200): a merge moves the deals of the merged customers to the survivor,
//  an assignment with_opportunities gives the open deals the new owner
//  (and team when given). 0 or an error that stops the service.
int deal_apply_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  After a lead.captured the customers fold took (services/customers/lead.h):
//  a deal in the first open stage of the default pipeline for the customer
//  it became or matched, owned by the lead's owner (no default pipeline
//  yet: no deal, and a log line). 0 or an error that stops the service.
int deal_apply_lead(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  Is the customer one a new deal (or a deal moved to it) may name: held
//  in this store and not archived?
bool deal_customer_ok(rp_store_t *store, MDB_txn *txn, const char *id, size_t len);

#endif
