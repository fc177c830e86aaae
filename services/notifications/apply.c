/*  apply.c — the notifications store's fold: the reminders fold first,
    then the entry the event gives (inbox.h); notification.* through the
    table. */
#include "apply.h"
#include "inbox.h"

#include "../reminders/apply.h"

#include <rapport/outcome.h>
#include <rapport/testservice.h>

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const notifications_apply_dbnames[] = {
    REMINDERS_APPLY_DBNAMES, //  the records entries speak of (outcomes among them)
    "inbox",
    "inbox_ids",
    "inbox_unread",
    "inbox_time",
    NULL};

size_t notifications_apply_key(const char *user, size_t len, uint64_t seq,
                               char out[ENTRY_MAX_ID + 9])
{
    if (len == 0 || len > ENTRY_MAX_ID)
        return 0;
    memcpy(out, user, len);
    out[len] = 0;
    rp_seq_put((uint8_t *)out + len + 1, seq);
    return len + 9;
}

static MDB_dbi s_dbi(rp_store_t *store, const char *name)
{
    return rp_store_dbi(store, name);
}

uint64_t notifications_apply_unread(rp_store_t *store, MDB_txn *txn, const char *user, size_t len)
{
    MDB_val k = {len, (void *)user}, v;
    if (len == 0 || len > ENTRY_MAX_ID || mdb_get(txn, s_dbi(store, "inbox_unread"), &k, &v) ||
        v.mv_size != 8)
        return 0;
    return rp_seq_get(v.mv_data);
}

