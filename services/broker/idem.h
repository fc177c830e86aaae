/*  idem.h — idempotency keys of journal appends, kept for a window.

    A request envelope's `idem` key maps to the seqs its append got, so a
    retried append gets the first answer instead of appending twice
    (docs/protocol.md § Journal). Keys live in the journal's LMDB, in the
    same transaction as the events they cover, so they survive restarts and
    never point at events that were not committed.

      "idem"        key → {seqs: [seq…], at: unix seconds}
      "idem_expiry" at (8 B BE) + key → "" (oldest first, for purging)

    A key older than the window no longer counts, and is purged a bounded
    number at a time by each write transaction.
*/
#ifndef RAPPORT_BROKER_IDEM_H
#define RAPPORT_BROKER_IDEM_H

#include <rapport/store.h>
#include <stdbool.h>

#define IDEM_DBS     "idem", "idem_expiry"
#define IDEM_MAX_KEY 400 //  bytes; LMDB keys are at most 511

//  Look key up: true if it was recorded within window_s seconds before now,
//  with the seqs of its append (first, count).
bool idem_lookup(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len, uint64_t now,
                 uint64_t window_s, uint64_t *first, uint64_t *count);

//  Record key → seqs first..first+count-1 at time now (in a write txn).
int idem_put(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len, uint64_t first,
             uint64_t count, uint64_t now);

//  Delete up to max keys recorded before now - window_s. Returns an MDB
//  error or 0; *purged counts the deleted keys.
int idem_purge(rp_store_t *store, MDB_txn *txn, uint64_t now, uint64_t window_s, size_t max,
               size_t *purged);

void idem_test(void);

#endif
