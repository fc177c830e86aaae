/*  merge.c — see merge.h. */
#include "merge.h"
#include "order.h"
#include "activity.h"
#include "apply.h"
#include "contact.h"
#include "page.h"

#include <rapport/apply.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  from: 1..MERGE_MAX_FROM distinct ids, none of them id. NULL or a code.
static const char *s_merge_check(const msgpack_object *from, const char *id, size_t id_len)
{
    if (!rp_obj_is_array(from) || from->via.array.size == 0 ||
        from->via.array.size > MERGE_MAX_FROM)
        return "bad_event";
    for (uint32_t i = 0; i < from->via.array.size; i++) {
        const char *str;
        size_t len;
        if (!rp_obj_str(&from->via.array.ptr[i], &str, &len) || len == 0 || len > APPLY_MAX_ID)
            return "bad_event";
        if (len == id_len && memcmp(str, id, len) == 0)
            return "self_merge";
        for (uint32_t j = 0; j < i; j++)
            if (from->via.array.ptr[j].via.str.size == len &&
                memcmp(from->via.array.ptr[j].via.str.ptr, str, len) == 0)
                return "bad_event";
    }
    return NULL;
}

static bool s_merge_archived(const rp_record_t *record)
{
    bool archived = false;
    rp_obj_bool(&record->values[CUSTOMER_ARCHIVED], &archived);
    return archived;
}

//  Move one source's entries onto the target and archive it.
static int s_merge_source(rp_store_t *store, MDB_txn *txn, const rp_event_t *event,
                          customers_apply_held_t *source, const char *id, size_t id_len)
{
    const char *from;
    size_t from_len;
    rp_record_str(&source->record, CUSTOMER_ID, &from, &from_len);
    int rc = contact_move(store, txn, from, from_len, id, id_len, event->time ? event->time : "",
                          event->time ? event->time_len : 0);
    if (!rc)
        rc = activity_move(store, txn, from, from_len, id, id_len);
    if (!rc)
        rc = order_move(store, txn, from, from_len, id, id_len);
    if (rc)
        return rc;
    rp_record_set_bool(&source->record, CUSTOMER_ARCHIVED, true);
    rp_record_stamp(&source->record, event);
    return customers_apply_save(store, txn, &source->record, &source->record);
}

int merge_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                const char **code)
{
    *status = 200;
    *code = NULL;
    const char *id = NULL;
    size_t id_len = 0;
    rp_obj_str(rp_obj_get(event->data, "id"), &id, &id_len);
    const msgpack_object *from = rp_obj_get(event->data, "from");
    if ((*code = s_merge_check(from, id, id_len)) != NULL) {
        *status = 422;
        return 0;
    }
    uint32_t count = from->via.array.size, held = 0;
    customers_apply_held_t target, sources[MERGE_MAX_FROM];
    int rc = customers_apply_hold(store, txn, id, id_len, &target);
    for (; rc == 0 && held < count; held++) {
        const msgpack_object *source = &from->via.array.ptr[held];
        rc = customers_apply_hold(store, txn, source->via.str.ptr, source->via.str.size,
                                  &sources[held]);
        if (rc) {
            customers_apply_release(&sources[held]);
            break;
        }
    }
    if (rc == MDB_NOTFOUND) {
        *status = 404;
        *code = "not_found";
        rc = 0;
    } else if (rc == 0 && s_merge_archived(&target.record)) {
        *status = 422;
        *code = "archived";
    } else if (rc == 0) {
        //  The target was last contacted when any of them was.
        const char *latest = NULL, *last;
        size_t latest_len = 0, last_len;
        if (rp_record_str(&target.record, CUSTOMER_LAST_CONTACTED_AT, &last, &last_len)) {
            latest = last;
            latest_len = last_len;
        }
        for (uint32_t i = 0; rc == 0 && i < count; i++) {
            if (rp_record_str(&sources[i].record, CUSTOMER_LAST_CONTACTED_AT, &last, &last_len) &&
                (!latest || (last_len == latest_len && memcmp(last, latest, last_len) > 0))) {
                latest = last;
                latest_len = last_len;
            }
            rc = s_merge_source(store, txn, event, &sources[i], id, id_len);
        }
        if (rc == 0 && latest)
            rp_record_set_str(&target.record, CUSTOMER_LAST_CONTACTED_AT, latest, latest_len);
        rp_record_stamp(&target.record, event);
        if (rc == 0)
            rc = customers_apply_save(store, txn, &target.record, &target.record);
    }
    for (uint32_t i = 0; i < held && i < count; i++)
        customers_apply_release(&sources[i]);
    customers_apply_release(&target);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test

//  Apply (type, data packed by the caller) as event seq by user "ann";
//  returns the outcome's status.
typedef struct {
    uint64_t seq;
    uint64_t status;
    char code[32];
} merge_test_outcome_t;

static int s_merge_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    merge_test_outcome_t *o = (merge_test_outcome_t *)arg;
    MDB_val value;
    assert(rp_outcome_get(store, txn, o->seq, &value) == 0);
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    assert(rp_obj_u64(rp_obj_get(rp_doc_root(doc), "status"), &o->status));
    const char *code;
    size_t len;
    if (rp_obj_str(rp_obj_get(rp_doc_root(doc), "code"), &code, &len) && len < sizeof o->code)
        memcpy(o->code, code, len);
    rp_doc_destroy(&doc);
    return 0;
}

