/*  apply.h — the notifications store and the only code that changes it
    (DESIGN.md §2; docs/notifications.md § The inbox).

    The store holds the reminders fold whole (services/reminders/apply.h,
    which holds the opportunities', the customers' and the users' folds):
    a fired reminder's subject and assignee, an escalation, a customer's
    name, a deal's owner and stage, a lead's owner and a user's manager
    are the journal's, alike on every instance, however the reminder came
    to be (derived reminders — important dates, follow-ups — have no
    reminder.* events of their own: only that fold knows their subjects).

    After the fold has applied an event, inbox_derive (inbox.h) may give
    one person an entry (entry.h) from it. notification.* events go
    through the table of rp_apply_run: read, read_all, archived, purged.

    Databases besides the fold's:
      inbox         <user> NUL <seq 8 bytes BE> → the entry (entry.h)
      inbox_ids     entry id → its user
      inbox_unread  user → entries unread and not archived (8 bytes BE)
      inbox_time    <created ms 8 bytes BE> <seq 8 bytes BE> → the user
                    (the purge's order)
*/
#ifndef NOTIFICATIONS_APPLY_H
#define NOTIFICATIONS_APPLY_H

#include "entry.h"

#include <rapport/apply.h>
#include <rapport/envelope.h>
#include <rapport/store.h>

extern const char *const notifications_apply_dbnames[];

//  rp_service_def_t.apply: arg is unused.
int notifications_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event);

//  Store a new entry (its id, seq, created_at set; unread, version 1),
//  counted unread for its user. created_ms orders the purge. 0 or an
//  LMDB error.
int notifications_apply_put(rp_store_t *store, MDB_txn *txn, const entry_t *entry,
                            int64_t created_ms);

//  The stored entry id (len bytes) into *entry: 0, MDB_NOTFOUND, or an
//  LMDB error. An entry of another user than user (when not NULL) is
//  MDB_NOTFOUND.
int notifications_apply_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                            const char *user, size_t user_len, entry_t *entry);

//  The user's unread count.
uint64_t notifications_apply_unread(rp_store_t *store, MDB_txn *txn, const char *user, size_t len);

//  The key of the user's entry at seq in "inbox": its length (0 when the
//  user id is empty or too long).
size_t notifications_apply_key(const char *user, size_t len, uint64_t seq,
                               char out[ENTRY_MAX_ID + 9]);

//  One user's entries in seq order from from_seq on (backward: those
//  before from_seq, newest first): fn per entry with its stored bytes
//  (false stops the walk). 0 or an LMDB error.
typedef bool(notifications_walk_fn)(void *arg, const entry_t *entry, const void *bytes,
                                    size_t size);
int notifications_apply_walk(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                             uint64_t from_seq, bool backward, notifications_walk_fn *fn,
                             void *arg);

void notifications_apply_test(void);

#endif
