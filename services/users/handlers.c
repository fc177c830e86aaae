/*  handlers.c — the users ops: checks, scoping, keys, events, replies. */
#include "handlers.h"
#include "apikey.h"
#include "apply.h"
#include "preferences.h"
#include "user.h"

#include <rapport/event.h>
#include <rapport/log.h>
#include <rapport/outcome.h>
#include <rapport/random.h>
#include <rapport/scope.h>
#include <rapport/testservice.h>
#include <rapport/write.h>

#include <sodium.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS       5000 //  append reply, then apply: each bounded
#define LIST_MAX      200
#define LIST_DEFAULT  50
#define LIST_MAX_SCAN 20000 //  records looked at per list call; then a cursor

struct _users_handlers_t {
    rp_writes_t *writes; //  in flight (rp_writes: append, wait, errors)
};

//  What a write needs once applied. keyed writes (create, rotate_key)
//  hold the clear key they generated until they answer.
typedef struct {
    bool keyed;
    char key[APIKEY_LEN + 1];
    char key_hash[APIKEY_HASH_LEN + 1];
} write_t;

//  The caller (rapport/scope.h): no sane user has no rights at all.
typedef rp_scope_t actor_t;

users_handlers_t *users_handlers_new(void)
{
    users_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = rp_writes_new();
    return self;
}

rp_writes_t *users_handlers_writes(users_handlers_t *self)
{
    return self->writes;
}

int users_handlers_init(rp_config_t *config, void **arg)
{
    (void)config;
    if (sodium_init() < 0) { //  keys come from its random generator
        rp_error("users: libsodium failed to initialise");
        return 1;
    }
    *arg = users_handlers_new();
    return 0;
}

void users_handlers_fini(void *arg)
{
    users_handlers_t *self = (users_handlers_t *)arg;
    users_handlers_destroy(&self);
}

//  rp_write_free_fn: the clear key is wiped before the memory goes.
static void s_write_free(void *arg)
{
    write_t *write = (write_t *)arg;
    apikey_wipe(write->key);
    free(write);
}

void users_handlers_destroy(users_handlers_t **self_p)
{
    users_handlers_t *self = *self_p;
    if (!self)
        return;
    rp_writes_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Actor and scope

static bool s_bytes_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a && b && a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool s_is_self(const actor_t *actor, const char *id, size_t id_len)
{
    return rp_scope_is_user(actor, id, id_len);
}

//  Reads: admin everyone; a manager the users of their team; everyone
//  themselves.
static bool s_visible(const actor_t *actor, const rp_record_t *record)
{
    const char *id = NULL, *team = NULL;
    size_t id_len = 0, team_len = 0;
    rp_record_str(record, USER_ID, &id, &id_len);
    rp_record_str(record, USER_TEAM, &team, &team_len);
    if (!actor->user)
        return false;
    if (actor->role == RP_ROLE_ADMIN || s_is_self(actor, id, id_len))
        return true;
    return actor->role == RP_ROLE_MANAGER && rp_scope_is_team(actor, team, team_len);
}

static bool s_record_decode(const MDB_val *value, rp_doc_t **doc, rp_record_t *record)
{
    *doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    if (*doc)
        rp_record_from_map(record, rp_doc_root(*doc));
    return *doc != NULL;
}

//  ---------------------------------------------------------------------
//  Replies

static void s_reply_field_error(rp_service_t *service, rp_origin_t **origin_p, const char *field,
                                const char *code, const char *message)
{
    rp_field_error_t error;
    rp_field_error_set(&error, field, strlen(field), code);
    if (message)
        error.message = message;
    rp_service_reply_invalid(service, origin_p, "some fields are not valid", &error, 1);
}

//  409 duplicate: {fields: ["email"], ids: [holder]}
static void s_reply_duplicate(rp_service_t *service, rp_origin_t **origin_p, const char *holder)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack_error_details(&packer.pk, rp_origin_id(*origin_p), 409, "duplicate",
                                "an active user has this e-mail");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "fields");
    msgpack_pack_array(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "email");
    rp_pack_cstr(&packer.pk, "ids");
    msgpack_pack_array(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, holder);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  A stored record as reply data, read in one snapshot.