static merge_test_outcome_t s_merge_test_event(rp_store_t *store, uint64_t seq, const char *type,
                                               rp_packer_t *data)
{
    customers_apply_test_event(store, seq, type, "ann", data);
    merge_test_outcome_t o = {seq, 0, ""};
    rp_store_read(store, s_merge_test_outcome_read, &o);
    return o;
}

//  What a test looks at after the events: one customer, its contacts,
//  activities and timeline.
typedef struct {
    const char *id;
    char last_contacted[32], owner[16];
    uint64_t version;
    bool archived;
    size_t contacts, activities, timeline;
    char first_summary[200];
    bool name_li; //  a contact named 李…
} merge_test_view_t;

static bool s_merge_test_li(void *arg, const char *name, size_t len)
{
    (void)arg;
    return len >= 3 && memcmp(name, "李", 3) == 0;
}

static size_t s_merge_test_count(MDB_txn *txn, MDB_dbi dbi, const char *id, rp_packer_t *items,
                                 bool reverse)
{
    page_t page = {.owner = id, .owner_len = strlen(id), .reverse = reverse, .limit = 200};
    page.items = items;
    rp_packer_reset(items);
    assert(page_read(txn, dbi, &page) == 0);
    return page.count;
}

static int s_merge_test_view_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    merge_test_view_t *v = (merge_test_view_t *)arg;
    customers_apply_held_t held;
    assert(customers_apply_hold(store, txn, v->id, strlen(v->id), &held) == 0);
    const char *str;
    size_t len;
    if (rp_record_str(&held.record, CUSTOMER_LAST_CONTACTED_AT, &str, &len) && len < 32)
        memcpy(v->last_contacted, str, len);
    if (rp_record_str(&held.record, CUSTOMER_OWNER, &str, &len) && len < 16)
        memcpy(v->owner, str, len);
    v->version = rp_record_version(&held.record);
    rp_obj_bool(&held.record.values[CUSTOMER_ARCHIVED], &v->archived);
    customers_apply_release(&held);
    rp_packer_t items;
    rp_packer_init(&items);
    v->contacts = s_merge_test_count(txn, rp_store_dbi(store, "contacts"), v->id, &items, false);
    v->activities =
        s_merge_test_count(txn, rp_store_dbi(store, "activities"), v->id, &items, false);
    v->timeline = s_merge_test_count(txn, rp_store_dbi(store, "timeline"), v->id, &items, true);
    //  The newest entry's summary.
    if (v->timeline) {
        size_t offset = 0;
        msgpack_unpacked first;
        msgpack_unpacked_init(&first);
        assert(msgpack_unpack_next(&first, items.buffer.data, items.buffer.size, &offset) ==
               MSGPACK_UNPACK_SUCCESS);
        if (rp_obj_str(rp_obj_get(&first.data, "summary"), &str, &len) &&
            len < sizeof v->first_summary)
            memcpy(v->first_summary, str, len);
        msgpack_unpacked_destroy(&first);
    }
    rp_packer_destroy(&items);
    v->name_li = contact_name_any(store, txn, v->id, strlen(v->id), s_merge_test_li, NULL);
    return 0;
}

static merge_test_view_t s_merge_test_view(rp_store_t *store, const char *id)
{
    merge_test_view_t v;
    memset(&v, 0, sizeof v);
    v.id = id;
    rp_store_read(store, s_merge_test_view_read, &v);
    return v;
}

static int s_merge_test_contact_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const char **kv = (const char **)arg; //  {customer, contact, want customer_id or NULL}
    MDB_val value;
    int rc = contact_get(store, txn, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]), &value);
    if (!kv[2]) {
        assert(rc == MDB_NOTFOUND);
        return 0;
    }
    assert(rc == 0);
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc && rp_obj_streq(rp_obj_get(rp_doc_root(doc), "customer_id"), kv[2]));
    rp_doc_destroy(&doc);
    return 0;
}

static void s_merge_test_contact(rp_store_t *store, const char *customer, const char *contact,
                                 const char *want)
{
    const char *kv[3] = {customer, contact, want};
    rp_store_read(store, s_merge_test_contact_read, kv);
}

