/*  apply.c — see apply.h. */
#include <rapport/apply.h>
#include <rapport/log.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPLY_MAX_KEY 511 //  LMDB's default key limit

//  {status, id, code?, details?, extra…}
static int s_outcome_save(rp_apply_t *self)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    bool details = self->details.buffer.size > 0;
    msgpack_pack_map(&packer.pk, 2 + (self->code != NULL) + details + self->extra_pairs);
    rp_pack_kv_u64(&packer.pk, "status", (uint64_t)self->status);
    rp_pack_cstr(&packer.pk, "id");
    rp_pack_strn(&packer.pk, self->id, self->id_len);
    if (self->code)
        rp_pack_kv_cstr(&packer.pk, "code", self->code);
    if (details) {
        rp_pack_cstr(&packer.pk, "details");
        msgpack_sbuffer_write(&packer.buffer, self->details.buffer.data, self->details.buffer.size);
    }
    if (self->extra_pairs)
        msgpack_sbuffer_write(&packer.buffer, self->extra.buffer.data, self->extra.buffer.size);
    int rc = rp_outcome_put(self->store, self->txn, self->seq, self->event, packer.buffer.data,
                            packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

static rp_apply_fn *s_type_fn(const rp_apply_def_t *def, const rp_event_t *event)
{
    for (const rp_apply_type_t *row = def->types; row->type; row++)
        if (rp_event_is(event, row->type))
            return row->fn;
    return NULL;
}

int rp_apply_run(const rp_apply_def_t *def, rp_apply_t *self, rp_store_t *store, MDB_txn *txn,
                 uint64_t seq, const rp_event_t *event)
{
    if (!rp_event_has_prefix(event, def->prefix))
        return 0; //  another service's event
    self->store = store;
    self->txn = txn;
    self->seq = seq;
    self->event = event;
    self->status = 200;
    if (!rp_obj_str(rp_obj_get(event->data, "id"), &self->id, &self->id_len) || self->id_len == 0 ||
        self->id_len > def->max_id) {
        rp_warn("%s: event %" PRIu64 " has no valid id, ignored", def->service, seq);
        return 0;
    }
    rp_packer_init(&self->details);
    rp_packer_init(&self->extra);
    rp_apply_fn *fn = s_type_fn(def, event);
    int rc = fn ? fn(self) : rp_apply_outcome(self, 422, "unknown_type");
    if (rc == 0 && def->finish)
        rc = def->finish(self);
    if (rc == 0)
        rc = s_outcome_save(self);
    rp_packer_destroy(&self->details);
    rp_packer_destroy(&self->extra);
    return rc;
}

int rp_apply_outcome(rp_apply_t *self, int status, const char *code)
{
    self->status = status;
    self->code = code;
    return 0;
}

int rp_apply_get(rp_apply_t *self, const char *db, const char *key, size_t len, MDB_val *value)
{
    if (len == 0 || len > APPLY_MAX_KEY)
        return MDB_NOTFOUND;
    MDB_val k = {len, (void *)key};
    return mdb_get(self->txn, rp_store_dbi(self->store, db), &k, value);
}

int rp_apply_put(rp_apply_t *self, const char *db, const char *key, size_t len, const void *data,
                 size_t size)
{
    MDB_val k = {len, (void *)key}, v = {size, (void *)data};
    return mdb_put(self->txn, rp_store_dbi(self->store, db), &k, &v, 0);
}

int rp_apply_del(rp_apply_t *self, const char *db, const char *key, size_t len)
{
    MDB_val k = {len, (void *)key};
    int rc = mdb_del(self->txn, rp_store_dbi(self->store, db), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  Self-test support

typedef struct {
    rp_service_apply_fn *apply;
    uint64_t seq;
    const void *data;
    size_t size;
} test_event_t;

static int s_test_apply(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_event_t *te = (test_event_t *)arg;
    rp_doc_t *doc = rp_doc_new(te->data, te->size, NULL);
    assert(doc);
    rp_event_t event;
    assert(rp_event_parse(rp_doc_root(doc), &event) == NULL);
    int rc = te->apply(NULL, store, txn, te->seq, &event);
    if (rc == 0)
        rc = rp_store_set_cursor(store, txn, te->seq);
    rp_doc_destroy(&doc);
    return rc;
}

void rp_apply_test_event(rp_store_t *store, rp_service_apply_fn *apply, uint64_t seq,
                         const char *type, const char *source, const char *user, rp_packer_t *data)
{
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, user ? 6 : 5);
    rp_pack_kv_cstr(&event.pk, "type", type);
    rp_pack_kv_cstr(&event.pk, "id", "test");
    rp_pack_kv_cstr(&event.pk, "source", source);
    char time[32];
    snprintf(time, sizeof time, "2026-11-23T08:00:%02u.000Z", (unsigned)(seq % 60));
    rp_pack_kv_cstr(&event.pk, "time", time);
    if (user) {
        rp_pack_cstr(&event.pk, "actor");
        msgpack_pack_map(&event.pk, 1);
        rp_pack_kv_cstr(&event.pk, "user", user);
    }
    rp_pack_cstr(&event.pk, "data");
    msgpack_sbuffer_write(&event.buffer, data->buffer.data, data->buffer.size);
    test_event_t te = {apply, seq, event.buffer.data, event.buffer.size};
    assert(rp_store_write(store, s_test_apply, &te) == 0);
    rp_packer_destroy(&event);
    rp_packer_reset(data);
}

typedef struct {
    const char *const *dbnames;
    rp_packer_t dump;
} test_dump_t;

//  Every key and value of every database, in order, into one buffer.
static int s_test_dump(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_dump_t *dump = (test_dump_t *)arg;
    for (const char *const *db = dump->dbnames; *db; db++) {
        MDB_cursor *cursor;
        assert(mdb_cursor_open(txn, rp_store_dbi(store, *db), &cursor) == 0);
        MDB_val k, v;
        for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
             rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            msgpack_pack_bin(&dump->dump.pk, k.mv_size);
            msgpack_pack_bin_body(&dump->dump.pk, k.mv_data, k.mv_size);
            msgpack_pack_bin(&dump->dump.pk, v.mv_size);
            msgpack_pack_bin_body(&dump->dump.pk, v.mv_data, v.mv_size);
        }
        mdb_cursor_close(cursor);
    }
    return 0;
}

void rp_apply_test_replay(const char *name, const char *const *dbnames,
                          void (*journal)(rp_store_t *store))
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/rp-%s-XXXXXX", name);
    assert(mkdtemp(dir));
    test_dump_t dumps[2];
    for (int i = 0; i < 2; i++) {
        char path[96];
        snprintf(path, sizeof path, "%s/%d", dir, i);
        rp_store_t *store = rp_store_new(path, dbnames);
        assert(store);
        journal(store);
        dumps[i].dbnames = dbnames;
        rp_packer_init(&dumps[i].dump);
        rp_store_read(store, s_test_dump, &dumps[i]);
        rp_store_destroy(&store);
    }
    const msgpack_sbuffer *a = &dumps[0].dump.buffer, *b = &dumps[1].dump.buffer;
    assert(a->size > 0 && a->size == b->size && memcmp(a->data, b->data, a->size) == 0);
    for (int i = 0; i < 2; i++)
        rp_packer_destroy(&dumps[i].dump);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

//  ---------------------------------------------------------------------
//  Self-test: a "notes" apply — note.set {id, text} keeps id →
//  "version:text"; note.cleared {id} removes it (404 when absent). The
//  harness proves its replay deterministic.

static const char *const s_test_dbnames[] = {"notes", RP_OUTCOME_DB, NULL};

static uint64_t s_test_version(rp_apply_t *self)
{
    MDB_val value;
    if (rp_apply_get(self, "notes", self->id, self->id_len, &value))
        return 0;
    return strtoull((const char *)value.mv_data, NULL, 10); //  "N:…", no NUL needed
}

static int s_test_set(rp_apply_t *self)
{
    uint64_t version = s_test_version(self);
    const char *text;
    size_t len;
    if (!rp_obj_str(rp_obj_get(self->event->data, "text"), &text, &len) || len > 100)
        return rp_apply_outcome(self, 422, "bad_event");
    char value[128];
    int size = snprintf(value, sizeof value, "%" PRIu64 ":%.*s", version + 1, (int)len, text);
    return rp_apply_put(self, "notes", self->id, self->id_len, value, (size_t)size);
}

static int s_test_cleared(rp_apply_t *self)
{
    if (s_test_version(self) == 0)
        return rp_apply_outcome(self, 404, "not_found");
    return rp_apply_del(self, "notes", self->id, self->id_len);
}

//  Every refusal says which note.
static int s_test_finish(rp_apply_t *self)
{
    if (self->status == 200)
        return 0;
    msgpack_pack_map(&self->details.pk, 1);
    rp_pack_cstr(&self->details.pk, "note");
    rp_pack_strn(&self->details.pk, self->id, self->id_len);
    rp_pack_kv_u64(&self->extra.pk, "seen", self->seq);
    self->extra_pairs = 1;
    return 0;
}

static const rp_apply_type_t s_test_types[] = {
    {"note.set", s_test_set},
    {"note.cleared", s_test_cleared},
    {NULL},
};

static const rp_apply_def_t s_test_def = {"notes", "note.", 8, s_test_types, s_test_finish};

static int s_test_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event)
{
    (void)arg;
    rp_apply_t self;
    memset(&self, 0, sizeof self);
    return rp_apply_run(&s_test_def, &self, store, txn, seq, event);
}

