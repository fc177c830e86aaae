/*  apply.h — the opportunities store and the only code that changes it
    (DESIGN.md §2; docs/opportunities.md § Store, § Events).

    Databases (besides the customers fold's, customers_apply_dbnames):
      opportunities  deal id → the deal (MessagePack map, opportunity.h)
      pipelines      pipeline id → the pipeline (pipeline.h)
      history        deal id NUL seq (16 hex digits) → a history entry
                     (history.h)
      by_customer    customer id NUL deal id → ""
      stage_open     pipeline id NUL stage key → open deals in it (u64 BE)
      opp_sorted     the list's sort index (query.h)
      outcomes       seq → outcome (rapport/outcome.h), shared with the fold

    customer.* events are folded with the customers service's own apply
    (services/customers/apply.h), so this store holds exactly the customers
    the customers store holds; after one whose outcome is 200 the deals
    follow (a merge moves them, an assignment with_opportunities gives the
    open ones the new owner). opportunity.* events go through the table of
    rp_apply_run (rapport/apply.h).
*/
#ifndef OPPORTUNITIES_APPLY_H
#define OPPORTUNITIES_APPLY_H

#include <rapport/apply.h>
#include <rapport/envelope.h>
#include <rapport/store.h>

#include "../customers/apply.h"

#define OPPORTUNITIES_MAX_ID 64

//  The store's databases, for a service that folds opportunity.* too
//  (the reminders service: services/reminders/apply.h).
#define OPPORTUNITIES_APPLY_DBNAMES                                                                \
    CUSTOMERS_APPLY_DBNAMES, "opportunities", "pipelines", "history", "by_customer", "stage_open", \
        "opp_sorted"

extern const char *const opportunities_apply_dbnames[];

//  rp_service_def_t.apply: arg is unused.
int opportunities_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event);

//  "<a> NUL <b>" into out (at least 2 * OPPORTUNITIES_MAX_ID + 2 bytes);
//  its length, or 0 if a part is empty or longer than OPPORTUNITIES_MAX_ID.
size_t opportunities_apply_pair(char *out, const char *a, size_t a_len, const char *b,
                                size_t b_len);

//  Self-test support: apply (type, data packed by the caller, then reset)
//  as event seq, actor {user} when user is not NULL (rp_apply_test_event).
void opportunities_apply_test_event(rp_store_t *store, uint64_t seq, const char *type,
                                    const char *user, rp_packer_t *data);

void opportunities_apply_test(void);

#endif
