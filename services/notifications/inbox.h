/*  inbox.h — who is told what of a journal event (docs/notifications.md
    § What makes an entry). Runs in apply, after the reminders fold has
    applied the event, reading that fold's records in the event's
    transaction, so every instance derives the same entries:

      reminder.fired            the reminder's assignee (a firing the fold
                                refused, 409 already_fired, tells nobody)
      rule.escalated            data.manager_id (once: the fold refuses a
                                second escalation)
      customer.assigned         the new owner
      opportunity.created       the owner, when not the actor
      opportunity.stage_changed the owner's manager, to a won or lost stage
      lead.captured             the owner the customers fold gave the lead

    At most one entry per event; its id derives from the seq (entry.h).
*/
#ifndef NOTIFICATIONS_INBOX_H
#define NOTIFICATIONS_INBOX_H

#include <rapport/envelope.h>
#include <rapport/store.h>

//  Derive the entry of the event at seq, if any: 0 or an LMDB error.
int inbox_derive(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

#endif
