/*  dates.h — important dates (docs/reminders.md § Important dates): a
    contact's birthday and a customer's registered_on (its founding
    anniversary) are yearly reminders of kind "date" for the customer's
    owner, kept by apply itself (reminders_apply_derive, apply.h), with
    nobody creating them.

    After every customer.* event that was applied (outcome 200) and can
    change them (not an activity, a grading or a match) the customer's
    dates are taken again from the store the fold keeps: each
    wanted date is derived (its subject, its day, the owner as assignee,
    the owner's preferred zone, else the service's), and each one no
    longer wanted (the contact removed, the date cleared, the customer
    archived or left without an owner) is cancelled. A derived reminder's
    id is "d-" and 16 hex digits of a hash of (customer id, source), so
    every instance derives the same; a reassignment moves it to the new
    owner's list, a new date moves its time (arming it again).

    The reminder is all-day at the date, FREQ=YEARLY (29 February: the
    last day of February in other years), remind_before the lead time
    and the day itself: the lead time is an active date rule's before
    (rules.h, rules_date_lead: the customer's team's, else every team's),
    else DATES_LEAD (P3D).

    Database:
      dates   <customer id> NUL <source> → the derived reminder's id
              (source: a contact id, or "registered_on")
*/
#ifndef REMINDERS_DATES_H
#define REMINDERS_DATES_H

#include <rapport/envelope.h>
#include <rapport/store.h>

#define DATES_DB   "dates"
#define DATES_LEAD "P3D"

//  The zone of an owner who set none (reminders/time_zone): set once at
//  start, before anything is applied; the same on every instance.
void dates_set_zone(const char *zone);

//  After a customer.* event at seq (its outcome already recorded): the
//  dates of the customers it touched, again; after a user.preferences_set,
//  those of the user's customers (their zone); after a rule.created,
//  updated or deleted, every customer's with dates (a date rule's lead
//  time). 0 or an LMDB error.
int dates_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

void dates_test(void);

#endif