static int s_unread_add(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                        int64_t delta)
{
    int64_t count = (int64_t)notifications_apply_unread(store, txn, user, len) + delta;
    MDB_val k = {len, (void *)user};
    if (count <= 0) {
        int rc = mdb_del(txn, s_dbi(store, "inbox_unread"), &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    uint8_t bytes[8];
    rp_seq_put(bytes, (uint64_t)count);
    MDB_val v = {8, bytes};
    return mdb_put(txn, s_dbi(store, "inbox_unread"), &k, &v, 0);
}

static int s_store(rp_store_t *store, MDB_txn *txn, const entry_t *entry)
{
    char key[ENTRY_MAX_ID + 9];
    size_t len = notifications_apply_key(entry->user, strlen(entry->user), entry->seq, key);
    if (!len)
        return 0;
    rp_packer_t packer;
    rp_packer_init(&packer);
    entry_pack(entry, &packer.pk);
    MDB_val k = {len, key}, v = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(txn, s_dbi(store, "inbox"), &k, &v, 0);
    rp_packer_destroy(&packer);
    return rc;
}

static bool s_unread(const entry_t *entry)
{
    return !entry->read_at[0] && !entry->archived;
}

int notifications_apply_put(rp_store_t *store, MDB_txn *txn, const entry_t *entry,
                            int64_t created_ms)
{
    size_t user_len = strlen(entry->user);
    int rc = s_store(store, txn, entry);
    MDB_val id = {strlen(entry->id), (void *)entry->id}, user = {user_len, (void *)entry->user};
    if (!rc)
        rc = mdb_put(txn, s_dbi(store, "inbox_ids"), &id, &user, 0);
    if (!rc && s_unread(entry))
        rc = s_unread_add(store, txn, entry->user, user_len, 1);
    uint8_t when[16];
    rp_seq_put(when, created_ms > 0 ? (uint64_t)created_ms : 0);
    rp_seq_put(when + 8, entry->seq);
    MDB_val k = {16, when};
    if (!rc)
        rc = mdb_put(txn, s_dbi(store, "inbox_time"), &k, &user, 0);
    return rc;
}

int notifications_apply_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                            const char *user, size_t user_len, entry_t *entry)
{
    uint64_t seq = entry_seq(id, len);
    MDB_val k = {len, (void *)id}, v;
    if (!seq)
        return MDB_NOTFOUND;
    int rc = mdb_get(txn, s_dbi(store, "inbox_ids"), &k, &v);
    if (rc)
        return rc;
    if (user && (v.mv_size != user_len || memcmp(v.mv_data, user, user_len) != 0))
        return MDB_NOTFOUND; //  another's: not there for this user
    char key[ENTRY_MAX_ID + 9];
    size_t key_len = notifications_apply_key(v.mv_data, v.mv_size, seq, key);
    MDB_val ek = {key_len, key}, ev;
    if (!key_len)
        return MDB_NOTFOUND;
    rc = mdb_get(txn, s_dbi(store, "inbox"), &ek, &ev);
    if (rc)
        return rc;
    return entry_unpack(entry, ev.mv_data, ev.mv_size) ? 0 : MDB_NOTFOUND;
}

int notifications_apply_walk(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                             uint64_t from_seq, bool backward, notifications_walk_fn *fn, void *arg)
{
    char from[ENTRY_MAX_ID + 9];
    size_t from_len = notifications_apply_key(user, len, from_seq, from);
    if (!from_len)
        return 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, s_dbi(store, "inbox"), &c);
    if (rc)
        return rc;
    //  Backward: from the first key at or after (user, from_seq), back.
    MDB_cursor_op step = backward ? MDB_PREV : MDB_NEXT;
    MDB_val k = {from_len, from}, v;
    rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
    if (backward)
        rc = mdb_cursor_get(c, &k, &v, rc == 0 ? MDB_PREV : MDB_LAST);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, step)) {
        if (k.mv_size != from_len || memcmp(k.mv_data, from, len + 1) != 0)
            break;
        entry_t entry;
        if (entry_unpack(&entry, v.mv_data, v.mv_size) && !fn(arg, &entry, v.mv_data, v.mv_size))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  notification.* events

//  The event's time as entries hold it ("" when it has none).
static void s_time(const rp_event_t *event, char out[ENTRY_MAX_TIME])
{
    int64_t ms;
    out[0] = 0;
    if (event->time && rp_time_parse(event->time, event->time_len, &ms))
        rp_time_format(ms, out);
}

//  The entry data.id of data.user: loaded, or the outcome 404.
static int s_target(rp_apply_t *self, entry_t *entry, bool *found)
{
    const char *user = NULL;
    size_t user_len = 0;
    *found = false;
    if (!rp_obj_str(rp_obj_get(self->event->data, "user"), &user, &user_len))
        return rp_apply_outcome(self, 422, "bad_event");
    int rc = notifications_apply_get(self->store, self->txn, self->id, self->id_len, user, user_len,
                                     entry);
    if (rc == MDB_NOTFOUND)
        return rp_apply_outcome(self, 404, "not_found");
    *found = rc == 0;
    return rc;
}

//  notification.read {id, user}: read_at the event's time, once.
static int s_read(rp_apply_t *self)
{
    entry_t entry;
    bool found;
    int rc = s_target(self, &entry, &found);
    if (rc || !found)
        return rc;
    if (entry.read_at[0]) {
        self->unchanged = true;
        return 0;
    }
    bool unread = s_unread(&entry);
    s_time(self->event, entry.read_at);
    entry.version++;
    rc = s_store(self->store, self->txn, &entry);
    if (!rc && unread)
        rc = s_unread_add(self->store, self->txn, entry.user, strlen(entry.user), -1);
    return rc;
}

//  notification.archived {id, user}: out of the list; an unread one is
//  read by it (the count is of what the list shows).
static int s_archived(rp_apply_t *self)
{
    entry_t entry;
    bool found;
    int rc = s_target(self, &entry, &found);
    if (rc || !found)
        return rc;
    if (entry.archived) {
        self->unchanged = true;
        return 0;
    }
    bool unread = s_unread(&entry);
    if (!entry.read_at[0])
        s_time(self->event, entry.read_at);
    entry.archived = true;
    entry.version++;
    rc = s_store(self->store, self->txn, &entry);
    if (!rc && unread)
        rc = s_unread_add(self->store, self->txn, entry.user, strlen(entry.user), -1);
    return rc;
}

//  notification.read_all {id: user, user, through_seq}: every entry of
//  the user up to through_seq read (later ones were not seen yet).
static int s_read_all(rp_apply_t *self)
{
    uint64_t through = 0;
    if (!rp_obj_u64(rp_obj_get(self->event->data, "through_seq"), &through))
        return rp_apply_outcome(self, 422, "bad_event");
    if (self->id_len > ENTRY_MAX_ID)
        return rp_apply_outcome(self, 404, "not_found");
    char at[ENTRY_MAX_TIME], from[ENTRY_MAX_ID + 9];
    s_time(self->event, at);
    size_t from_len = notifications_apply_key(self->id, self->id_len, 0, from);
    MDB_cursor *c;
    int rc = mdb_cursor_open(self->txn, s_dbi(self->store, "inbox"), &c);
    if (rc)
        return rc;
    int64_t marked = 0;
    MDB_val k = {from_len, from}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != from_len || memcmp(k.mv_data, from, self->id_len + 1) != 0 ||
            rp_seq_get((const uint8_t *)k.mv_data + self->id_len + 1) > through)
            break;
        entry_t entry;
        if (!entry_unpack(&entry, v.mv_data, v.mv_size) || !s_unread(&entry))
            continue;
        snprintf(entry.read_at, sizeof entry.read_at, "%s", at);
        entry.version++;
        rp_packer_t packer;
        rp_packer_init(&packer);
        entry_pack(&entry, &packer.pk);
        MDB_val nv = {packer.buffer.size, packer.buffer.data};
        rc = mdb_cursor_put(c, &k, &nv, MDB_CURRENT);
        rp_packer_destroy(&packer);
        if (rc)
            break;
        marked++;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    self->unchanged = marked == 0;
    return s_unread_add(self->store, self->txn, self->id, self->id_len, -marked);
}

