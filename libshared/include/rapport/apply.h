/*  apply.h — one skeleton for every service's apply (DESIGN.md §2), and
    one self-test harness for it.

    A service's apply is a table {event type → fn} over an apply context
    rp_apply_t (store, txn, seq, event, the data's id, the outcome), and
    rp_apply_run does what is the same in every service:
      - an event without the service's type prefix is not its own: ignored
        (no outcome);
      - an event without a data.id of 1..max_id bytes is ignored with a
        log line (no outcome: nobody can have asked for it);
      - a type of the prefix that is not in the table is the outcome 422
        "unknown_type";
      - the row's fn changes the store and sets the outcome (status 200
        unless it says otherwise, rp_apply_outcome); a business conflict
        is an outcome, never an error: an error (nonzero) stops the
        service, and nothing is recorded;
      - the def's finish hook, if any, runs after a fn that returned 0
        (customers leaves its timeline entry there, users its details);
      - the outcome {status, id, code?, details?, extra pairs…} is recorded
        under seq (rp_outcome_put, rapport/outcome.h), where the writer
        reads it back to answer.

    A service keeps its own per-event state in a struct whose first member
    is the rp_apply_t, so a row's fn casts the context back to it.

    The self-test harness replays one journal (a function that applies a
    list of events to a store) into two fresh stores and asserts they end
    byte for byte the same: apply is a pure function of the store and the
    events.
*/
#ifndef RAPPORT_APPLY_H
#define RAPPORT_APPLY_H

#include <rapport/envelope.h>
#include <rapport/pack.h>
#include <rapport/service.h>
#include <rapport/store.h>

typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    const char *id; //  data.id, 1..max_id bytes (borrowed from the event)
    size_t id_len;
    //  The outcome
    int status;          //  200 unless a fn says otherwise
    const char *code;    //  NULL on success
    bool unchanged;      //  applied, but nothing changed (no new version)
    rp_packer_t details; //  the value under "details", packed; empty: none
    rp_packer_t extra;   //  more key/value pairs for the outcome map, packed
    size_t extra_pairs;
} rp_apply_t;

//  A row's fn, and the finish hook: 0, or an error that stops the service.
typedef int(rp_apply_fn)(rp_apply_t *self);

typedef struct {
    const char *type; //  "customer.created"
    rp_apply_fn *fn;
} rp_apply_type_t;

typedef struct {
    const char *service;          //  "customers", for log lines
    const char *prefix;           //  "customer.": the types this apply owns
    size_t max_id;                //  the longest data.id
    const rp_apply_type_t *types; //  {NULL}-terminated
    rp_apply_fn *finish;          //  optional
} rp_apply_def_t;

//  Apply one event with def into self (zeroed by the caller, or the
//  first member of the caller's zeroed struct), as above. Returns 0 or
//  the error that stops the service.
int rp_apply_run(const rp_apply_def_t *def, rp_apply_t *self, rp_store_t *store, MDB_txn *txn,
                 uint64_t seq, const rp_event_t *event);

//  Set the outcome; returns 0, so a fn can end with it.
int rp_apply_outcome(rp_apply_t *self, int status, const char *code);

//  The store, in the event's transaction: get (0, MDB_NOTFOUND for an
//  empty key or one over LMDB's 511 bytes, or an error), put, and del
//  (a key already absent is 0).
int rp_apply_get(rp_apply_t *self, const char *db, const char *key, size_t len, MDB_val *value);
int rp_apply_put(rp_apply_t *self, const char *db, const char *key, size_t len, const void *data,
                 size_t size);
int rp_apply_del(rp_apply_t *self, const char *db, const char *key, size_t len);

//  ---------------------------------------------------------------------
//  Self-test support

//  Apply the event {type, id: "test", source, time, actor: {user}?, data}
//  at seq with apply (arg NULL) and move the store's cursor, in one write
//  transaction; data (packed by the caller) is reset. The time is
//  2026-11-23T08:00:SS.000Z with SS = seq mod 60.
void rp_apply_test_event(rp_store_t *store, rp_service_apply_fn *apply, uint64_t seq,
                         const char *type, const char *source, const char *user, rp_packer_t *data);

//  Run journal on two fresh stores with dbnames (in /tmp/rp-<name>-…,
//  removed after) and assert their databases end byte for byte the same.
void rp_apply_test_replay(const char *name, const char *const *dbnames,
                          void (*journal)(rp_store_t *store));

void rp_apply_test(void);

#endif