static void s_merge_test_created(rp_packer_t *data, const char *id, const char *name)
{
    msgpack_pack_map(&data->pk, 3);
    rp_pack_kv_cstr(&data->pk, "id", id);
    rp_pack_kv_bool(&data->pk, "allow_duplicate", true);
    rp_pack_cstr(&data->pk, "record");
    msgpack_pack_map(&data->pk, 3);
    rp_pack_kv_cstr(&data->pk, "name", name);
    rp_pack_kv_cstr(&data->pk, "owner", "ann");
    rp_pack_kv_cstr(&data->pk, "team", "east");
}

//  {id, contact_id, <key>: {name, phones?}} (key "contact" or "changes").
static void s_merge_test_contact_event(rp_packer_t *data, const char *id, const char *contact_id,
                                       const char *key, const char *name, int64_t expected)
{
    msgpack_pack_map(&data->pk, expected >= 0 ? 4 : 3);
    rp_pack_kv_cstr(&data->pk, "id", id);
    rp_pack_kv_cstr(&data->pk, "contact_id", contact_id);
    if (expected >= 0)
        rp_pack_kv_u64(&data->pk, "expected_version", (uint64_t)expected);
    rp_pack_cstr(&data->pk, key);
    msgpack_pack_map(&data->pk, 2);
    rp_pack_kv_cstr(&data->pk, strcmp(key, "changes") ? "name" : "title", name);
    rp_pack_cstr(&data->pk, "phones");
    msgpack_pack_array(&data->pk, 1);
    rp_pack_cstr(&data->pk, "+8613800138000");
}

static void s_merge_test_activity(rp_packer_t *data, const char *id, const char *activity_id,
                                  const char *kind, const char *at)
{
    msgpack_pack_map(&data->pk, 3);
    rp_pack_kv_cstr(&data->pk, "id", id);
    rp_pack_kv_cstr(&data->pk, "activity_id", activity_id);
    rp_pack_cstr(&data->pk, "activity");
    msgpack_pack_map(&data->pk, at ? 3 : 2);
    rp_pack_kv_cstr(&data->pk, "kind", kind);
    rp_pack_kv_cstr(&data->pk, "summary", "拜访\n讨论报价");
    if (at)
        rp_pack_kv_cstr(&data->pk, "at", at);
}

static void s_merge_test_merged(rp_packer_t *data, const char *id, const char *from)
{
    msgpack_pack_map(&data->pk, 2);
    rp_pack_kv_cstr(&data->pk, "id", id);
    rp_pack_cstr(&data->pk, "from");
    msgpack_pack_array(&data->pk, 1);
    rp_pack_cstr(&data->pk, from);
}