//  notification.purged {id: the period, before}: the entries created
//  before `before` go, with their ids and their unread counts.
static int s_purged(rp_apply_t *self)
{
    const char *text;
    size_t len;
    int64_t before;
    if (!rp_obj_str(rp_obj_get(self->event->data, "before"), &text, &len) ||
        !rp_time_parse(text, len, &before))
        return rp_apply_outcome(self, 422, "bad_event");
    MDB_cursor *c;
    int rc = mdb_cursor_open(self->txn, s_dbi(self->store, "inbox_time"), &c);
    if (rc)
        return rc;
    uint64_t purged = 0;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != 16 || rp_seq_get(k.mv_data) >= (uint64_t)(before > 0 ? before : 0))
            break;
        uint64_t seq = rp_seq_get((const uint8_t *)k.mv_data + 8);
        char user[ENTRY_MAX_ID + 1], id[24];
        entry_copy(user, sizeof user, v.mv_data, v.mv_size);
        entry_id(seq, id);
        entry_t entry;
        rc = notifications_apply_get(self->store, self->txn, id, strlen(id), NULL, 0, &entry);
        if (rc == 0 && s_unread(&entry))
            rc = s_unread_add(self->store, self->txn, user, strlen(user), -1);
        char key[ENTRY_MAX_ID + 9];
        MDB_val ek = {notifications_apply_key(user, strlen(user), seq, key), key},
                ik = {strlen(id), id};
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_del(self->txn, s_dbi(self->store, "inbox"), &ek, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_del(self->txn, s_dbi(self->store, "inbox_ids"), &ik, NULL);
        if (rc == 0 || rc == MDB_NOTFOUND)
            rc = mdb_cursor_del(c, 0);
        if (rc)
            break;
        purged++;
    }
    mdb_cursor_close(c);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    self->unchanged = purged == 0;
    msgpack_pack_map(&self->details.pk, 1);
    rp_pack_kv_u64(&self->details.pk, "purged", purged);
    return 0;
}

