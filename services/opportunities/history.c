/*  history.c — see history.h. */
#include "history.h"
#include "apply.h"
#include "opportunity.h"

#include <czmq.h>
#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define HISTORY_KEY_MAX (OPPORTUNITIES_MAX_ID + 1 + 16)

static size_t s_key(char *out, const char *id, size_t len, uint64_t seq)
{
    memcpy(out, id, len);
    out[len] = 0;
    snprintf(out + len + 1, 17, "%016" PRIx64, seq);
    return len + 1 + 16;
}

int history_append(rp_apply_t *ctx, const rp_record_t *deal, const char *from, size_t from_len,
                   const msgpack_object *note)
{
    static const msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    const char *id;
    size_t id_len;
    if (!rp_record_str(deal, OPPORTUNITY_ID, &id, &id_len) || id_len > OPPORTUNITIES_MAX_ID)
        return 0; //  cannot happen: apply stamps the id first
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 10);
    rp_pack_kv_u64(&p.pk, "seq", ctx->seq);
    rp_pack_cstr(&p.pk, "at");
    rp_pack_strn(&p.pk, ctx->event->time ? ctx->event->time : "",
                 ctx->event->time ? ctx->event->time_len : 0);
    const msgpack_object *user = rp_obj_get(ctx->event->actor, "user");
    rp_pack_kv_obj(&p.pk, "actor", user && user->type == MSGPACK_OBJECT_STR ? user : &nil);
    rp_pack_cstr(&p.pk, "from");
    if (from)
        rp_pack_strn(&p.pk, from, from_len);
    else
        msgpack_pack_nil(&p.pk);
    rp_pack_kv_obj(&p.pk, "to", &deal->values[OPPORTUNITY_STAGE]);
    rp_pack_kv_obj(&p.pk, "amount", &deal->values[OPPORTUNITY_AMOUNT]);
    rp_pack_kv_obj(&p.pk, "currency", &deal->values[OPPORTUNITY_CURRENCY]);
    rp_pack_kv_obj(&p.pk, "probability", &deal->values[OPPORTUNITY_PROBABILITY]);
    rp_pack_kv_obj(&p.pk, "expected_close", &deal->values[OPPORTUNITY_EXPECTED_CLOSE]);
    rp_pack_kv_obj(&p.pk, "note", note && note->type == MSGPACK_OBJECT_STR ? note : &nil);
    char key[HISTORY_KEY_MAX];
    size_t key_len = s_key(key, id, id_len, ctx->seq);
    int rc = rp_apply_put(ctx, "history", key, key_len, p.buffer.data, p.buffer.size);
    rp_packer_destroy(&p);
    return rc;
}

static bool s_str_or_null(const msgpack_object *o, const char **str, size_t *len)
{
    if (rp_obj_str(o, str, len))
        return true;
    *str = NULL;
    *len = 0;
    return false;
}

//  One stored value into out (which owns the decoded doc); false, with
//  nothing to release, when it does not decode.
static bool s_decode(const MDB_val *value, history_entry_t *out)
{
    memset(out, 0, sizeof *out);
    out->doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    const msgpack_object *root = out->doc ? rp_doc_root(out->doc) : NULL;
    if (!rp_obj_is_map(root)) {
        rp_doc_destroy(&out->doc);
        return false;
    }
    rp_obj_u64(rp_obj_get(root, "seq"), &out->seq);
    s_str_or_null(rp_obj_get(root, "at"), &out->at, &out->at_len);
    s_str_or_null(rp_obj_get(root, "from"), &out->from, &out->from_len);
    s_str_or_null(rp_obj_get(root, "to"), &out->to, &out->to_len);
    s_str_or_null(rp_obj_get(root, "currency"), &out->currency, &out->currency_len);
    s_str_or_null(rp_obj_get(root, "expected_close"), &out->expected_close,
                  &out->expected_close_len);
    rp_obj_u64(rp_obj_get(root, "probability"), &out->probability);
    const msgpack_object *amount = rp_obj_get(root, "amount");
    out->amount = amount ? *amount : (msgpack_object){.type = MSGPACK_OBJECT_NIL};
    if (out->at && out->to)
        return true;
    rp_doc_destroy(&out->doc);
    return false;
}

void history_entry_release(history_entry_t *self)
{
    rp_doc_destroy(&self->doc);
}

//  Is the time at (at_len bytes) at or before until?
static bool s_not_after(const char *at, size_t at_len, const char *until, size_t until_len)
{
    size_t n = at_len < until_len ? at_len : until_len;
    int cmp = memcmp(at, until, n);
    return cmp < 0 || (cmp == 0 && at_len <= until_len);
}

int history_each(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, history_visit_fn *fn,
                 void *arg)
{
    if (len == 0 || len > OPPORTUNITIES_MAX_ID)
        return 0;
    char prefix[OPPORTUNITIES_MAX_ID + 1];
    memcpy(prefix, id, len);
    prefix[len] = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc)
        return rc;
    MDB_val k = {len + 1, prefix}, v;
    bool go = true;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         go && rc == 0 && k.mv_size > len + 1 && memcmp(k.mv_data, prefix, len + 1) == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        history_entry_t entry;
        if (s_decode(&v, &entry)) {
            go = fn(arg, &entry);
            history_entry_release(&entry);
        }
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

