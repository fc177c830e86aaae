/*  lead.h — a web site's lead.captured folded into the customers store
    (docs/customers.md § Leads), the same on every instance.

    The lead is matched against the customers by its phone (E.164, a
    national number in the grading's phone_region), then its e-mail, then
    its company's normalized name (reference.h; the first by id wins):
      - a match: a note activity on that customer (it does not count as a
        contact) and, in the opportunities service, a new deal for it;
      - no match: a new customer in tier lead — named after the company,
        else the person — with the lead's phone and e-mail, owned by the
        next active sales user of the configured team (grading.h
        lead_team; "" any team) in turn: the first by user id after the
        one the last lead went to, so revoked users are skipped and new
        ones join the round; no sales user: no owner.
    The customers fold holds the users (user.* through the users service's
    own apply: services/users/apply.h), so the turn is the same everywhere.
    The customer's id is 12 hex digits of the event's time in ms and 8 of
    its seq, like the writer's ids.

    Database (the customers fold):
        leads  <seq, 16 hex> → {customer_id, owner, team, matched, title,
               source, campaign, note}: what each lead became, for the
               opportunities fold (its deal) and for people.
        settings "lead_last:<team>" → the user the last lead went to.
*/
#ifndef CUSTOMERS_LEAD_H
#define CUSTOMERS_LEAD_H

#include <rapport/envelope.h>
#include <rapport/store.h>

//  Apply lead.captured at seq: 0 or an LMDB error.
int lead_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  What the lead at seq became (raw, valid until txn ends). 0 or MDB_NOTFOUND.
int lead_get(rp_store_t *store, MDB_txn *txn, uint64_t seq, MDB_val *value);

void lead_test(void);

#endif