typedef struct {
    const char *id;
    size_t id_len;
    const actor_t *actor; //  NULL: no scope check
    bool active_only;
    rp_packer_t *packer;
    const msgpack_object *reply_id;
    bool found;
} record_read_t;

static int s_record_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    record_read_t *read = (record_read_t *)arg;
    MDB_val value;
    if (users_apply_record_get(store, txn, read->id, read->id_len, &value))
        return 0;
    rp_doc_t *doc;
    rp_record_t record;
    user_init(&record);
    if (s_record_decode(&value, &doc, &record) &&
        (!read->actor || s_visible(read->actor, &record)) &&
        (!read->active_only || rp_record_bool(&record, USER_ACTIVE))) {
        read->found = true;
        rp_reply_pack(&read->packer->pk, read->reply_id, 200, 0, 1);
        rp_pack_cstr(&read->packer->pk, "data");
        msgpack_sbuffer_write(&read->packer->buffer, value.mv_data, value.mv_size);
    }
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply_record(rp_service_t *service, rp_origin_t **origin_p, const actor_t *actor,
                           bool active_only, const char *id, size_t id_len)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    record_read_t read = {id, id_len, actor, active_only, &packer, rp_origin_id(*origin_p), false};
    rp_store_read(rp_service_store(service), s_record_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such user");
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  Writes: append, wait, answer the outcome

static const char *s_outcome_message(int status, const char *code, size_t code_len)
{
    if (s_bytes_eq(code, code_len, "revoked", 7))
        return "the user is revoked";
    if (s_bytes_eq(code, code_len, "duplicate", 9))
        return "an active user has this e-mail";
    if (s_bytes_eq(code, code_len, "invalid", 7))
        return "some fields are not valid";
    return status == 412   ? "the user changed since that version"
           : status == 404 ? "no such user"
                           : "the change was refused";
}

//  The outcome of the write's seq and, when it succeeded, the record, read
//  in one snapshot and packed as the whole reply.
typedef struct {
    write_t *write;
    const msgpack_object *reply_id;
    uint64_t seq;
    rp_packer_t packer;
    int status; //  0: no outcome
} answer_t;

//  data: the record, or {user: record, key: the clear key | nil} — nil
//  when the key in force is not the one this request generated (an
//  idempotent retry: the first request's key was answered once, and
//  never stored).
static void s_answer_success(answer_t *answer, const msgpack_object *root, const MDB_val *record)
{
    write_t *write = answer->write;
    msgpack_packer *pk = &answer->packer.pk;
    rp_reply_pack(pk, answer->reply_id, 200, answer->seq, 1);
    rp_pack_cstr(pk, "data");
    if (write->keyed) {
        msgpack_pack_map(pk, 2);
        rp_pack_cstr(pk, "user");
    }
    msgpack_sbuffer_write(&answer->packer.buffer, record->mv_data, record->mv_size);
    if (write->keyed) {
        rp_pack_cstr(pk, "key");
        if (rp_obj_streq(rp_obj_get(root, "key_hash"), write->key_hash))
            rp_pack_cstr(pk, write->key);
        else
            msgpack_pack_nil(pk);
    }
}

static int s_answer(rp_store_t *store, MDB_txn *txn, void *arg)
{
    answer_t *answer = (answer_t *)arg;
    MDB_val value, record;
    if (rp_outcome_get(store, txn, answer->seq, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return 0;
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t status = 0;
    const char *id = NULL;
    size_t id_len = 0;
    rp_obj_u64(rp_obj_get(root, "status"), &status);
    rp_obj_str(rp_obj_get(root, "id"), &id, &id_len);
    if (status == 200 && users_apply_record_get(store, txn, id, id_len, &record) == 0) {
        s_answer_success(answer, root, &record);
        answer->status = 200;
    } else if (status >= 400 && status < 600) {
        rp_writes_refusal(&answer->packer, answer->reply_id, answer->seq, (int)status, root,
                          s_outcome_message);
        answer->status = (int)status;
    }
    rp_doc_destroy(&doc);
    return 0;
}

static void s_write_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    answer_t answer = {.write = (write_t *)arg, .reply_id = rp_origin_id(*origin_p), .seq = seq};
    rp_packer_init(&answer.packer);
    rp_store_read(rp_service_store(service), s_answer, &answer);
    if (answer.status)
        rp_service_reply(service, origin_p, answer.packer.buffer.data, answer.packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    //  The reply may have held the clear key: wipe it before freeing.
    sodium_memzero(answer.packer.buffer.data, answer.packer.buffer.size);
    rp_packer_destroy(&answer.packer);
}

//  Append the event and answer once it is applied (frees event; a keyed
//  write's key moves into the write_t).
static void s_write_append(users_handlers_t *self, rp_service_t *service, rp_origin_t **origin_p,
                           rp_packer_t *event, const char *idem, char *key, const char *key_hash)
{
    write_t *write = calloc(1, sizeof *write);
    assert(write);
    if (key) {
        write->keyed = true;
        memcpy(write->key, key, sizeof write->key);
        memcpy(write->key_hash, key_hash, sizeof write->key_hash);
        apikey_wipe(key);
    }
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    rp_writes_append(self->writes, service, origin_p, events, 1, idem, WAIT_MS, s_write_applied,
                     write, s_write_free);
    rp_packer_destroy(event);
}

//  Checks common to every write; on failure replies and returns false.
//  Only admins change users, except that anyone rotates their own key
//  (checked by the caller once it knows the id).
static bool s_write_allowed(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                            const actor_t *actor, bool admin_only, char idem[RP_MAX_IDEM + 1])
{
    return rp_writes_admit(service, origin_p, req,
                           actor->user && (!admin_only || actor->role == RP_ROLE_ADMIN),
                           "only an admin changes users", idem);
}

//  Checks against the store before appending: the e-mail free among
//  active users, the manager an active manager or admin. Apply checks
//  again, in order, for the races.
typedef struct {
    const rp_record_t *record;
    const char *self_id; //  NULL on create
    size_t self_id_len;
    char holder[USER_MAX_ID + 1]; //  who has the e-mail
    const char *manager_error;
} store_check_t;

static int s_store_check(rp_store_t *store, MDB_txn *txn, void *arg)
{
    store_check_t *check = (store_check_t *)arg;
    const char *str;
    size_t len;
    MDB_val id;
    if (rp_record_str(check->record, USER_EMAIL, &str, &len) &&
        users_apply_email_get(store, txn, str, len, &id) == 0 && id.mv_size <= USER_MAX_ID &&
        !s_bytes_eq(id.mv_data, id.mv_size, check->self_id, check->self_id_len)) {
        memcpy(check->holder, id.mv_data, id.mv_size);
        check->holder[id.mv_size] = 0;
    }
    if (rp_record_str(check->record, USER_MANAGER_ID, &str, &len))
        check->manager_error =
            users_apply_manager_check(store, txn, str, len, check->self_id, check->self_id_len);
    return 0;
}

static bool s_store_ok(rp_service_t *service, rp_origin_t **origin_p, const rp_record_t *record,
                       const char *self_id, size_t self_id_len)
{
    store_check_t check = {record, self_id, self_id_len, "", NULL};
    rp_store_read(rp_service_store(service), s_store_check, &check);
    if (check.holder[0])
        s_reply_duplicate(service, origin_p, check.holder);
    else if (check.manager_error) {
        rp_field_error_t error;
        user_manager_error(&error, check.manager_error);
        rp_service_reply_invalid(service, origin_p, "some fields are not valid", &error, 1);
    }
    return !check.holder[0] && !check.manager_error;
}

//  Validate a client's fields; replies 422 and returns false if any is bad.
static bool s_validate(rp_service_t *service, rp_origin_t **origin_p, const msgpack_object *fields,
                       bool create, rp_record_t *record)
{
    rp_field_error_t errors[USER_MAX_ERRORS];
    int count = rp_record_validate(record, fields, NULL, create, NULL, errors, USER_MAX_ERRORS);
    if (count)
        rp_service_reply_invalid(service, origin_p, "some fields are not valid", errors, count);
    return count == 0;
}

static void s_create(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    users_handlers_t *self = (users_handlers_t *)arg;
    actor_t parsed, *actor = &parsed;
    rp_scope_parse(actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_write_allowed(service, &origin, req, actor, true, idem))
        return;
    rp_record_t record;
    user_init(&record);
    //  A request with an idem key skips the store checks: its retry must get
    //  the first answer (apply checks again and records the outcome under
    //  the first seq), not a 409 against the user it created.
    if (s_validate(service, &origin, req->args, true, &record) &&
        (req->idem || s_store_ok(service, &origin, &record, NULL, 0))) {
        char id[RP_ID_SIZE], key[APIKEY_LEN + 1], hash[APIKEY_HASH_LEN + 1];
        rp_id_format(id);
        apikey_generate(key);
        apikey_hash(key, APIKEY_LEN, hash);
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "user.created", "users", id, strlen(id), actor);
        msgpack_pack_map(&event.pk, 3);
        rp_pack_kv_cstr(&event.pk, "id", id);
        rp_pack_kv_cstr(&event.pk, "key_hash", hash);
        rp_pack_cstr(&event.pk, "record");
        rp_record_pack_given(&record, &event.pk);
        s_write_append(self, service, &origin, &event, idem, key, hash);
    }
    rp_record_reset(&record);
}

//  The target of update/rotate_key/revoke: args.id must name a stored user.
//  Replies and returns false otherwise.
typedef struct {
    const char *id;
    size_t id_len;
    bool found;
    uint64_t version;
    bool active;
} target_t;

static int s_target_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *target = (target_t *)arg;
    MDB_val value;
    if (users_apply_record_get(store, txn, target->id, target->id_len, &value))
        return 0;
    rp_doc_t *doc;
    rp_record_t record;
    user_init(&record);
    if (s_record_decode(&value, &doc, &record)) {
        target->found = true;
        target->version = rp_record_u64(&record, USER_VERSION);
        target->active = rp_record_bool(&record, USER_ACTIVE);
    }
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static bool s_target_id(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                        target_t *target)
{
    if (rp_obj_str(rp_obj_get(req->args, "id"), &target->id, &target->id_len) && target->id_len > 0)
        return true;
    rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
    return false;
}

static bool s_target(rp_service_t *service, rp_origin_t **origin_p, target_t *target)
{
    rp_store_read(rp_service_store(service), s_target_read, target);
    if (!target->found)
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such user");
    return target->found;
}

//  Early answers a request without idem gets: revoked, stale version.
static bool s_target_current(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                             const target_t *target, const msgpack_object *version_obj,
                             uint64_t version)
{
    if (req->idem)
        return true;
    if (version_obj && version != target->version) {
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the user changed since that version");
        return false;
    }
    return true;
}

static bool s_revoked_answer(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                             const target_t *target)
{
    if (req->idem || target->active)
        return false;
    rp_service_reply_error(service, origin_p, 409, "revoked", "the user is revoked");
    return true;
}

static void s_update(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    users_handlers_t *self = (users_handlers_t *)arg;
    actor_t parsed, *actor = &parsed;
    rp_scope_parse(actor, req);
    char idem[RP_MAX_IDEM + 1];
    target_t target = {0};
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_write_allowed(service, &origin, req, actor, true, idem) ||
        !s_target_id(service, &origin, req, &target) ||
        !rp_writes_version_arg(service, &origin, req, &version_obj, &version) ||
        !s_target(service, &origin, &target) || s_revoked_answer(service, &origin, req, &target) ||
        !s_target_current(service, &origin, req, &target, version_obj, version))
        return;
    const msgpack_object *changes_obj = rp_obj_get(req->args, "changes");
    if (!rp_obj_is_map(changes_obj)) {
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.changes must be a map");
        return;
    }
    if (changes_obj->via.map.size == 0) {
        s_reply_field_error(service, &origin, "changes", "required", "nothing to change");
        return;
    }
    rp_record_t changes;
    user_init(&changes);
    if (s_validate(service, &origin, changes_obj, false, &changes) &&
        (req->idem || s_store_ok(service, &origin, &changes, target.id, target.id_len))) {
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "user.updated", "users", target.id, target.id_len, actor);
        msgpack_pack_map(&event.pk, version_obj ? 3 : 2);
        rp_pack_cstr(&event.pk, "id");
        rp_pack_strn(&event.pk, target.id, target.id_len);
        if (version_obj)
            rp_pack_kv_u64(&event.pk, "expected_version", version);
        rp_pack_cstr(&event.pk, "changes");
        rp_record_pack_given(&changes, &event.pk);
        s_write_append(self, service, &origin, &event, idem, NULL, NULL);
    }
    rp_record_reset(&changes);
}

