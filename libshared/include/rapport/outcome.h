/*  outcome.h — what apply decided for each event, kept while a retry can
    still ask for it.

    A writer answers a write with the outcome apply recorded for the
    write's last event (write.h). A retry with the same idempotency key gets
    the first append's seqs from the journal, hence the same outcome, for as
    long as the journal keeps the key: journal/idem_window_s, at most
    RP_IDEM_WINDOW_MAX_S (7 days). So no outcome need be kept forever, and a service store that kept
    every one would grow by one per event for nothing.

    Each outcome is stamped with its event's time, and every
    RP_OUTCOME_PURGE_EVERY-th seq the put also deletes up to
    RP_OUTCOME_PURGE_MAX of the oldest outcomes that are both
      - older than RP_OUTCOME_KEEP_S (8 days: the journal's longest window
        and a day for clocks) by the time of the event being applied, and
      - more than RP_OUTCOME_KEEP_SEQS seqs behind it,
    the second so that a writer whose clock runs days ahead cannot purge
    the outcomes of writes still being answered. Both rules read only the
    store and the event, so every instance purges alike (DESIGN.md §2: the
    same events in the same order give the same bytes). An event without a
    readable time purges nothing, and its outcome counts as old.

      "outcomes"  seq (8 B BE) → 0xc1, time (8 B BE, Unix seconds), then the
                  service's own MessagePack map

    0xc1 is a byte MessagePack never uses: a value without it is a bare map
    from a store written before outcomes had a time, read as it is and
    counted as old.
*/
#ifndef RAPPORT_OUTCOME_H
#define RAPPORT_OUTCOME_H

#include <rapport/envelope.h>
#include <rapport/store.h>

#define RP_OUTCOME_DB          "outcomes"
#define RP_IDEM_WINDOW_MAX_S   (7 * 24 * 3600) //  the journal's longest idem window
#define RP_OUTCOME_KEEP_S      (RP_IDEM_WINDOW_MAX_S + 24 * 3600)
#define RP_OUTCOME_KEEP_SEQS   100000
#define RP_OUTCOME_PURGE_EVERY 16 //  seqs
#define RP_OUTCOME_PURGE_MAX   32 //  outcomes per purge: twice the rate they come

//  Record the outcome of the event at seq (a packed map, size bytes) in the
//  store's RP_OUTCOME_DB, inside apply's write transaction, and purge as
//  above. Returns 0 or an MDB error.
int rp_outcome_put(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                   const void *map, size_t size);

//  The packed map recorded for seq (value points into the transaction's
//  pages). Returns 0, MDB_NOTFOUND, or another MDB error.
int rp_outcome_get(rp_store_t *store, MDB_txn *txn, uint64_t seq, MDB_val *value);

//  The status and code recorded for seq: 0 (NOT_FOUND: none recorded);
//  the code, cut to code_size - 1 bytes, is "" when the outcome has none.
int rp_outcome_status(rp_store_t *store, MDB_txn *txn, uint64_t seq, char *code, size_t code_size);

void rp_outcome_test(void);

#endif
