/*  apply.c — user.created / updated / key_rotated / revoked into the store,
    deterministically: times come from the event, ids, values and key hashes
    from the data the writer computed. */
#include "apply.h"
#include "apikey.h"
#include "preferences.h"
#include "user.h"

#include <rapport/apply.h>
#include <rapport/outcome.h>
#include <rapport/scope.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const users_apply_dbnames[] = {"users",        "emails",      "keys", "user_keys",
                                           PREFERENCES_DB, RP_OUTCOME_DB, NULL};

static int s_get(rp_store_t *store, MDB_txn *txn, const char *db, const char *key, size_t len,
                 MDB_val *value)
{
    if (len == 0 || len > 511) //  LMDB's default key limit
        return MDB_NOTFOUND;
    MDB_val k = {len, (void *)key};
    return mdb_get(txn, rp_store_dbi(store, db), &k, value);
}

int users_apply_record_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                           MDB_val *value)
{
    return len > USER_MAX_ID ? MDB_NOTFOUND : s_get(store, txn, "users", id, len, value);
}

int users_apply_email_get(rp_store_t *store, MDB_txn *txn, const char *email, size_t len,
                          MDB_val *id)
{
    return s_get(store, txn, "emails", email, len, id);
}

int users_apply_key_get(rp_store_t *store, MDB_txn *txn, const char *hash, size_t len, MDB_val *id)
{
    return s_get(store, txn, "keys", hash, len, id);
}

const char *users_apply_manager_check(rp_store_t *store, MDB_txn *txn, const char *manager_id,
                                      size_t len, const char *self_id, size_t self_len)
{
    if (self_id && len == self_len && memcmp(manager_id, self_id, len) == 0)
        return "self";
    MDB_val value;
    if (users_apply_record_get(store, txn, manager_id, len, &value))
        return "not_found";
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return "not_found";
    rp_record_t manager;
    user_init(&manager);
    rp_record_from_map(&manager, rp_doc_root(doc));
    const char *role;
    size_t role_len;
    const char *err = NULL;
    if (!rp_record_bool(&manager, USER_ACTIVE))
        err = "not_found";
    else if (!rp_record_str(&manager, USER_ROLE, &role, &role_len) ||
             (rp_role_parse(role, role_len) != RP_ROLE_MANAGER &&
              rp_role_parse(role, role_len) != RP_ROLE_ADMIN))
        err = "not_manager";
    rp_record_reset(&manager);
    rp_doc_destroy(&doc);
    return err;
}

//  ---------------------------------------------------------------------
//  One event being applied

typedef struct {
    rp_apply_t base; //  first: a row's fn casts it back (apply.h)
    char *old_bytes; //  a private copy of the stored record (LMDB pages move on put)
    rp_doc_t *old_doc;
    rp_record_t record;
    //  the outcome's details and extra
    const char *key_hash;              //  in force after created / key_rotated
    char conflict_id[USER_MAX_ID + 1]; //  409 duplicate: who holds the e-mail
    const char *invalid;               //  422 invalid: manager_id's code
} apply_t;

//  Load the stored record into self->record; MDB_NOTFOUND if there is none.
static int s_load(apply_t *self)
{
    MDB_val value;
    int rc = users_apply_record_get(self->base.store, self->base.txn, self->base.id,
                                    self->base.id_len, &value);
    if (rc)
        return rc;
    self->old_bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->old_bytes);
    memcpy(self->old_bytes, value.mv_data, value.mv_size);
    self->old_doc = rp_doc_new(self->old_bytes, value.mv_size, NULL);
    if (!self->old_doc)
        return -1; //  a corrupt store: stop the service
    rp_record_from_map(&self->record, rp_doc_root(self->old_doc));
    return 0;
}