static void s_rotate_key(void *arg, rp_service_t *service, rp_origin_t *origin,
                         const rp_request_t *req)
{
    users_handlers_t *self = (users_handlers_t *)arg;
    actor_t parsed, *actor = &parsed;
    rp_scope_parse(actor, req);
    char idem[RP_MAX_IDEM + 1];
    target_t target = {0};
    if (!s_write_allowed(service, &origin, req, actor, false, idem) ||
        !s_target_id(service, &origin, req, &target))
        return;
    if (actor->role != RP_ROLE_ADMIN && !s_is_self(actor, target.id, target.id_len)) {
        rp_service_reply_error(service, &origin, 403, "forbidden",
                               "only an admin rotates another user's key");
        return;
    }
    if (!s_target(service, &origin, &target) || s_revoked_answer(service, &origin, req, &target))
        return;
    char key[APIKEY_LEN + 1], hash[APIKEY_HASH_LEN + 1];
    apikey_generate(key);
    apikey_hash(key, APIKEY_LEN, hash);
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, "user.key_rotated", "users", target.id, target.id_len, actor);
    msgpack_pack_map(&event.pk, 2);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, target.id, target.id_len);
    rp_pack_kv_cstr(&event.pk, "key_hash", hash);
    s_write_append(self, service, &origin, &event, idem, key, hash);
}

