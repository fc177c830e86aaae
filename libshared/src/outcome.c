/*  outcome.c — apply's outcomes, kept while a retry can ask (outcome.h).  */
#include <rapport/outcome.h>
#include <rapport/pack.h>

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OUTCOME_MARK   0xc1 //  never used by MessagePack
#define OUTCOME_HEADER 9    //  the mark and the time

//  Does the value start with a stamp (else it is a bare map)?
static bool s_stamped(const MDB_val *value)
{
    return value->mv_size >= OUTCOME_HEADER && ((const uint8_t *)value->mv_data)[0] == OUTCOME_MARK;
}

//  The time an outcome was stamped with; 0 (old) for a bare map.
static uint64_t s_stamp(const MDB_val *value)
{
    return s_stamped(value) ? rp_seq_get((const uint8_t *)value->mv_data + 1) : 0;
}

//  Delete up to max of the oldest outcomes that are at least keep_seqs
//  behind seq and keep_s older than now; stop at the first one that is not.
static int s_purge(rp_store_t *store, MDB_txn *txn, uint64_t seq, uint64_t now, uint64_t keep_s,
                   uint64_t keep_seqs, int max)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, RP_OUTCOME_DB), &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    for (int i = 0; i < max; i++) {
        rc = mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
        if (rc || key.mv_size != 8)
            break;
        uint64_t old = rp_seq_get((const uint8_t *)key.mv_data);
        if (old + keep_seqs > seq || s_stamp(&value) + keep_s > now)
            break;
        rc = mdb_cursor_del(cursor, 0);
        if (rc)
            break;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  The event's time in Unix seconds; 0 if it has none that reads (or one
//  before 1970).
static uint64_t s_event_time(const rp_event_t *event)
{
    int64_t ms;
    if (!event->time || !rp_time_parse(event->time, event->time_len, &ms) || ms < 0)
        return 0;
    return (uint64_t)ms / 1000;
}

static int s_put(rp_store_t *store, MDB_txn *txn, uint64_t seq, uint64_t now, const void *map,
                 size_t size)
{
    uint8_t key[8];
    rp_seq_put(key, seq);
    MDB_val k = {8, key}, v = {OUTCOME_HEADER + size, NULL};
    //  Reserve the value and write it in place: no copy of the map.
    int rc = mdb_put(txn, rp_store_dbi(store, RP_OUTCOME_DB), &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    uint8_t *out = (uint8_t *)v.mv_data;
    out[0] = OUTCOME_MARK;
    rp_seq_put(out + 1, now);
    memcpy(out + OUTCOME_HEADER, map, size);
    return 0;
}

int rp_outcome_put(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                   const void *map, size_t size)
{
    uint64_t now = s_event_time(event);
    int rc = s_put(store, txn, seq, now, map, size);
    if (rc == 0 && now && seq % RP_OUTCOME_PURGE_EVERY == 0)
        rc = s_purge(store, txn, seq, now, RP_OUTCOME_KEEP_S, RP_OUTCOME_KEEP_SEQS,
                     RP_OUTCOME_PURGE_MAX);
    return rc;
}

int rp_outcome_get(rp_store_t *store, MDB_txn *txn, uint64_t seq, MDB_val *value)
{
    uint8_t key[8];
    rp_seq_put(key, seq);
    MDB_val k = {8, key};
    int rc = mdb_get(txn, rp_store_dbi(store, RP_OUTCOME_DB), &k, value);
    if (rc == 0 && s_stamped(value)) {
        value->mv_data = (uint8_t *)value->mv_data + OUTCOME_HEADER;
        value->mv_size -= OUTCOME_HEADER;
    }
    return rc;
}

int rp_outcome_status(rp_store_t *store, MDB_txn *txn, uint64_t seq, char *code, size_t code_size)
{
    MDB_val value;
    code[0] = 0;
    if (rp_outcome_get(store, txn, seq, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    uint64_t status = 500; //  an outcome that does not decode: the service's error
    const char *str;
    size_t len;
    if (doc) {
        rp_obj_u64(rp_obj_get(rp_doc_root(doc), "status"), &status);
        if (rp_obj_str(rp_obj_get(rp_doc_root(doc), "code"), &str, &len))
            snprintf(code, code_size, "%.*s", (int)len, str);
    }
    rp_doc_destroy(&doc);
    return status > 999 ? 500 : (int)status;
}

//  ---------------------------------------------------------------------
//  Self-test

typedef struct {
    uint64_t seq;
    const char *time; //  the event's; NULL for none
    const char *map;  //  packed bytes to record; NULL: a bare map put directly
} test_put_t;

static int s_test_put(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_put_t *put = (const test_put_t *)arg;
    rp_event_t event;
    memset(&event, 0, sizeof event);
    event.time = put->time;
    event.time_len = put->time ? strlen(put->time) : 0;
    if (put->map)
        return rp_outcome_put(store, txn, put->seq, &event, put->map, strlen(put->map));
    //  As a store from before stamps holds it: the map alone.
    uint8_t key[8];
    rp_seq_put(key, put->seq);
    MDB_val k = {8, key}, v = {1, "\x80"};
    return mdb_put(txn, rp_store_dbi(store, RP_OUTCOME_DB), &k, &v, 0);
}

static void s_test_record(rp_store_t *store, uint64_t seq, const char *time, const char *map)
{
    test_put_t put = {seq, time, map};
    assert(rp_store_write(store, s_test_put, &put) == 0);
}

typedef struct {
    uint64_t seq;
    int rc;
    char map[64];
} test_get_t;

static int s_test_get(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_get_t *get = (test_get_t *)arg;
    MDB_val value;
    get->rc = rp_outcome_get(store, txn, get->seq, &value);
    if (get->rc == 0)
        snprintf(get->map, sizeof get->map, "%.*s", (int)value.mv_size, (char *)value.mv_data);
    return 0;
}

static int s_test_get_rc(rp_store_t *store, uint64_t seq, char map[64])
{
    test_get_t get = {seq, 0, ""};
    rp_store_read(store, s_test_get, &get);
    if (map)
        memcpy(map, get.map, sizeof get.map);
    return get.rc;
}

typedef struct {
    uint64_t seq, now, keep_s, keep_seqs;
    int max;
} test_purge_t;

static int s_test_purge(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_purge_t *p = (const test_purge_t *)arg;
    return s_purge(store, txn, p->seq, p->now, p->keep_s, p->keep_seqs, p->max);
}

//  How many outcomes the store holds.
static int s_test_count_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_stat stat;
    assert(mdb_stat(txn, rp_store_dbi(store, RP_OUTCOME_DB), &stat) == 0);
    *(size_t *)arg = stat.ms_entries;
    return 0;
}

static size_t s_test_count(rp_store_t *store)
{
    size_t count = 0;
    rp_store_read(store, s_test_count_read, &count);
    return count;
}

static int s_test_status(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    char code[8];
    assert(rp_outcome_status(store, txn, 5001, code, sizeof code) == 422 && strcmp(code, "x") == 0);
    assert(rp_outcome_status(store, txn, 5002, code, sizeof code) == 200 && code[0] == 0);
    assert(rp_outcome_status(store, txn, 5003, code, sizeof code) == 0);
    return 0;
}

void rp_outcome_test(void)
{
    char dir[] = "/tmp/rp-outcome-XXXXXX";
    assert(mkdtemp(dir));
    const char *dbs[] = {RP_OUTCOME_DB, NULL};
    rp_store_t *store = rp_store_new(dir, dbs);
    assert(store);

    //  What is put is what is read; a seq never recorded is not found.
    char map[64];
    s_test_record(store, 1, "2026-11-01T00:00:00Z", "first");
    assert(s_test_get_rc(store, 1, map) == 0 && strcmp(map, "first") == 0);
    assert(s_test_get_rc(store, 2, NULL) == MDB_NOTFOUND);
    //  A bare map from an older store reads as it is.
    s_test_record(store, 2, NULL, NULL);
    assert(s_test_get_rc(store, 2, map) == 0 && strcmp(map, "\x80") == 0);

    //  Seqs 3..10 a day apart from Nov 2 on; then purge by both rules with
    //  small bounds: keep 3 days and 4 seqs.
    for (uint64_t seq = 3; seq <= 10; seq++) {
        char time[32];
        snprintf(time, sizeof time, "2026-11-%02dT00:00:00Z", (int)seq - 1);
        s_test_record(store, seq, time, "x");
    }
    int64_t nov10_ms;
    assert(rp_time_parse("2026-11-10T00:00:00Z", 20, &nov10_ms));
    uint64_t nov10 = (uint64_t)nov10_ms / 1000;
    //  At seq 10 (Nov 10), the seq rule keeps 7..10: 1..6 may go, and the
    //  time rule lets go of what is 3 days old or older (up to Nov 7: seq 8).
    //  At most 2 at a time: 1 and 2 (the bare map counts as old).
    test_purge_t purge = {10, nov10, 3 * 86400, 4, 2};
    assert(rp_store_write(store, s_test_purge, &purge) == 0);
    assert(s_test_count(store) == 8);
    assert(s_test_get_rc(store, 1, NULL) == MDB_NOTFOUND);
    assert(s_test_get_rc(store, 2, NULL) == MDB_NOTFOUND);
    //  Then 3..6; the seq rule stops at 7 though Nov 6 is old enough.
    purge.max = 32;
    assert(rp_store_write(store, s_test_purge, &purge) == 0);
    assert(s_test_count(store) == 4);
    assert(s_test_get_rc(store, 6, NULL) == MDB_NOTFOUND);
    assert(s_test_get_rc(store, 7, NULL) == 0);
    //  Far later by seq, the time rule holds: seq 8 is Nov 7, just old
    //  enough; seq 9 (Nov 8) is not.
    purge.seq = 1000;
    assert(rp_store_write(store, s_test_purge, &purge) == 0);
    assert(s_test_count(store) == 2);
    assert(s_test_get_rc(store, 9, NULL) == 0 && s_test_get_rc(store, 10, NULL) == 0);

    //  rp_outcome_put purges by itself, with the real bounds, every
    //  RP_OUTCOME_PURGE_EVERY-th seq: an event of Nov 20, more than 8 days
    //  after seqs 9 and 10 (Nov 8 and 9) and RP_OUTCOME_KEEP_SEQS past them,
    //  takes both with it.
    uint64_t far = 10 + RP_OUTCOME_KEEP_SEQS;
    far += RP_OUTCOME_PURGE_EVERY - far % RP_OUTCOME_PURGE_EVERY;
    s_test_record(store, far - 1, "2026-11-20T00:00:00Z", "y"); //  not a purging seq
    assert(s_test_count(store) == 3);
    s_test_record(store, far, "2026-11-20T00:00:00Z", "z");
    assert(s_test_count(store) == 2);
    assert(s_test_get_rc(store, far - 1, map) == 0 && strcmp(map, "y") == 0);
    //  An event without a readable time purges nothing.
    s_test_record(store, far + RP_OUTCOME_KEEP_SEQS + RP_OUTCOME_PURGE_EVERY, "soon", "w");
    assert(s_test_count(store) == 3);

    //  Status and code, read back: {status: 422, code: "x"}; a map with a
    //  status alone has code ""; a seq with no outcome is 0.
    s_test_record(store, 5001, "2026-11-20T00:00:00Z",
                  "\x82\xa6status\xcd\x01\xa6\xa4"
                  "code\xa1x");
    s_test_record(store, 5002, "2026-11-20T00:00:00Z", "\x81\xa6status\xcc\xc8");
    assert(rp_store_read(store, s_test_status, NULL) == 0);

    rp_store_destroy(&store);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