//  Is the record's e-mail held by another active user? Notes who.
static bool s_email_taken(apply_t *self)
{
    const char *email;
    size_t len;
    MDB_val id;
    if (!rp_record_str(&self->record, USER_EMAIL, &email, &len) ||
        users_apply_email_get(self->base.store, self->base.txn, email, len, &id))
        return false;
    if (id.mv_size == self->base.id_len &&
        memcmp(id.mv_data, self->base.id, self->base.id_len) == 0)
        return false; //  ours
    size_t n = id.mv_size < USER_MAX_ID ? id.mv_size : USER_MAX_ID;
    memcpy(self->conflict_id, id.mv_data, n);
    self->conflict_id[n] = 0;
    return true;
}

//  A manager_id in the record must name an active manager or admin.
static bool s_manager_ok(apply_t *self)
{
    const char *manager;
    size_t len;
    if (!rp_record_str(&self->record, USER_MANAGER_ID, &manager, &len))
        return true;
    self->invalid = users_apply_manager_check(self->base.store, self->base.txn, manager, len,
                                              self->base.id, self->base.id_len);
    return self->invalid == NULL;
}

//  The writer checked the fields; apply checks them again so that no
//  event, however it reached the journal, can put a malformed record in
//  the store.
static bool s_valid(const msgpack_object *fields, bool create, rp_record_t *out)
{
    rp_field_error_t errors[4];
    return rp_obj_is_map(fields) &&
           rp_record_validate(out, fields, NULL, create, NULL, errors, 4) == 0;
}

static bool s_hash(apply_t *self, const char **hash, size_t *len)
{
    return rp_obj_str(rp_obj_get(self->base.event->data, "key_hash"), hash, len) &&
           apikey_hash_valid(*hash, *len);
}

//  The key hash is free (a forged or replayed hash never shares a user).
static bool s_hash_free(apply_t *self, const char *hash, size_t len)
{
    MDB_val id;
    return users_apply_key_get(self->base.store, self->base.txn, hash, len, &id) == MDB_NOTFOUND;
}