static void s_revoke(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    users_handlers_t *self = (users_handlers_t *)arg;
    actor_t parsed, *actor = &parsed;
    rp_scope_parse(actor, req);
    char idem[RP_MAX_IDEM + 1];
    target_t target = {0};
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_write_allowed(service, &origin, req, actor, true, idem) ||
        !s_target_id(service, &origin, req, &target) ||
        !rp_writes_version_arg(service, &origin, req, &version_obj, &version) ||
        !s_target(service, &origin, &target) ||
        !s_target_current(service, &origin, req, &target, version_obj, version))
        return;
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, "user.revoked", "users", target.id, target.id_len, actor);
    msgpack_pack_map(&event.pk, version_obj ? 2 : 1);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, target.id, target.id_len);
    if (version_obj)
        rp_pack_kv_u64(&event.pk, "expected_version", version);
    s_write_append(self, service, &origin, &event, idem, NULL, NULL);
}

//  ---------------------------------------------------------------------
//  Reads

static void s_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    actor_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply_record(service, &origin, &actor, false, id, len);
}

typedef struct {
    const char *hash;
    size_t len;
    char id[USER_MAX_ID + 1];
} key_lookup_t;

static int s_key_lookup(rp_store_t *store, MDB_txn *txn, void *arg)
{
    key_lookup_t *lookup = (key_lookup_t *)arg;
    MDB_val id;
    if (users_apply_key_get(store, txn, lookup->hash, lookup->len, &id) == 0 &&
        id.mv_size <= USER_MAX_ID) {
        memcpy(lookup->id, id.mv_data, id.mv_size);
        lookup->id[id.mv_size] = 0;
    }
    return 0;
}

