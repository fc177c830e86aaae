/*  query.h — the reminder reads that walk (docs/reminders.md § Lists):
    the list and a reminder's occurrences.

    reminders.list {assignee? ("me": the caller), state?, kind?,
    customer_id?, opportunity_id?, due_before?, due_after? (RFC 3339;
    due_at < before, ≥ after), overdue? (true: one-offs not done nor
    cancelled whose due_at is before now; false: the others), limit? (1..200, default 50), cursor?}
   → {items, next_cursor}: the reminders within the caller's read reach, in id order (ids are
   time-ordered, so oldest first); the cursor is the last id of the page.

    reminders.occurrences {id, from? (RFC 3339, default now), to?
    (default from + 366 days), limit? (1..1000, default 100)} → {items:
    [{at, fire_at: [..], fired}]}: the occurrences in [from, to], at and
    fire_at in RFC 3339 UTC (fire_at: at minus each remind_before), fired:
    whether one of its firings is recorded.

    reminders.agenda {from, to (RFC 3339, to - from ≤ 92 days), assignee?,
    kind?, customer_id?, opportunity_id?, limit? (1..1000, default 500)}
    → {items: [{at, reminder_id, subject, kind, assignee, customer_id,
    opportunity_id, all_day, state, fired, done}], next_cursor: null,
    truncated}: every occurrence in [from, to] of the reminders within the
    caller's read reach (series expanded, cancelled ones left out), in
    time order (ties by reminder id) — a calendar's view. truncated: more
    occurrences than limit were in the range (narrow it).
*/
#ifndef REMINDERS_QUERY_H
#define REMINDERS_QUERY_H

#include <rapport/record.h>
#include <rapport/service.h>
#include <rapport/store.h>

#define REMINDERS_LIST_MAX          200
#define REMINDERS_LIST_DEFAULT      50
#define REMINDERS_OCCURRENCES_MAX   1000
#define REMINDERS_OCCURRENCES_DEF   100
#define REMINDERS_OCCURRENCES_RANGE (366LL * 86400 * 1000)

void reminders_query_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
void reminders_query_occurrences(void *arg, rp_service_t *service, rp_origin_t *origin,
                                 const rp_request_t *req);

#define REMINDERS_AGENDA_MAX   1000
#define REMINDERS_AGENDA_DEF   500
#define REMINDERS_AGENDA_RANGE (92LL * 86400 * 1000)

void reminders_query_agenda(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req);

//  args[name], an RFC 3339 time, into *ms: false when absent, or (with an
//  error added at errors[*count]) when not a time.
bool reminders_query_time_arg(const rp_request_t *req, const char *name, int64_t *ms,
                              rp_field_error_t *errors, int *count);

//  fn for every stored reminder, in id order, with txn's fired_keys.
typedef void(reminders_each_fn)(void *arg, MDB_txn *txn, MDB_dbi fired, const rp_record_t *r,
                                const char *id, size_t id_len);
int reminders_query_each(rp_store_t *store, MDB_txn *txn, reminders_each_fn *fn, void *arg);

//  For each occurrence of reminder r (id) in [from, to], at most max of
//  them: fn with its time, whether a firing of it is recorded (fired, in
//  txn's fired_keys) and whether it is done (the reminder done, or the
//  occurrence within its done_through).
typedef void(reminders_occurrence_fn)(void *arg, int64_t at, const rp_record_t *r, const char *id,
                                      size_t id_len, bool fired, bool done);
void reminders_query_expand(MDB_txn *txn, MDB_dbi fired, const rp_record_t *r, const char *id,
                            size_t id_len, int64_t from, int64_t to, uint64_t max,
                            reminders_occurrence_fn *fn, void *arg);

void reminders_query_test(void);

#endif