static int s_save_record(apply_t *self)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->record, &packer.pk);
    int rc = rp_apply_put(&self->base, "users", self->base.id, self->base.id_len,
                          packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

//  Point the user at a new key hash (NULL: none), dropping the old one.
static int s_set_key(apply_t *self, const char *hash, size_t len)
{
    MDB_val old;
    int rc = rp_apply_get(&self->base, "user_keys", self->base.id, self->base.id_len, &old);
    if (rc == 0) {
        char was[APIKEY_HASH_LEN];
        size_t was_len = old.mv_size < sizeof was ? old.mv_size : sizeof was;
        memcpy(was, old.mv_data, was_len); //  old points into a page the del may free
        rc = rp_apply_del(&self->base, "keys", was, was_len);
    } else if (rc == MDB_NOTFOUND)
        rc = 0;
    if (!rc && hash) {
        rc = rp_apply_put(&self->base, "keys", hash, len, self->base.id, self->base.id_len);
        if (!rc)
            rc =
                rp_apply_put(&self->base, "user_keys", self->base.id, self->base.id_len, hash, len);
    } else if (!rc)
        rc = rp_apply_del(&self->base, "user_keys", self->base.id, self->base.id_len);
    return rc;
}

//  True (and an outcome) if the data's expected_version is not the stored one.
static bool s_stale(apply_t *self)
{
    if (rp_record_stale(&self->record, self->base.event->data)) {
        rp_apply_outcome(&self->base, 412, "version_mismatch");
        return true;
    }
    return false;
}

//  ---------------------------------------------------------------------
//  The four event types

static int s_created(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    if (s_load(self) == 0)
        return rp_apply_outcome(&self->base, 409, "exists"); //  an id reused: never by our writer
    rp_record_reset(&self->record);
    const char *hash;
    size_t hash_len;
    if (!s_hash(self, &hash, &hash_len) ||
        !s_valid(rp_obj_get(self->base.event->data, "record"), true, &self->record))
        return rp_apply_outcome(&self->base, 422, "bad_event");
    if (!s_hash_free(self, hash, hash_len))
        return rp_apply_outcome(&self->base, 409, "key_conflict");
    if (s_email_taken(self))
        return rp_apply_outcome(&self->base, 409, "duplicate");
    if (!s_manager_ok(self))
        return rp_apply_outcome(&self->base, 422, "invalid");
    if (!self->record.given[USER_MANAGER_ID]) {
        msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
        rp_record_set_obj(&self->record, USER_MANAGER_ID, &nil);
    }
    rp_record_set_str(&self->record, USER_ID, self->base.id, self->base.id_len);
    rp_record_set_bool(&self->record, USER_ACTIVE, true);
    rp_record_stamp(&self->record, self->base.event); //  version 1, created now
    const char *email;
    size_t email_len;
    assert(rp_record_str(&self->record, USER_EMAIL, &email, &email_len));
    int rc =
        rp_apply_put(&self->base, "emails", email, email_len, self->base.id, self->base.id_len);
    if (!rc)
        rc = s_set_key(self, hash, hash_len);
    if (!rc)
        rc = s_save_record(self);
    self->key_hash = hash;
    return rc;
}

//  Load a user that must exist and be active; else an outcome (returns 1).
static int s_load_active(apply_t *self)
{
    int rc = s_load(self);
    if (rc == MDB_NOTFOUND)
        return rp_apply_outcome(&self->base, 404, "not_found") + 1;
    if (rc)
        return rc;
    if (!rp_record_bool(&self->record, USER_ACTIVE))
        return rp_apply_outcome(&self->base, 409, "revoked") + 1;
    return 0;
}

static int s_updated(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    int rc = s_load_active(self);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (s_stale(self))
        return 0;
    rp_record_t changes;
    user_init(&changes);
    bool valid = s_valid(rp_obj_get(self->base.event->data, "changes"), false, &changes);
    bool manager_changed = changes.given[USER_MANAGER_ID]; //  a stale one is not re-judged
    const char *was = NULL; //  the stored e-mail, borrowed from old_doc
    size_t was_len = 0;
    rp_record_str(&self->record, USER_EMAIL, &was, &was_len);
    if (valid)
        rp_record_overlay(&self->record, &changes); //  copies what changes owns
    rp_record_reset(&changes);
    if (!valid)
        return rp_apply_outcome(&self->base, 422, "bad_event");
    if (s_email_taken(self))
        return rp_apply_outcome(&self->base, 409, "duplicate");
    if (manager_changed && !s_manager_ok(self))
        return rp_apply_outcome(&self->base, 422, "invalid");
    const char *now;
    size_t now_len;
    assert(rp_record_str(&self->record, USER_EMAIL, &now, &now_len));
    if (now_len != was_len || memcmp(now, was, now_len) != 0) {
        rc = rp_apply_del(&self->base, "emails", was, was_len);
        if (!rc)
            rc =
                rp_apply_put(&self->base, "emails", now, now_len, self->base.id, self->base.id_len);
        if (rc)
            return rc;
    }
    rp_record_stamp(&self->record, self->base.event);
    return s_save_record(self);
}

static int s_key_rotated(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    int rc = s_load_active(self);
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *hash;
    size_t hash_len;
    if (!s_hash(self, &hash, &hash_len))
        return rp_apply_outcome(&self->base, 422, "bad_event");
    if (!s_hash_free(self, hash, hash_len))
        return rp_apply_outcome(&self->base, 409, "key_conflict");
    rc = s_set_key(self, hash, hash_len);
    rp_record_stamp(&self->record, self->base.event);
    if (!rc)
        rc = s_save_record(self);
    self->key_hash = hash;
    return rc;
}

static int s_revoked(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(&self->base, 404, "not_found") : rc;
    if (s_stale(self) || !rp_record_bool(&self->record, USER_ACTIVE))
        return 0; //  already revoked: no new version
    const char *email;
    size_t email_len;
    if (rp_record_str(&self->record, USER_EMAIL, &email, &email_len))
        rc = rp_apply_del(&self->base, "emails", email, email_len);
    if (!rc)
        rc = s_set_key(self, NULL, 0);
    rp_record_set_bool(&self->record, USER_ACTIVE, false);
    rp_record_stamp(&self->record, self->base.event);
    return rc ? rc : s_save_record(self);
}

//  The outcome's details (409 duplicate: {fields: ["email"], ids: [holder]};
//  422 invalid: {errors: [{field: "manager_id", code, message}]}) and
//  key_hash.
static int s_finish(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base;
    msgpack_packer *pk = &base->details.pk;
    if (base->status == 409 && self->conflict_id[0]) {
        msgpack_pack_map(pk, 2);
        rp_pack_cstr(pk, "fields");
        msgpack_pack_array(pk, 1);
        rp_pack_cstr(pk, "email");
        rp_pack_cstr(pk, "ids");
        msgpack_pack_array(pk, 1);
        rp_pack_cstr(pk, self->conflict_id);
    } else if (base->status == 422 && self->invalid) {
        rp_field_error_t error;
        user_manager_error(&error, self->invalid);
        msgpack_pack_map(pk, 1);
        rp_pack_cstr(pk, "errors");
        msgpack_pack_array(pk, 1);
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "field", error.field);
        rp_pack_kv_cstr(pk, "code", error.code);
        rp_pack_kv_cstr(pk, "message", error.message);
    }
    if (self->key_hash) {
        rp_pack_cstr(&base->extra.pk, "key_hash");
        rp_pack_strn(&base->extra.pk, self->key_hash, APIKEY_HASH_LEN);
        base->extra_pairs = 1;
    }
    return 0;
}

