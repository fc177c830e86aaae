/*  idem.c — idempotency keys of journal appends (see idem.h).  */
#include "idem.h"

#include <rapport/log.h>
#include <rapport/pack.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Decode a stored record; false if it is not one we wrote.
static bool s_decode(const MDB_val *value, uint64_t *first, uint64_t *count, uint64_t *at)
{
    rp_doc_t *doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    if (!doc)
        return false;
    const msgpack_object *root = rp_doc_root(doc);
    const msgpack_object *seqs = rp_obj_get(root, "seqs");
    bool ok = rp_obj_u64(rp_obj_get(root, "at"), at) && rp_obj_is_array(seqs) &&
              seqs->via.array.size > 0 && rp_obj_u64(&seqs->via.array.ptr[0], first);
    //  The seqs of one append are contiguous; anything else is not ours.
    for (uint32_t i = 1; ok && i < seqs->via.array.size; i++) {
        uint64_t seq;
        ok = rp_obj_u64(&seqs->via.array.ptr[i], &seq) && seq == *first + i;
    }
    if (ok)
        *count = seqs->via.array.size;
    rp_doc_destroy(&doc);
    return ok;
}

static bool s_get(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len, uint64_t *first,
                  uint64_t *count, uint64_t *at)
{
    MDB_val k = {key_len, (void *)key}, v;
    if (key_len == 0 || key_len > IDEM_MAX_KEY || mdb_get(txn, rp_store_dbi(store, "idem"), &k, &v))
        return false;
    if (s_decode(&v, first, count, at))
        return true;
    rp_warn("journal: unreadable idempotency record (%zu bytes), ignored", v.mv_size);
    return false;
}

bool idem_lookup(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len, uint64_t now,
                 uint64_t window_s, uint64_t *first, uint64_t *count)
{
    uint64_t at;
    if (!s_get(store, txn, key, key_len, first, count, &at))
        return false;
    return at + window_s >= now;
}

static void s_expiry_key(uint8_t *out, uint64_t at, const char *key, size_t key_len)
{
    rp_seq_put(out, at);
    memcpy(out + 8, key, key_len);
}

int idem_put(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len, uint64_t first,
             uint64_t count, uint64_t now)
{
    if (key_len == 0 || key_len > IDEM_MAX_KEY)
        return 0; //  not recorded: such keys never match either
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "seqs");
    msgpack_pack_array(&packer.pk, count);
    for (uint64_t i = 0; i < count; i++)
        msgpack_pack_uint64(&packer.pk, first + i);
    rp_pack_kv_u64(&packer.pk, "at", now);
    MDB_val k = {key_len, (void *)key}, v = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(txn, rp_store_dbi(store, "idem"), &k, &v, 0);
    rp_packer_destroy(&packer);
    if (rc)
        return rc;
    uint8_t ekey[8 + IDEM_MAX_KEY];
    s_expiry_key(ekey, now, key, key_len);
    MDB_val ek = {8 + key_len, ekey}, ev = {0, ""};
    return mdb_put(txn, rp_store_dbi(store, "idem_expiry"), &ek, &ev, 0);
}

int idem_purge(rp_store_t *store, MDB_txn *txn, uint64_t now, uint64_t window_s, size_t max,
               size_t *purged)
{
    *purged = 0;
    if (now <= window_s)
        return 0;
    uint64_t horizon = now - window_s; //  records at or after it still count
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "idem_expiry"), &cursor);
    if (rc)
        return rc;
    MDB_val k, v;
    while (*purged < max && (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST)) == 0) {
        if (k.mv_size < 8 || rp_seq_get(k.mv_data) >= horizon)
            break;
        //  A key re-recorded after it expired has a newer record: keep that.
        uint64_t at = rp_seq_get(k.mv_data), first, count, stored_at;
        char key[IDEM_MAX_KEY];
        size_t key_len = k.mv_size - 8 > IDEM_MAX_KEY ? IDEM_MAX_KEY : k.mv_size - 8;
        memcpy(key, (const char *)k.mv_data + 8, key_len); //  stable across the deletes
        if (s_get(store, txn, key, key_len, &first, &count, &stored_at) && stored_at == at) {
            MDB_val ik = {key_len, (void *)key};
            rc = mdb_del(txn, rp_store_dbi(store, "idem"), &ik, NULL);
            if (rc)
                break;
        }
        rc = mdb_cursor_del(cursor, 0);
        if (rc)
            break;
        (*purged)++;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  Self-test

typedef struct {
    const char *key;
    uint64_t first, count, now;
    size_t purged;
    bool found;
} idem_case_t;

static int s_test_put(rp_store_t *store, MDB_txn *txn, void *arg)
{
    idem_case_t *c = arg;
    return idem_put(store, txn, c->key, strlen(c->key), c->first, c->count, c->now);
}

static int s_test_lookup(rp_store_t *store, MDB_txn *txn, void *arg)
{
    idem_case_t *c = arg;
    c->found = idem_lookup(store, txn, c->key, strlen(c->key), c->now, 100, &c->first, &c->count);
    return 0;
}

static int s_test_purge(rp_store_t *store, MDB_txn *txn, void *arg)
{
    idem_case_t *c = arg;
    return idem_purge(store, txn, c->now, 100, 1, &c->purged);
}

//  The first seq recorded for key, or 0 if it does not count at now.
static uint64_t s_test_first(rp_store_t *store, const char *key, uint64_t now)
{
    idem_case_t c = {key, 0, 0, now, 0, false};
    rp_store_read(store, s_test_lookup, &c);
    return c.found ? c.first : 0;
}

void idem_test(void)
{
    char dir[] = "/tmp/rp-idem-XXXXXX";
    assert(mkdtemp(dir));
    const char *dbs[] = {IDEM_DBS, NULL};
    rp_store_t *store = rp_store_new(dir, dbs);
    assert(store);
    idem_case_t put = {"k1", 10, 3, 1000, 0, false};
    int rc = rp_store_write(store, s_test_put, &put);
    assert(rc == 0);
    put = (idem_case_t){"k2", 20, 1, 1050, 0, false};
    rc = rp_store_write(store, s_test_put, &put);
    assert(rc == 0);
    uint64_t first = s_test_first(store, "k1", 1100);
    assert(first == 10);
    first = s_test_first(store, "k1", 1101); //  past the window
    assert(first == 0);
    first = s_test_first(store, "k3", 1000);
    assert(first == 0);

    //  k1 expired and was recorded again: purging its old entry keeps it.
    put = (idem_case_t){"k1", 30, 1, 1200, 0, false};
    rc = rp_store_write(store, s_test_put, &put);
    assert(rc == 0);
    idem_case_t purge = {NULL, 0, 0, 1200, 0, false};
    rc = rp_store_write(store, s_test_purge, &purge); //  one at a time
    assert(rc == 0 && purge.purged == 1);
    first = s_test_first(store, "k1", 1200);
    assert(first == 30);
    rc = rp_store_write(store, s_test_purge, &purge);
    assert(rc == 0 && purge.purged == 1);
    first = s_test_first(store, "k2", 1100); //  purged
    assert(first == 0);
    rc = rp_store_write(store, s_test_purge, &purge);
    assert(rc == 0 && purge.purged == 0);
    first = s_test_first(store, "k1", 1200);
    assert(first == 30);
    rp_store_destroy(&store);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    rc = system(cmd);
    assert(rc == 0);
}