//  The active user holding a key hash, for the gateway's authentication.
//  No actor needed: the hash stands for the key itself.
static void s_by_key(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    const char *hash;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "key_hash"), &hash, &len) ||
        !apikey_hash_valid(hash, len)) {
        rp_service_reply_error(service, &origin, 400, "bad_args",
                               "args.key_hash must be 64 lowercase hex digits");
        return;
    }
    key_lookup_t lookup = {hash, len, ""};
    rp_store_read(rp_service_store(service), s_key_lookup, &lookup);
    s_reply_record(service, &origin, NULL, true, lookup.id, strlen(lookup.id));
}

typedef struct {
    const actor_t *actor;
    uint64_t limit;
    const char *cursor, *team;
    size_t cursor_len, team_len;
    rp_role_t role; //  NONE: any
    bool include_revoked;
    rp_packer_t items; //  the records, concatenated
    size_t count;
    char next[USER_MAX_ID + 1];
} list_t;

static bool s_list_match(const list_t *list, const rp_record_t *record)
{
    const char *str;
    size_t len;
    if (!list->include_revoked && !rp_record_bool(record, USER_ACTIVE))
        return false;
    if (!s_visible(list->actor, record))
        return false;
    if (list->team && !(rp_record_str(record, USER_TEAM, &str, &len) &&
                        s_bytes_eq(str, len, list->team, list->team_len)))
        return false;
    return list->role == RP_ROLE_NONE ||
           (rp_record_str(record, USER_ROLE, &str, &len) && rp_role_parse(str, len) == list->role);
}