static const rp_apply_type_t s_types[] = {{"notification.read", s_read},
                                          {"notification.read_all", s_read_all},
                                          {"notification.archived", s_archived},
                                          {"notification.purged", s_purged},
                                          {NULL, NULL}};
static const rp_apply_def_t s_def = {
    .service = "notifications", .prefix = "notification.", .max_id = 64, .types = s_types};

int notifications_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event)
{
    (void)arg;
    if (event->type_len > 13 && memcmp(event->type, "notification.", 13) == 0) {
        rp_apply_t self;
        memset(&self, 0, sizeof self);
        return rp_apply_run(&s_def, &self, store, txn, seq, event);
    }
    int rc = reminders_apply_event(NULL, store, txn, seq, event);
    return rc ? rc : inbox_derive(store, txn, seq, event);
}

//  ---------------------------------------------------------------------
//  Self-test

//  The event type at seq with data kv (and a map sub of sub_kv, if any).
static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, const char *user,
                         const char *const *kv, const char *sub, const char *const *sub_kv)
{
    rp_packer_t flat, data;
    rp_packer_init(&flat);
    rp_packer_init(&data);
    rp_testservice_args(&flat, kv);
    rp_doc_t *doc = rp_doc_new(flat.buffer.data, flat.buffer.size, NULL);
    const msgpack_object *map = rp_doc_root(doc);
    msgpack_pack_map(&data.pk, map->via.map.size + (sub && sub_kv));
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        msgpack_pack_object(&data.pk, map->via.map.ptr[i].key);
        msgpack_pack_object(&data.pk, map->via.map.ptr[i].val);
    }
    if (sub && sub_kv) {
        rp_packer_t inner; //  rp_testservice_args resets what it packs into
        rp_packer_init(&inner);
        rp_testservice_args(&inner, sub_kv);
        rp_pack_cstr(&data.pk, sub);
        msgpack_sbuffer_write(&data.buffer, inner.buffer.data, inner.buffer.size);
        rp_packer_destroy(&inner);
    }
    rp_doc_destroy(&doc);
    rp_apply_test_event(store, notifications_apply_event, seq, type, "test", user, &data);
    rp_packer_destroy(&data);
    rp_packer_destroy(&flat);
}

static void s_test_user(rp_store_t *store, uint64_t seq, const char *id, char hash,
                        const char *role, const char *manager)
{
    char key_hash[65], email[64];
    memset(key_hash, hash, 64);
    key_hash[64] = 0;
    snprintf(email, sizeof email, "%s@east.example.cn", id);
    s_test_event(store, seq, "user.created", "root",
                 (const char *[]){"id", id, "key_hash", key_hash, NULL}, "record",
                 (const char *[]){"name", id, "email", email, "role", role, "team", "east",
                                  "manager_id", manager ? manager : "~", NULL});
}

//  The default pipeline (opportunity.pipeline_created, as seeded).
static void s_test_pipeline(rp_store_t *store, uint64_t seq)
{
    static const char *const stages[][2] = {{"lead", "open"}, {"won", "won"}, {"lost", "lost"}};
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "default");
    rp_pack_cstr(&data.pk, "pipeline");
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "name", "默认");
    rp_pack_cstr(&data.pk, "stages");
    msgpack_pack_array(&data.pk, 3);
    for (int i = 0; i < 3; i++) {
        msgpack_pack_map(&data.pk, 4);
        rp_pack_kv_cstr(&data.pk, "key", stages[i][0]);
        rp_pack_kv_cstr(&data.pk, "name", stages[i][0]);
        rp_pack_kv_cstr(&data.pk, "kind", stages[i][1]);
        rp_pack_kv_u64(&data.pk, "probability", i == 1 ? 100 : 10 * (i == 0));
    }
    rp_pack_cstr(&data.pk, "lost_reasons");
    msgpack_pack_array(&data.pk, 0);
    rp_apply_test_event(store, notifications_apply_event, seq, "opportunity.pipeline_created",
                        "test", "root", &data);
    rp_packer_destroy(&data);
}