//  One event; text NULL for note.cleared.
static void s_test_note(rp_store_t *store, uint64_t seq, const char *type, const char *id,
                        const char *text)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 1 + (text != NULL));
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (text)
        rp_pack_kv_cstr(&data.pk, "text", text);
    rp_apply_test_event(store, s_test_apply_event, seq, type, "notes", "ann", &data);
    rp_packer_destroy(&data);
}

typedef struct {
    uint64_t seq;
    rp_doc_t *doc; //  the outcome, or NULL
} test_outcome_t;

static int s_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_outcome_t *o = (test_outcome_t *)arg;
    MDB_val value;
    if (rp_outcome_get(store, txn, o->seq, &value) == 0)
        o->doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    return 0;
}

//  The outcome of seq is status (and code, and a details.note when
//  refused), or there is none (status 0).
static void s_test_expect(rp_store_t *store, uint64_t seq, int status, const char *code)
{
    test_outcome_t o = {seq, NULL};
    rp_store_read(store, s_test_outcome_read, &o);
    if (status == 0) {
        assert(!o.doc);
        return;
    }
    assert(o.doc);
    const msgpack_object *root = rp_doc_root(o.doc);
    uint64_t got;
    assert(rp_obj_u64(rp_obj_get(root, "status"), &got) && got == (uint64_t)status);
    assert(code ? rp_obj_streq(rp_obj_get(root, "code"), code) : !rp_obj_get(root, "code"));
    assert(rp_obj_get(root, "id") != NULL);
    assert(status == 200 ? !rp_obj_get(root, "details")
                         : rp_obj_get(rp_obj_get(root, "details"), "note") != NULL &&
                               rp_obj_u64(rp_obj_get(root, "seen"), &got) && got == seq);
    rp_doc_destroy(&o.doc);
}

static void s_test_journal(rp_store_t *store)
{
    s_test_note(store, 1, "note.set", "n1", "第一");
    s_test_expect(store, 1, 200, NULL);
    s_test_note(store, 2, "note.set", "n1", "second");
    s_test_expect(store, 2, 200, NULL);
    s_test_note(store, 3, "note.set", "n1", NULL); //  no text
    s_test_expect(store, 3, 422, "bad_event");
    s_test_note(store, 4, "note.cleared", "n2", NULL);
    s_test_expect(store, 4, 404, "not_found");
    s_test_note(store, 5, "note.renamed", "n1", NULL);
    s_test_expect(store, 5, 422, "unknown_type");
    s_test_note(store, 6, "other.set", "n1", "x"); //  not ours
    s_test_expect(store, 6, 0, NULL);
    s_test_note(store, 7, "note.set", "n-too-long", "x"); //  no valid id
    s_test_expect(store, 7, 0, NULL);
    s_test_note(store, 8, "note.set", "n3", "kept");
    s_test_note(store, 9, "note.cleared", "n1", NULL);
    s_test_expect(store, 9, 200, NULL);
}

void rp_apply_test(void)
{
    rp_apply_test_replay("apply", s_test_dbnames, s_test_journal);
}