//  Walk ids in order from just after the cursor; stop at limit matches or
//  after LIST_MAX_SCAN records (then the cursor says where to go on).
static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "users"), &cursor);
    if (rc)
        return rc;
    MDB_val key = {list->cursor_len, (void *)list->cursor}, value;
    rc = mdb_cursor_get(cursor, &key, &value, list->cursor ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && list->cursor &&
        s_bytes_eq(key.mv_data, key.mv_size, list->cursor, list->cursor_len))
        rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
    size_t scanned = 0;
    for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        if (list->count == list->limit || scanned == LIST_MAX_SCAN)
            break; //  more remain: next_cursor is the last id looked at
        scanned++;
        if (key.mv_size <= USER_MAX_ID) {
            memcpy(list->next, key.mv_data, key.mv_size);
            list->next[key.mv_size] = 0;
        }
        rp_doc_t *doc;
        rp_record_t record;
        user_init(&record);
        if (s_record_decode(&value, &doc, &record) && s_list_match(list, &record)) {
            msgpack_sbuffer_write(&list->items.buffer, value.mv_data, value.mv_size);
            list->count++;
        }
        rp_record_reset(&record);
        rp_doc_destroy(&doc);
    }
    if (rc == MDB_NOTFOUND)
        list->next[0] = 0; //  the end: no next page
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  An optional string filter of min..max bytes; false (and a reply) if
//  mistyped.
static bool s_list_arg(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                       const char *name, size_t min, size_t max, const char **str, size_t *len)
{
    const msgpack_object *o = rp_obj_get(req->args, name);
    *str = NULL;
    *len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (rp_obj_str(o, str, len) && *len >= min && *len <= max)
        return true;
    char message[96];
    snprintf(message, sizeof message, "%s must be a string of %zu..%zu bytes", name, min, max);
    s_reply_field_error(service, origin_p, name, "invalid", message);
    return false;
}