//  A read_all (through_seq an integer: packed by hand).
static void s_test_read_all(rp_store_t *store, uint64_t seq, const char *user, uint64_t through)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", user);
    rp_pack_kv_cstr(&data.pk, "user", user);
    rp_pack_kv_u64(&data.pk, "through_seq", through);
    rp_apply_test_event(store, notifications_apply_event, seq, "notification.read_all", "test",
                        user, &data);
    rp_packer_destroy(&data);
}

//  Times are 2026-11-23T08:00:<seq>: a reminder fired (twice: once told),
//  a customer assigned to bob by root, his own deal (no news), ann's
//  deal by root (news) won (her manager told), read, archived, read_all,
//  a lead (to ann, in turn), purged.
static void s_test_story(rp_store_t *store)
{
    s_test_pipeline(store, 1);
    s_test_user(store, 2, "mgr", 'a', "manager", NULL);
    s_test_user(store, 3, "ann", 'b', "sales", "mgr");
    s_test_user(store, 4, "bob", 'c', "sales", "mgr");
    s_test_event(store, 5, "reminder.created", "ann", (const char *[]){"id", "r1", NULL}, "record",
                 (const char *[]){"subject", "回访王总", "due_at", "2026-11-23T08:00:05Z",
                                  "time_zone", "Asia/Shanghai", "assignee", "ann", "team", "east",
                                  NULL});
    const char *const fired[] = {"id",         "r1",
                                 "key",        "r1/1795420805000/0",
                                 "due_at",     "2026-11-23T08:00:05Z",
                                 "occurrence", "2026-11-23T08:00:05Z",
                                 NULL};
    s_test_event(store, 6, "reminder.fired", "root", fired, NULL, NULL);
    s_test_event(store, 7, "reminder.fired", "root", fired, NULL, NULL); //  refused: once
    s_test_event(store, 8, "customer.created", "root", (const char *[]){"id", "c1", NULL}, "record",
                 (const char *[]){"name", "上海华东贸易", "owner", "ann", NULL});
    s_test_event(store, 9, "customer.assigned", "root",
                 (const char *[]){"id", "c1", "owner", "bob", NULL}, NULL, NULL);
    s_test_event(store, 10, "opportunity.created", "bob", (const char *[]){"id", "d1", NULL},
                 "record",
                 (const char *[]){"customer_id", "c1", "title", "年度采购", "owner", "bob", NULL});
    s_test_event(store, 11, "opportunity.created", "root", (const char *[]){"id", "d2", NULL},
                 "record",
                 (const char *[]){"customer_id", "c1", "title", "二期", "owner", "ann", NULL});
    s_test_event(store, 12, "opportunity.stage_changed", "ann",
                 (const char *[]){"id", "d2", "stage", "won", NULL}, NULL, NULL);
    s_test_event(store, 13, "notification.read", "ann",
                 (const char *[]){"id", "n6", "user", "ann", NULL}, NULL, NULL);
    s_test_event(store, 14, "notification.read", "bob",
                 (const char *[]){"id", "n6", "user", "bob", NULL}, NULL, NULL); //  not his
    s_test_event(store, 15, "notification.archived", "ann",
                 (const char *[]){"id", "n11", "user", "ann", NULL}, NULL, NULL);
    s_test_read_all(store, 16, "bob", 16);
    //  A web lead: a new customer, owned by the first sales user in turn.
    s_test_event(store, 17, "lead.captured", "root",
                 (const char *[]){"name", "李先生", "company", "杭州云栖网络", "source", "web",
                                  "captured_at", "2026-11-23T07:59:00Z", NULL},
                 NULL, NULL);
}

