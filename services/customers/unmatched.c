/*  unmatched.c — see unmatched.h. */
#include "unmatched.h"
#include "activity.h"
#include "apply.h"
#include "order.h"
#include "timeline.h"

#include <assert.h>
#include <string.h>

void unmatched_id(char out[17], uint64_t seq)
{
    timeline_rest(out, seq);
}

int unmatched_put(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                  const char *reason)
{
    rp_packer_t entry;
    rp_packer_init(&entry);
    msgpack_packer *pk = &entry.pk;
    char id[17];
    unmatched_id(id, seq);
    msgpack_pack_map(pk, 12);
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_u64(pk, "seq", seq);
    rp_pack_cstr(pk, "type");
    rp_pack_strn(pk, event->type, event->type_len);
    rp_pack_cstr(pk, "source");
    rp_pack_strn(pk, event->source, event->source_len);
    rp_pack_cstr(pk, "event_id");
    rp_pack_strn(pk, event->id, event->id_len);
    rp_pack_cstr(pk, "time");
    event->time ? rp_pack_strn(pk, event->time, event->time_len) : msgpack_pack_nil(pk);
    rp_pack_kv_obj(pk, "reference", rp_obj_get(event->data, "customer"));
    rp_pack_kv_obj(pk, "order_no", rp_obj_get(event->data, "order_no"));
    rp_pack_kv_obj(pk, "amount", rp_obj_get(event->data, "amount"));
    rp_pack_kv_obj(pk, "currency", rp_obj_get(event->data, "currency"));
    rp_pack_kv_cstr(pk, "reason", reason);
    rp_pack_kv_obj(pk, "data", event->data);
    MDB_val key = {16, id}, value = {entry.buffer.size, entry.buffer.data};
    int rc = mdb_put(txn, rp_store_dbi(store, "unmatched"), &key, &value, 0);
    rp_packer_destroy(&entry);
    return rc;
}

int unmatched_del(rp_store_t *store, MDB_txn *txn, uint64_t seq)
{
    char id[17];
    unmatched_id(id, seq);
    MDB_val key = {16, id};
    int rc = mdb_del(txn, rp_store_dbi(store, "unmatched"), &key, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int unmatched_page(rp_store_t *store, MDB_txn *txn, const char *after, size_t after_len,
                   size_t limit, rp_packer_t *items, size_t *count, char next[17])
{
    *count = 0;
    next[0] = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "unmatched"), &cursor);
    if (rc)
        return rc;
    MDB_val k = {after_len, (void *)after}, v;
    rc = after ? mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE)
               : mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
    if (rc == 0 && after && k.mv_size == after_len && memcmp(k.mv_data, after, after_len) == 0)
        rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
    char last[17] = "";
    for (; rc == 0; rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (*count == limit) { //  another follows: continue after the last one given
            memcpy(next, last, 17);
            break;
        }
        msgpack_sbuffer_write(&items->buffer, v.mv_data, v.mv_size);
        (*count)++;
        size_t len = k.mv_size < 16 ? k.mv_size : 16;
        memcpy(last, k.mv_data, len);
        last[len] = 0;
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

size_t unmatched_count(rp_store_t *store, MDB_txn *txn)
{
    MDB_stat st;
    return mdb_stat(txn, rp_store_dbi(store, "unmatched"), &st) ? 0 : st.ms_entries;
}

bool unmatched_id_seq(const char *id, size_t len, uint64_t *seq)
{
    if (len != 16)
        return false;
    *seq = 0;
    for (size_t i = 0; i < 16; i++) {
        char c = id[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        *seq = *seq << 4 | (uint64_t)d;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  An admin's link

int unmatched_apply_matched(rp_apply_t *base)
{
    uint64_t seq;
    if (!rp_obj_u64(rp_obj_get(base->event->data, "unmatched"), &seq))
        return rp_apply_outcome(base, 422, "bad_event");
    char id[17];
    unmatched_id(id, seq);
    MDB_val value;
    int rc = rp_apply_get(base, "unmatched", id, 16, &value);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(base, 404, "not_found") : rc;
    customers_apply_held_t held;
    rc = customers_apply_hold(base->store, base->txn, base->id, base->id_len, &held);
    bool archived = rc == 0 && rp_record_bool(&held.record, CUSTOMER_ARCHIVED);
    customers_apply_release(&held);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(base, 404, "unknown_customer") : rc;
    if (archived)
        return rp_apply_outcome(base, 422, "archived");
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL); //  a copy: puts follow
    if (!doc)
        return -1;
    const msgpack_object *entry = rp_doc_root(doc), *data = rp_obj_get(entry, "data");
    const char *type = "";
    size_t type_len = 0;
    rp_obj_str(rp_obj_get(entry, "type"), &type, &type_len);
    base->unchanged = true; //  the entry the event leaves is the timeline's
    if (type_len == 15 && memcmp(type, "activity.logged", 15) == 0)
        rc = activity_apply_to(base->store, base->txn, base->seq, base->event, data, base->id,
                               base->id_len);
    else
        rc = order_apply_to(base->store, base->txn, base->seq, base->event, type, type_len, data,
                            base->id, base->id_len);
    if (rc == 0)
        rc = rp_apply_del(base, "unmatched", id, 16);
    rp_doc_destroy(&doc);
    return rc;
}

void unmatched_test(void)
{
    char id[17];
    uint64_t seq;
    unmatched_id(id, 0xc0ffee);
    assert(strcmp(id, "0000000000c0ffee") == 0);
    assert(unmatched_id_seq(id, 16, &seq) && seq == 0xc0ffee);
    assert(!unmatched_id_seq("0000000000C0FFEE", 16, &seq));
    assert(!unmatched_id_seq(id, 15, &seq));
    //  The queue itself is tested with the orders (order_test).
}