//  limit, role and include_revoked; false (and a reply) if mistyped.
static bool s_list_options(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                           list_t *list)
{
    const msgpack_object *limit = rp_obj_get(req->args, "limit");
    if (limit && limit->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_u64(limit, &list->limit) || list->limit < 1 || list->limit > LIST_MAX)) {
        s_reply_field_error(service, origin_p, "limit", "out_of_range", "limit must be 1..200");
        return false;
    }
    const msgpack_object *revoked = rp_obj_get(req->args, "include_revoked");
    if (revoked && revoked->type != MSGPACK_OBJECT_NIL &&
        !rp_obj_bool(revoked, &list->include_revoked)) {
        s_reply_field_error(service, origin_p, "include_revoked", "type",
                            "include_revoked must be true or false");
        return false;
    }
    const char *role;
    size_t role_len;
    if (!s_list_arg(service, origin_p, req, "role", 1, 32, &role, &role_len))
        return false;
    list->role = role ? rp_role_parse(role, role_len) : RP_ROLE_NONE;
    if (role && list->role == RP_ROLE_NONE) {
        s_reply_field_error(service, origin_p, "role", "invalid", "role is one of " RP_ROLES);
        return false;
    }
    return true;
}

static void s_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    actor_t actor;
    rp_scope_parse(&actor, req);
    if (!actor.user) {
        rp_service_reply_error(service, &origin, 403, "forbidden", "no actor");
        return;
    }
    list_t list = {.actor = &actor, .limit = LIST_DEFAULT};
    if (!s_list_options(service, &origin, req, &list) ||
        !s_list_arg(service, &origin, req, "cursor", 1, USER_MAX_ID, &list.cursor,
                    &list.cursor_len) ||
        !s_list_arg(service, &origin, req, "team", 0, USER_MAX_TEAM, &list.team, &list.team_len))
        return;
    rp_packer_init(&list.items);
    int rc = rp_store_read(rp_service_store(service), s_list_read, &list);
    if (rc)
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &origin, &list.items, list.count, list.next);
    rp_packer_destroy(&list.items);
}

//  ---------------------------------------------------------------------

const rp_service_op_t users_handlers_ops[] = {
    {"users.get", RP_OP_READ, s_get},                        //  one user, in the caller's scope
    {"users.list", RP_OP_READ, s_list},                      //  a page of them
    {"users.by_key", RP_OP_READ, s_by_key},                  //  the gateway's key lookup
    {"users.create", RP_OP_WRITE, s_create},                 //  user.created, with a new key
    {"users.update", RP_OP_WRITE, s_update},                 //  user.updated
    {"users.rotate_key", RP_OP_WRITE, s_rotate_key},         //  user.key_rotated, a new key
    {"users.revoke", RP_OP_WRITE, s_revoke},                 //  user.revoked
    {"users.preferences", RP_OP_READ, preferences_get},      //  the caller's settings
    {"users.set_preferences", RP_OP_WRITE, preferences_set}, //  user.preferences_set
    {NULL},
};

//  ---------------------------------------------------------------------
//  Self-test: requests through the runtime and the test broker, and the
//  replies the system tests (tests/system/test_users.py) expect.

//  users.create by actor; the new user's id into id (when 200).
static rp_doc_t *s_test_create(rp_testservice_t *service, const rp_testservice_actor_t *actor,
                               const char *email, const char *role, rp_reply_t *reply,
                               char id[USER_MAX_ID + 1])
{
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, (const char *[]){"name", "李雷", "email", email, "role", role,
                                                "team", "east", NULL});
    rp_doc_t *doc = rp_testservice_call(service, true, "users.create", actor, NULL, &args, reply);
    rp_packer_destroy(&args);
    const char *str;
    size_t len;
    if (reply->status == 200 &&
        rp_obj_str(rp_obj_get(rp_obj_get(reply->data, "user"), "id"), &str, &len) &&
        len <= USER_MAX_ID) {
        memcpy(id, str, len);
        id[len] = 0;
    }
    return doc;
}