static const rp_apply_type_t s_types[] = {
    {"user.created", s_created},
    {"user.updated", s_updated},
    {"user.key_rotated", s_key_rotated},
    {"user.revoked", s_revoked},
    {"user.preferences_set", preferences_apply},
    {NULL},
};

static const rp_apply_def_t s_def = {"users", "user.", USER_MAX_ID, s_types, s_finish};

int users_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                      const rp_event_t *event)
{
    (void)arg;
    apply_t self;
    memset(&self, 0, sizeof self);
    user_init(&self.record);
    int rc = rp_apply_run(&s_def, &self.base, store, txn, seq, event);
    rp_record_reset(&self.record);
    rp_doc_destroy(&self.old_doc);
    free(self.old_bytes);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test: the same events on two stores give byte-identical stores, and
//  every refusal is an outcome, not an error.

//  Apply one event (type, data packed by the caller) at seq.
static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data)
{
    rp_apply_test_event(store, users_apply_event, seq, type, "users", NULL, data);
}

//  A hash of 64 hex digits made of one repeated digit.
static const char *s_test_hash(char digit)
{
    static char hash[APIKEY_HASH_LEN + 1];
    memset(hash, digit, APIKEY_HASH_LEN);
    hash[APIKEY_HASH_LEN] = 0;
    return hash;
}

//  user.created {id, key_hash, record: {name, email, role, [manager_id]}}
static void s_test_created(rp_store_t *store, uint64_t seq, const char *id, char hash,
                           const char *email, const char *role, const char *manager)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_kv_cstr(&data.pk, "key_hash", s_test_hash(hash));
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, manager ? 4 : 3);
    rp_pack_kv_cstr(&data.pk, "name", "测试用户");
    rp_pack_kv_cstr(&data.pk, "email", email);
    rp_pack_kv_cstr(&data.pk, "role", role);
    if (manager)
        rp_pack_kv_cstr(&data.pk, "manager_id", manager);
    s_test_event(store, seq, "user.created", &data);
    rp_packer_destroy(&data);
}

