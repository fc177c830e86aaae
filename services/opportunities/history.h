/*  history.h — a deal's history (docs/opportunities.md § History): one
    entry per change of stage, amount, currency, probability or expected
    close date, written by the apply of the event that made the change.

    Stored in the `history` database under "<deal id> NUL <seq as 16 hex
    digits>", so a deal's entries are adjacent and in journal order; the
    value is the map {seq, at, actor, from, to, amount, currency,
    probability, expected_close, note}.
*/
#ifndef OPPORTUNITIES_HISTORY_H
#define OPPORTUNITIES_HISTORY_H

#include <rapport/apply.h>
#include <rapport/record.h>

//  One entry, decoded: its strings borrow from doc, which history_as_of
//  hands to the caller (free it with history_entry_release) and
//  history_each frees after each call.
typedef struct {
    rp_doc_t *doc;
    uint64_t seq;
    const char *at; //  RFC 3339 UTC with milliseconds
    size_t at_len;
    const char *from; //  NULL on creation
    size_t from_len;
    const char *to;
    size_t to_len;
    msgpack_object amount; //  nil or a number (a copy: numbers borrow nothing)
    const char *currency;
    size_t currency_len;
    uint64_t probability;
    const char *expected_close; //  NULL when none
    size_t expected_close_len;
} history_entry_t;

//  Append the entry for the deal record as it is after ctx's event (from:
//  the stage before, NULL on creation; note: NULL or a text). 0 or an
//  LMDB error.
int history_append(rp_apply_t *ctx, const rp_record_t *deal, const char *from, size_t from_len,
                   const msgpack_object *note);

//  Call fn for each entry of deal id in order (stop by returning false).
//  0 or an LMDB error.
typedef bool(history_visit_fn)(void *arg, const history_entry_t *entry);
int history_each(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, history_visit_fn *fn,
                 void *arg);

//  The last entry of deal id with at ≤ until (a time of the same form,
//  compared as bytes): true and *out (release it), or false when the deal
//  had no entry by then (it did not exist yet).
bool history_as_of(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, const char *until,
                   history_entry_t *out);
void history_entry_release(history_entry_t *self);

void history_test(void);

#endif