void users_handlers_test(void)
{
    static const rp_service_def_t def = {.name = "users",
                                         .writer = true,
                                         .dbnames = users_apply_dbnames,
                                         .apply = users_apply_event,
                                         .ops = users_handlers_ops,
                                         .init = users_handlers_init,
                                         .fini = users_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t admin = {"admin", "admin", NULL}, max = {"max", "manager", "east"},
                                 none = {NULL, NULL, NULL};
    rp_reply_t reply;
    char id[USER_MAX_ID + 1] = "", other[USER_MAX_ID + 1] = "";

    //  Created by an admin, with a key answered once; by anyone else 403.
    rp_doc_t *doc = s_test_create(service, &admin, "Li.Lei@Example.CN", "sales", &reply, id);
    assert(reply.status == 200 && id[0]);
    const msgpack_object *user = rp_obj_get(reply.data, "user");
    assert(rp_obj_streq(rp_obj_get(user, "email"), "li.lei@example.cn"));
    const char *key;
    size_t key_len;
    assert(rp_obj_str(rp_obj_get(reply.data, "key"), &key, &key_len) && key_len == APIKEY_LEN);
    char hash[APIKEY_HASH_LEN + 1];
    apikey_hash(key, key_len, hash);
    rp_doc_destroy(&doc);
    doc = s_test_create(service, &max, "x@example.cn", "sales", &reply, other);
    assert(rp_testservice_error_is(&reply, 403, "forbidden") && !other[0]);
    rp_doc_destroy(&doc);
    doc = s_test_create(service, &admin, "LI.LEI@example.cn", "sales", &reply, other);
    assert(rp_testservice_error_is(&reply, 409, "duplicate"));
    rp_doc_destroy(&doc);

    //  Reads: themselves, their team's manager; no actor: 404 on get,
    //  403 on list; by_key needs none.
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, (const char *[]){"id", id, NULL});
    const rp_testservice_actor_t self = {id, "sales", "east"};
    const rp_testservice_actor_t *seeing[] = {&self, &max, &admin};
    for (size_t i = 0; i < 3; i++) {
        doc = rp_testservice_call(service, false, "users.get", seeing[i], NULL, &args, &reply);
        assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "id"), id));
        rp_doc_destroy(&doc);
    }
    doc = rp_testservice_call(service, false, "users.get", &none, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "users.list", &none, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "users.list", &max, NULL, NULL, &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 1);
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"key_hash", hash, NULL});
    doc = rp_testservice_call(service, false, "users.by_key", &none, NULL, &args, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "id"), id));
    rp_doc_destroy(&doc);

    //  Updates: a nil version is absent, a stale one 412; rotating another
    //  user's key is an admin's; a role filter outside the five is 422.
    rp_packer_reset(&args);
    msgpack_pack_map(&args.pk, 3);
    rp_pack_kv_cstr(&args.pk, "id", id);
    rp_pack_cstr(&args.pk, "version");
    msgpack_pack_nil(&args.pk);
    rp_pack_cstr(&args.pk, "changes");
    msgpack_pack_map(&args.pk, 1);
    rp_pack_kv_cstr(&args.pk, "team", "west");
    doc = rp_testservice_call(service, true, "users.update", &admin, NULL, &args, &reply);
    uint64_t version = 0;
    assert(reply.status == 200 && rp_obj_u64(rp_obj_get(reply.data, "version"), &version) &&
           version == 2 && rp_obj_streq(rp_obj_get(reply.data, "team"), "west"));
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"id", id, "version", "#1", NULL});
    doc = rp_testservice_call(service, true, "users.revoke", &admin, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "users.rotate_key", &max, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"role", "root", NULL});
    doc = rp_testservice_call(service, false, "users.list", &admin, NULL, &args, &reply);
    assert(reply.status == 422);
    rp_doc_destroy(&doc);

    //  The runtime's refusals.
    doc = rp_testservice_call(service, false, "users.create", &admin, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "writer_only"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "users.revoke", &admin, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 400, "bad_args"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "users.nope", &admin, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "unknown_op"));
    rp_doc_destroy(&doc);

    rp_packer_destroy(&args);
    rp_testservice_destroy(&service);
}