//  user.updated {id, [expected_version], changes: {key: value}}
static void s_test_updated(rp_store_t *store, uint64_t seq, const char *id, uint64_t expected,
                           const char *key, const char *value)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, expected ? 3 : 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (expected)
        rp_pack_kv_u64(&data.pk, "expected_version", expected);
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, key, value);
    s_test_event(store, seq, "user.updated", &data);
    rp_packer_destroy(&data);
}

//  user.key_rotated {id, key_hash} / user.revoked {id}
static void s_test_simple(rp_store_t *store, uint64_t seq, const char *type, const char *id,
                          char hash)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, hash ? 2 : 1);
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (hash)
        rp_pack_kv_cstr(&data.pk, "key_hash", s_test_hash(hash));
    s_test_event(store, seq, type, &data);
    rp_packer_destroy(&data);
}

typedef struct {
    uint64_t seq;
    int status;
    char code[32];
    char detail[32]; //  the conflicting id or the invalid field's code
    bool key_hash;
} test_outcome_t;

static void s_test_copy(char *out, size_t size, const msgpack_object *o)
{
    const char *str;
    size_t len;
    if (rp_obj_str(o, &str, &len) && len < size) {
        memcpy(out, str, len);
        out[len] = 0;
    }
}

static int s_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_outcome_t *o = (test_outcome_t *)arg;
    MDB_val value;
    if (rp_outcome_get(store, txn, o->seq, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t status;
    assert(rp_obj_u64(rp_obj_get(root, "status"), &status));
    o->status = (int)status;
    s_test_copy(o->code, sizeof o->code, rp_obj_get(root, "code"));
    const msgpack_object *details = rp_obj_get(root, "details");
    const msgpack_object *ids = rp_obj_get(details, "ids");
    const msgpack_object *errors = rp_obj_get(details, "errors");
    if (rp_obj_is_array(ids) && ids->via.array.size == 1)
        s_test_copy(o->detail, sizeof o->detail, &ids->via.array.ptr[0]);
    if (rp_obj_is_array(errors) && errors->via.array.size == 1)
        s_test_copy(o->detail, sizeof o->detail, rp_obj_get(&errors->via.array.ptr[0], "code"));
    o->key_hash = rp_obj_get(root, "key_hash") != NULL;
    rp_doc_destroy(&doc);
    return 0;
}

static test_outcome_t s_test_outcome(rp_store_t *store, uint64_t seq)
{
    test_outcome_t o = {seq, 0, "", "", false};
    rp_store_read(store, s_test_outcome_read, &o);
    return o;
}

static void s_test_expect(rp_store_t *store, uint64_t seq, int status, const char *code,
                          const char *detail)
{
    test_outcome_t o = s_test_outcome(store, seq);
    assert(o.status == status);
    assert(strcmp(o.code, code ? code : "") == 0);
    assert(strcmp(o.detail, detail ? detail : "") == 0);
}

//  A stored record's field as a string ("" when absent), version, active.
typedef struct {
    const char *id;
    int field;
    char out[64];
    uint64_t version;
    bool active;
} test_field_t;

static int s_test_field_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_field_t *f = (test_field_t *)arg;
    MDB_val value;
    if (users_apply_record_get(store, txn, f->id, strlen(f->id), &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    rp_record_t record;
    user_init(&record);
    rp_record_from_map(&record, rp_doc_root(doc));
    assert(record.given[USER_MANAGER_ID] && record.given[USER_TEAM]); //  every field stored
    s_test_copy(f->out, sizeof f->out, &record.values[f->field]);
    f->version = rp_record_u64(&record, USER_VERSION);
    f->active = rp_record_bool(&record, USER_ACTIVE);
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static test_field_t s_test_field(rp_store_t *store, const char *id, int field)
{
    test_field_t f = {id, field, "", 0, false};
    rp_store_read(store, s_test_field_read, &f);
    return f;
}

//  The id an index maps key to ("" when none).
typedef struct {
    const char *db, *key;
    char id[USER_MAX_ID + 1];
} test_index_t;

static int s_test_index_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_index_t *t = (test_index_t *)arg;
    MDB_val id;
    if (s_get(store, txn, t->db, t->key, strlen(t->key), &id) == 0 && id.mv_size <= USER_MAX_ID) {
        memcpy(t->id, id.mv_data, id.mv_size);
        t->id[id.mv_size] = 0;
    }
    return 0;
}

static void s_test_index(rp_store_t *store, const char *db, const char *key, const char *id)
{
    test_index_t t = {db, key, ""};
    rp_store_read(store, s_test_index_read, &t);
    assert(strcmp(t.id, id) == 0);
}

static int s_test_manager_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    assert(users_apply_manager_check(store, txn, "u5", 2, NULL, 0) == NULL);
    assert(strcmp(users_apply_manager_check(store, txn, "u5", 2, "u5", 2), "self") == 0);
    assert(strcmp(users_apply_manager_check(store, txn, "u1", 2, NULL, 0), "not_found") == 0);
    assert(strcmp(users_apply_manager_check(store, txn, "u3", 2, NULL, 0), "not_manager") == 0);
    assert(strcmp(users_apply_manager_check(store, txn, "u9", 2, NULL, 0), "not_found") == 0);
    return 0;
}

static void s_test_cstr_or_nil(msgpack_packer *pk, const char *str)
{
    if (str)
        rp_pack_cstr(pk, str);
    else
        msgpack_pack_nil(pk);
}

//  user.preferences_set {id, expected_version (when ≥ 0), preferences:
//  {time_zone, locale}} (NULL: nil).
static void s_test_preferences(rp_store_t *store, uint64_t seq, const char *id, int expected,
                               const char *time_zone, const char *locale)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, expected >= 0 ? 3 : 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (expected >= 0)
        rp_pack_kv_u64(&data.pk, "expected_version", (uint64_t)expected);
    rp_pack_cstr(&data.pk, "preferences");
    msgpack_pack_map(&data.pk, 2);
    rp_pack_cstr(&data.pk, "time_zone");
    s_test_cstr_or_nil(&data.pk, time_zone);
    rp_pack_cstr(&data.pk, "locale");
    s_test_cstr_or_nil(&data.pk, locale);
    s_test_event(store, seq, "user.preferences_set", &data);
    rp_packer_destroy(&data);
}