static void s_test_purge(rp_store_t *store)
{
    s_test_event(store, 18, "notification.purged", "root",
                 (const char *[]){"id", "2026-11-23", "before", "2026-11-23T08:00:07Z", NULL}, NULL,
                 NULL);
}

static void s_test_journal(rp_store_t *store)
{
    s_test_story(store);
    s_test_purge(store);
}

typedef struct {
    const char *id, *user, *kind, *title; //  title NULL: the entry is gone
    bool read, archived;
} test_want_t;

static int s_test_check(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_want_t *want = (const test_want_t *)arg;
    entry_t e;
    int rc = notifications_apply_get(store, txn, want->id, strlen(want->id), want->user,
                                     strlen(want->user), &e);
    if (!want->title) {
        assert(rc == MDB_NOTFOUND);
        return 0;
    }
    if (rc || strcmp(e.kind, want->kind) || strcmp(e.title, want->title) ||
        (e.read_at[0] != 0) != want->read || e.archived != want->archived) {
        fprintf(stderr, "%s: rc %d kind %s title %s read %s archived %d\n", want->id, rc, e.kind,
                e.title, e.read_at, e.archived);
        assert(false);
    }
    return 0;
}

static int s_test_counts(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const uint64_t *want = (const uint64_t *)arg; //  ann, bob, mgr
    assert(notifications_apply_unread(store, txn, "ann", 3) == want[0]);
    assert(notifications_apply_unread(store, txn, "bob", 3) == want[1]);
    assert(notifications_apply_unread(store, txn, "mgr", 3) == want[2]);
    return 0;
}

static void s_test_expect(rp_store_t *store, const test_want_t *want)
{
    assert(rp_store_read(store, s_test_check, (void *)want) == 0);
}

static int s_test_status(rp_store_t *store, uint64_t seq)
{
    char code[32];
    MDB_txn *txn;
    assert(mdb_txn_begin(rp_store_env(store), NULL, MDB_RDONLY, &txn) == 0);
    int status = rp_outcome_status(store, txn, seq, code, sizeof code);
    mdb_txn_abort(txn);
    return status;
}

static void s_test_inbox(void)
{
    char dir[] = "/tmp/rp-notifications-inbox-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, notifications_apply_dbnames);
    assert(store);
    s_test_story(store);
    s_test_expect(store, &(test_want_t){"n6", "ann", "reminder.fired", "回访王总", true, false});
    s_test_purge(store);
    //  The firing told ann once (the second one was refused, n6 is none).
    //  n5 was purged (created before :07): read, it counts for nobody.
    s_test_expect(store, &(test_want_t){"n6", "ann", NULL, NULL, false, false});
    s_test_expect(store, &(test_want_t){"n7", "ann", NULL, NULL, false, false});
    s_test_expect(store, &(test_want_t){"n6", "bob", NULL, NULL, false, false}); //  not his
    assert(s_test_status(store, 14) == 404);
    //  bob's customer, by name; read by read_all. His own deal: no entry.
    s_test_expect(store, &(test_want_t){"n9", "bob", "customer.assigned",
                                        "Customer assigned to you: 上海华东贸易", true, false});
    s_test_expect(store, &(test_want_t){"n10", "bob", NULL, NULL, false, false});
    s_test_expect(store, &(test_want_t){"n11", "ann", "opportunity.assigned",
                                        "Deal assigned to you: 二期", true, true});
    s_test_expect(store,
                  &(test_want_t){"n12", "mgr", "opportunity.won", "Deal won: 二期", false, false});
    s_test_expect(store, &(test_want_t){"n17", "ann", "lead.assigned", "New lead: 杭州云栖网络",
                                        false, false});
    uint64_t counts[] = {1, 0, 1};
    assert(rp_store_read(store, s_test_counts, counts) == 0);
    assert(s_test_status(store, 18) == 200);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

void notifications_apply_test(void)
{
    entry_test();
    s_test_inbox();
    rp_apply_test_replay("notifications", notifications_apply_dbnames, s_test_journal);
}