static void s_merge_test_journal(rp_store_t *store)
{
    rp_packer_t data;
    rp_packer_init(&data);
    s_merge_test_created(&data, "c1", "甲公司");
    assert(s_merge_test_event(store, 1, "customer.created", &data).status == 200);
    s_merge_test_created(&data, "c2", "乙公司");
    s_merge_test_event(store, 2, "customer.created", &data);
    s_merge_test_created(&data, "c3", "丙公司");
    s_merge_test_event(store, 3, "customer.created", &data);

    //  Contacts: added, updated with the right version, then a stale one.
    s_merge_test_contact_event(&data, "c1", "k1", "contact", "张伟", -1);
    assert(s_merge_test_event(store, 4, "customer.contact_added", &data).status == 200);
    s_merge_test_contact_event(&data, "c2", "k2", "contact", "李娜", -1);
    assert(s_merge_test_event(store, 5, "customer.contact_added", &data).status == 200);
    s_merge_test_contact_event(&data, "c1", "k1", "changes", "经理", 1);
    assert(s_merge_test_event(store, 6, "customer.contact_updated", &data).status == 200);
    s_merge_test_contact_event(&data, "c1", "k1", "changes", "总监", 1);
    merge_test_outcome_t o = s_merge_test_event(store, 7, "customer.contact_updated", &data);
    assert(o.status == 412 && strcmp(o.code, "version_mismatch") == 0);
    s_merge_test_contact_event(&data, "c1", "k1", "contact", "重复", -1);
    assert(s_merge_test_event(store, 8, "customer.contact_added", &data).status == 409);
    s_merge_test_contact_event(&data, "zz", "k3", "contact", "无", -1);
    assert(s_merge_test_event(store, 9, "customer.contact_added", &data).status == 404);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c2");
    rp_pack_kv_cstr(&data.pk, "contact_id", "k9");
    assert(s_merge_test_event(store, 10, "customer.contact_removed", &data).status == 404);

    //  Activities: a later one moves last_contacted_at, an earlier one not;
    //  without at, the event's time.
    s_merge_test_activity(&data, "c1", "a1", "visit", "2026-11-20T16:00:00+08:00");
    assert(s_merge_test_event(store, 11, "customer.activity_logged", &data).status == 200);
    s_merge_test_activity(&data, "c1", "a2", "note", "2026-01-01T00:00:00Z");
    assert(s_merge_test_event(store, 12, "customer.activity_logged", &data).status == 200);
    merge_test_view_t v = s_merge_test_view(store, "c1");
    assert(strcmp(v.last_contacted, "2026-11-20T08:00:00.000Z") == 0 && v.version == 1);
    s_merge_test_activity(&data, "c2", "a3", "call", NULL);
    assert(s_merge_test_event(store, 13, "customer.activity_logged", &data).status == 200);
    assert(strcmp(s_merge_test_view(store, "c2").last_contacted, "2026-11-23T08:00:13.000Z") == 0);
    s_merge_test_activity(&data, "c2", "a3", "call", NULL);
    assert(s_merge_test_event(store, 14, "customer.activity_logged", &data).status == 409);
    s_merge_test_activity(&data, "c2", "a4", "lunch", NULL);
    assert(s_merge_test_event(store, 15, "customer.activity_logged", &data).status == 422);

    //  Assignment: a new owner and version.
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_cstr(&data.pk, "owner", "bob");
    rp_pack_kv_cstr(&data.pk, "team", "west");
    assert(s_merge_test_event(store, 16, "customer.assigned", &data).status == 200);
    v = s_merge_test_view(store, "c1");
    assert(strcmp(v.owner, "bob") == 0 && v.version == 2);
    assert(strcmp(v.first_summary, "assigned to bob (team west)") == 0);

    //  Merge c2 into c1: its contact and activity move, it is archived, and
    //  c1 takes its later last_contacted_at.
    s_merge_test_merged(&data, "c1", "c2");
    assert(s_merge_test_event(store, 17, "customer.merged", &data).status == 200);
    v = s_merge_test_view(store, "c1");
    assert(v.contacts == 2 && v.activities == 3 && v.version == 3 && !v.archived && v.name_li);
    assert(strcmp(v.last_contacted, "2026-11-23T08:00:13.000Z") == 0);
    assert(strcmp(v.first_summary, "merged 1 customer into this one") == 0);
    //  c1: created, contact added, contact updated, 2 activities, assigned, merged.
    assert(v.timeline == 7);
    s_merge_test_contact(store, "c1", "k2", "c1");
    s_merge_test_contact(store, "c2", "k2", NULL);
    v = s_merge_test_view(store, "c2");
    assert(v.archived && v.contacts == 0 && v.activities == 0 && !v.name_li && v.version == 2);
    assert(strcmp(v.first_summary, "merged into c1") == 0 && v.timeline == 4);

    //  Refusals: into itself, into an archived customer, from a missing one.
    s_merge_test_merged(&data, "c1", "c1");
    o = s_merge_test_event(store, 18, "customer.merged", &data);
    assert(o.status == 422 && strcmp(o.code, "self_merge") == 0);
    s_merge_test_merged(&data, "c2", "c3");
    o = s_merge_test_event(store, 19, "customer.merged", &data);
    assert(o.status == 422 && strcmp(o.code, "archived") == 0);
    s_merge_test_merged(&data, "c1", "zz");
    assert(s_merge_test_event(store, 20, "customer.merged", &data).status == 404);
    assert(s_merge_test_view(store, "c3").version == 1);

    //  Archive with an expected version: stale is 412, right is 200;
    //  archiving again changes nothing and adds no timeline entry.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c3");
    rp_pack_kv_u64(&data.pk, "expected_version", 7);
    assert(s_merge_test_event(store, 21, "customer.archived", &data).status == 412);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c3");
    rp_pack_kv_u64(&data.pk, "expected_version", 1);
    assert(s_merge_test_event(store, 22, "customer.archived", &data).status == 200);
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "c3");
    assert(s_merge_test_event(store, 23, "customer.archived", &data).status == 200);
    v = s_merge_test_view(store, "c3");
    assert(v.archived && v.version == 2 && v.timeline == 2);

    //  Removing a contact with its version.
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_cstr(&data.pk, "contact_id", "k2");
    rp_pack_kv_u64(&data.pk, "expected_version", 2); //  1, then 2 on the move
    assert(s_merge_test_event(store, 24, "customer.contact_removed", &data).status == 200);
    s_merge_test_contact(store, "c1", "k2", NULL);
    v = s_merge_test_view(store, "c1");
    assert(v.contacts == 1 && !v.name_li && strcmp(v.first_summary, "contact removed") == 0);
    rp_packer_destroy(&data);
}

void merge_test(void)
{
    rp_apply_test_replay("merge", customers_apply_dbnames, s_merge_test_journal);
}