bool history_as_of(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, const char *until,
                   history_entry_t *out)
{
    if (len == 0 || len > OPPORTUNITIES_MAX_ID)
        return false;
    char prefix[OPPORTUNITIES_MAX_ID + 1];
    memcpy(prefix, id, len);
    prefix[len] = 0;
    MDB_cursor *c;
    if (mdb_cursor_open(txn, dbi, &c))
        return false;
    size_t until_len = strlen(until);
    MDB_val k = {len + 1, prefix}, v, best = {0, NULL};
    for (int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > len + 1 && memcmp(k.mv_data, prefix, len + 1) == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        history_entry_t entry;
        if (!s_decode(&v, &entry))
            continue;
        bool before = s_not_after(entry.at, entry.at_len, until, until_len);
        history_entry_release(&entry);
        if (!before)
            break; //  entries are in journal order, hence in time order
        best = v;
    }
    bool found = best.mv_data && s_decode(&best, out);
    mdb_cursor_close(c);
    return found;
}

//  ---------------------------------------------------------------------
//  Self-test: entries appended by a fake apply context, read back in
//  order, and as of a time.

static bool s_test_count(void *arg, const history_entry_t *entry)
{
    size_t *count = (size_t *)arg;
    assert(entry->seq == 10 + *count);
    (*count)++;
    return true;
}

typedef struct {
    rp_store_t *store;
} test_t;

static int s_test_write(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    static const char *const times[] = {"2026-11-20T08:00:00.000Z", "2026-11-21T08:00:00.000Z",
                                        "2026-11-23T08:00:00.000Z"};
    static const char *const stages[] = {"lead", "proposal", "won"};
    rp_record_t deal;
    opportunity_init(&deal);
    rp_record_set_str(&deal, OPPORTUNITY_ID, "d1", 2);
    rp_record_set_str(&deal, OPPORTUNITY_CURRENCY, "CNY", 3);
    for (int i = 0; i < 3; i++) {
        rp_packer_t actor;
        rp_packer_init(&actor);
        msgpack_pack_map(&actor.pk, 1);
        rp_pack_kv_cstr(&actor.pk, "user", "ann");
        rp_doc_t *doc = rp_doc_new(actor.buffer.data, actor.buffer.size, NULL);
        rp_event_t event = {.time = times[i], .time_len = 24, .actor = rp_doc_root(doc)};
        rp_apply_t ctx = {.store = store, .txn = txn, .seq = 10 + (uint64_t)i, .event = &event};
        rp_record_set_str(&deal, OPPORTUNITY_STAGE, stages[i], strlen(stages[i]));
        rp_record_set_u64(&deal, OPPORTUNITY_AMOUNT, 100 * (uint64_t)(i + 1));
        const char *from = i ? stages[i - 1] : NULL;
        assert(history_append(&ctx, &deal, from, from ? strlen(from) : 0, NULL) == 0);
        rp_doc_destroy(&doc);
        rp_packer_destroy(&actor);
    }
    rp_record_reset(&deal);
    return 0;
}

static int s_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    MDB_dbi dbi = rp_store_dbi(store, "history");
    size_t count = 0;
    assert(history_each(txn, dbi, "d1", 2, s_test_count, &count) == 0 && count == 3);
    count = 0;
    assert(history_each(txn, dbi, "d", 1, s_test_count, &count) == 0 && count == 0);
    history_entry_t e;
    assert(!history_as_of(txn, dbi, "d1", 2, "2026-11-19T23:59:59.999Z", &e));
    assert(history_as_of(txn, dbi, "d1", 2, "2026-11-21T23:59:59.999Z", &e));
    assert(e.seq == 11 && e.to_len == 8 && memcmp(e.to, "proposal", 8) == 0);
    assert(e.from_len == 4 && memcmp(e.from, "lead", 4) == 0);
    assert(e.amount.type == MSGPACK_OBJECT_POSITIVE_INTEGER && e.amount.via.u64 == 200);
    assert(e.currency_len == 3 && !e.expected_close);
    history_entry_release(&e);
    assert(history_as_of(txn, dbi, "d1", 2, "2026-11-21T08:00:00.000Z", &e) && e.seq == 11);
    history_entry_release(&e);
    assert(history_as_of(txn, dbi, "d1", 2, "2027-01-01T00:00:00.000Z", &e) && e.seq == 12);
    history_entry_release(&e);
    return 0;
}

void history_test(void)
{
    char dir[] = "/tmp/rp-history-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, opportunities_apply_dbnames);
    assert(store);
    assert(rp_store_write(store, s_test_write, NULL) == 0);
    assert(rp_store_read(store, s_test_read, NULL) == 0);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}
