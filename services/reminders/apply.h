/*  apply.h — the reminders store and the only code that changes it
    (DESIGN.md §2; docs/reminders.md § Events, § The clock).

    Databases (besides the opportunities fold's, OPPORTUNITIES_APPLY_DBNAMES,
    which hold the customers', the users' and the outcomes):
      reminders   reminder id → the reminder (MessagePack map, reminder.h)
      due         the agenda: <fire ms 8 bytes BE> <key> → reminder id,
                  each reminder's next firing only
      agenda_of   reminder id → its due key (to move it)
      fired_keys  a firing's key → the seq of the reminder.fired that
                  recorded it

    opportunity.*, customer.*, user.*, lead.captured, activity.logged and
    the integrators' order events are folded with those services' own
    applies (services/opportunities/apply.h, services/customers/apply.h),
    so owners, managers, contacts' birthdays, last contacts and stages here
    are the journal's, alike on every instance.
    reminder.* events go through the table of rp_apply_run: created,
    updated, deleted, snoozed, done and fired. After each one the
    reminder's agenda entry is recomputed (reminders_apply_next): the
    earliest firing not yet recorded in fired_keys, at or after the later
    of armed_at (a series: the time it was created or its time last
    changed) and the last firing recorded, of an occurrence after
    done_through; a snooze's entry instead while snoozed; none once done
    or cancelled.
*/
#ifndef REMINDERS_APPLY_H
#define REMINDERS_APPLY_H

#include "dates.h"
#include "rules.h"

#include "../opportunities/apply.h"

#include <rapport/apply.h>
#include <rapport/envelope.h>
#include <rapport/intl.h>
#include <rapport/record.h>
#include <rapport/store.h>

#define REMINDERS_MAX_ID 64

//  The whole store, for a service that folds reminder.* and rule.* with
//  this apply (the notifications service: docs/notifications.md).
#define REMINDERS_APPLY_DBNAMES                                                                    \
    OPPORTUNITIES_APPLY_DBNAMES, "reminders", "due", "agenda_of", "fired_keys", DATES_DB,          \
        RULES_DBNAMES

extern const char *const reminders_apply_dbnames[];

//  rp_service_def_t.apply: arg is unused.
int reminders_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                          const rp_event_t *event);

//  The next firing of reminder (id) as the agenda holds it: true with
//  *fire_ms and its key, false when it has none. Reads fired_keys in txn.
bool reminders_apply_next(rp_store_t *store, MDB_txn *txn, const rp_record_t *reminder,
                          const char *id, size_t id_len, int64_t *fire_ms, char *key);

//  The agenda in fire order (ties by key), the entries with fire ms ≤
//  until_ms, at most max of them: fn per entry (false stops the walk).
//  *count gets how many were given to fn. 0 or an LMDB error. (What the
//  writer's clock is to read, docs/reminders.md § The clock point 2.)
typedef bool(reminders_due_fn)(void *arg, int64_t fire_ms, const char *key, size_t key_len,
                               const char *id, size_t id_len);
int reminders_apply_due(rp_store_t *store, MDB_txn *txn, int64_t until_ms, size_t max,
                        reminders_due_fn *fn, void *arg, size_t *count);

//  What the users fold holds of a user: team, manager_id and preferred
//  time zone, each "" when none (or no such user).
typedef struct {
    char team[101];
    char manager[REMINDERS_MAX_ID + 1];
    char zone[RP_ZONE_MAX + 1];
} reminders_person_t;

void reminders_apply_person(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                            reminders_person_t *person);

//  Derived reminders — important dates, follow-ups (docs/reminders.md) —
//  are kept by apply itself, in the event's transaction, under ids every
//  instance derives alike (no reminder.* event of their own).
//
//  Put reminder id with the given fields of fields (a reminder record,
//  reminder.h, given[] set for the fields to take), as reminder.updated
//  does (a moved time arms it again; nothing given that differs: no new
//  version). A new one is created pending, armed from the event's time. A
//  closed one (done, cancelled: by its person, or by its deriver) stays
//  closed unless fields give state "pending": it then opens again, armed
//  from the event's time. Fields that make no series are logged and
//  change nothing. 0 or an LMDB error.
int reminders_apply_derive(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                           const char *id, size_t id_len, const rp_record_t *fields);

//  Close reminder id with state ("done", "cancelled"): its agenda entry
//  goes; one absent or closed already is left. 0 or an LMDB error.
int reminders_apply_close(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                          const char *id, size_t id_len, const char *state);

void reminders_apply_test(void);

#endif
