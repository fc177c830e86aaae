/*  apply.h — the users store and the only code that changes it
    (DESIGN.md §2): user.* events folded in journal order.

    Databases:
      users      id → the record (MessagePack map, user.h; never the key)
      emails     e-mail → id        (active users only: unique among them)
      keys       key hash → id      (active users' current keys)
      user_keys  id → key hash      (the same, the other way round)
      preferences id → the user's settings (preferences.h)
      outcomes   seq (8 bytes BE) → {status, id, code?, details?, key_hash?}
      meta       applied cursor

    A refused event (an e-mail taken, a stale version, a revoked or missing
    user, a manager who is not one) does not stop the service: apply records
    it as the event's outcome, and the writer reads it back by seq and
    answers with it. An idempotent retry gets the first append's seq, so it
    gets the first answer too. The outcome of user.created and
    user.key_rotated carries the key hash that took effect, so the writer can
    tell whether the key it generated for this request is the one in force
    (a retry's fresh key is not: it never reached the journal).
*/
#ifndef USERS_APPLY_H
#define USERS_APPLY_H

#include "user.h"

#include <rapport/envelope.h>
#include <rapport/store.h>

extern const char *const users_apply_dbnames[];

//  rp_service_def_t.apply: arg is unused.
int users_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                      const rp_event_t *event);

//  The stored record of id, as raw MessagePack valid until txn ends
//  (outcomes: rp_outcome_get, rapport/outcome.h). 0, MDB_NOTFOUND or an LMDB error.
int users_apply_record_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                           MDB_val *value);

//  The active user holding an e-mail (normalized) / a key hash. 0 or
//  MDB_NOTFOUND.
int users_apply_email_get(rp_store_t *store, MDB_txn *txn, const char *email, size_t len,
                          MDB_val *id);
int users_apply_key_get(rp_store_t *store, MDB_txn *txn, const char *hash, size_t len, MDB_val *id);

//  May manager_id be the manager of user self_id (self_id NULL on create)?
//  NULL if it names another active user with role manager or admin, else
//  the error code: "self", "not_found" or "not_manager".
const char *users_apply_manager_check(rp_store_t *store, MDB_txn *txn, const char *manager_id,
                                      size_t len, const char *self_id, size_t self_len);

void users_apply_test(void);

#endif