typedef struct {
    const char *id;
    char time_zone[64], locale[64];
    uint64_t version;
} test_prefs_t;

static int s_test_prefs_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_prefs_t *p = (test_prefs_t *)arg;
    MDB_val key = {strlen(p->id), (void *)p->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, PREFERENCES_DB), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    s_test_copy(p->time_zone, sizeof p->time_zone, rp_obj_get(rp_doc_root(doc), "time_zone"));
    s_test_copy(p->locale, sizeof p->locale, rp_obj_get(rp_doc_root(doc), "locale"));
    rp_obj_u64(rp_obj_get(rp_doc_root(doc), "version"), &p->version);
    rp_doc_destroy(&doc);
    return 0;
}

static test_prefs_t s_test_prefs(rp_store_t *store, const char *id)
{
    test_prefs_t p = {.id = id};
    rp_store_read(store, s_test_prefs_read, &p);
    return p;
}

static void s_test_journal(rp_store_t *store)
{
    //  Created: every field stored, times from the event, both key indexes.
    s_test_created(store, 1, "u1", 'a', "Boss@Example.CN", "manager", NULL);
    s_test_expect(store, 1, 200, NULL, NULL);
    assert(s_test_outcome(store, 1).key_hash);
    test_field_t f = s_test_field(store, "u1", USER_EMAIL);
    assert(strcmp(f.out, "boss@example.cn") == 0 && f.version == 1 && f.active);
    assert(strcmp(s_test_field(store, "u1", USER_CREATED_AT).out, "2026-11-23T08:00:01.000Z") == 0);
    assert(strcmp(s_test_field(store, "u1", USER_TEAM).out, "") == 0);
    s_test_index(store, "emails", "boss@example.cn", "u1");
    s_test_index(store, "keys", s_test_hash('a'), "u1");
    s_test_index(store, "user_keys", "u1", s_test_hash('a'));

    //  The same e-mail (any case), a reused id, a taken key hash, a bad hash.
    s_test_created(store, 2, "u2", 'b', "BOSS@example.cn", "sales", NULL);
    s_test_expect(store, 2, 409, "duplicate", "u1");
    assert(!s_test_outcome(store, 2).key_hash);
    s_test_created(store, 3, "u1", 'c', "other@example.cn", "sales", NULL);
    s_test_expect(store, 3, 409, "exists", NULL);
    s_test_created(store, 4, "u2", 'a', "other@example.cn", "sales", NULL);
    s_test_expect(store, 4, 409, "key_conflict", NULL);
    s_test_created(store, 5, "u2", 'A', "other@example.cn", "sales", NULL);
    s_test_expect(store, 5, 422, "bad_event", NULL);
    assert(s_test_field(store, "u2", USER_NAME).out[0] == 0);

    //  Managers: an active manager or admin, not a sales, not a stranger.
    s_test_created(store, 6, "u3", 'c', "rep@example.cn", "sales", "u1");
    s_test_expect(store, 6, 200, NULL, NULL);
    assert(strcmp(s_test_field(store, "u3", USER_MANAGER_ID).out, "u1") == 0);
    s_test_created(store, 7, "u4", 'd', "rep2@example.cn", "sales", "u3");
    s_test_expect(store, 7, 422, "invalid", "not_manager");
    s_test_created(store, 8, "u4", 'd', "rep2@example.cn", "sales", "zz");
    s_test_expect(store, 8, 422, "invalid", "not_found");

    //  Updated: version checked, e-mail index moved, self-management refused.
    s_test_updated(store, 9, "u3", 1, "email", "Rep.Wang@Example.CN");
    s_test_expect(store, 9, 200, NULL, NULL);
    f = s_test_field(store, "u3", USER_EMAIL);
    assert(strcmp(f.out, "rep.wang@example.cn") == 0 && f.version == 2);
    s_test_index(store, "emails", "rep@example.cn", "");
    s_test_index(store, "emails", "rep.wang@example.cn", "u3");
    s_test_updated(store, 10, "u3", 1, "team", "east");
    s_test_expect(store, 10, 412, "version_mismatch", NULL);
    s_test_updated(store, 11, "u3", 0, "email", "boss@example.cn");
    s_test_expect(store, 11, 409, "duplicate", "u1");
    s_test_updated(store, 12, "u3", 0, "manager_id", "u3");
    s_test_expect(store, 12, 422, "invalid", "self");
    s_test_updated(store, 13, "u3", 0, "role", "root");
    s_test_expect(store, 13, 422, "bad_event", NULL);
    s_test_updated(store, 14, "nobody", 0, "team", "east");
    s_test_expect(store, 14, 404, "not_found", NULL);
    assert(s_test_field(store, "u3", USER_VERSION).version == 2);

    //  Key rotated: the old hash no longer maps, the new one does.
    s_test_simple(store, 15, "user.key_rotated", "u3", 'e');
    s_test_expect(store, 15, 200, NULL, NULL);
    assert(s_test_outcome(store, 15).key_hash);
    s_test_index(store, "keys", s_test_hash('c'), "");
    s_test_index(store, "keys", s_test_hash('e'), "u3");
    assert(s_test_field(store, "u3", USER_VERSION).version == 3);
    s_test_simple(store, 16, "user.key_rotated", "u3", 'a');
    s_test_expect(store, 16, 409, "key_conflict", NULL);

    //  Revoked: inactive, e-mail and key freed; twice is no new version;
    //  then no update or rotation; the e-mail can be reused.
    s_test_simple(store, 17, "user.revoked", "u1", 0);
    s_test_expect(store, 17, 200, NULL, NULL);
    f = s_test_field(store, "u1", USER_VERSION);
    assert(!f.active && f.version == 2);
    s_test_index(store, "emails", "boss@example.cn", "");
    s_test_index(store, "keys", s_test_hash('a'), "");
    s_test_index(store, "user_keys", "u1", "");
    s_test_simple(store, 18, "user.revoked", "u1", 0);
    s_test_expect(store, 18, 200, NULL, NULL);
    assert(s_test_field(store, "u1", USER_VERSION).version == 2);
    s_test_updated(store, 19, "u1", 0, "team", "east");
    s_test_expect(store, 19, 409, "revoked", NULL);
    s_test_simple(store, 20, "user.key_rotated", "u1", 'f');
    s_test_expect(store, 20, 409, "revoked", NULL);
    s_test_created(store, 21, "u5", 'f', "boss@example.cn", "admin", NULL);
    s_test_expect(store, 21, 200, NULL, NULL);

    //  u3's manager is revoked: other changes still pass, a new pick of
    //  a revoked manager does not.
    s_test_updated(store, 22, "u3", 3, "team", "east");
    s_test_expect(store, 22, 200, NULL, NULL);
    s_test_updated(store, 23, "u3", 0, "manager_id", "u1");
    s_test_expect(store, 23, 422, "invalid", "not_found");
    s_test_updated(store, 24, "u3", 0, "manager_id", "u5");
    s_test_expect(store, 24, 200, NULL, NULL);

    //  Unknown user.* type; another service's type (no outcome); no id.
    s_test_simple(store, 25, "user.renamed", "u3", 0);
    s_test_expect(store, 25, 422, "unknown_type", NULL);
    s_test_simple(store, 26, "customer.created", "u3", 0);
    assert(s_test_outcome(store, 26).status == 0);
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 0);
    s_test_event(store, 27, "user.revoked", &data);
    assert(s_test_outcome(store, 27).status == 0);
    rp_packer_destroy(&data);
    assert(s_test_field(store, "u3", USER_ACTIVE).active);

    //  Preferences: set, a stale version refused, a setting cleared, a
    //  malformed event refused; the user record is not touched.
    s_test_preferences(store, 28, "u3", -1, "Asia/Shanghai", "zh-CN");
    s_test_expect(store, 28, 200, NULL, NULL);
    test_prefs_t p = s_test_prefs(store, "u3");
    assert(strcmp(p.time_zone, "Asia/Shanghai") == 0 && strcmp(p.locale, "zh-CN") == 0);
    assert(p.version == 1);
    s_test_preferences(store, 29, "u3", 0, "UTC", NULL);
    s_test_expect(store, 29, 412, "version_mismatch", NULL);
    s_test_preferences(store, 30, "u3", 1, NULL, "en");
    s_test_expect(store, 30, 200, NULL, NULL);
    p = s_test_prefs(store, "u3");
    assert(p.time_zone[0] == 0 && strcmp(p.locale, "en") == 0 && p.version == 2);
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "u3");
    rp_pack_kv_cstr(&data.pk, "preferences", "UTC");
    s_test_event(store, 31, "user.preferences_set", &data);
    s_test_expect(store, 31, 422, "invalid", NULL);
    rp_packer_destroy(&data);
    assert(s_test_prefs(store, "u3").version == 2);
    assert(s_test_field(store, "u3", USER_VERSION).version == 5); //  as after seq 24

    //  The manager check as the handlers use it.
    rp_store_read(store, s_test_manager_read, NULL);
}

void users_apply_test(void)
{
    rp_apply_test_replay("users", users_apply_dbnames, s_test_journal);
}
