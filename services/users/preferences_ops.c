/*  preferences_ops.c — users.preferences and users.set_preferences (see
    preferences.h): the checks, the event, the answer. Apart from
    preferences.c so that the gateway, which folds user.* events with the
    users service's own apply (services/gateway/directory.h), links the
    record and its apply without the service's handlers. */
#include "handlers.h"
#include "preferences.h"
#include "user.h"

#include <rapport/event.h>
#include <rapport/scope.h>
#include <rapport/write.h>

#include <stdlib.h>
#include <string.h>

#define WAIT_MS 5000 //  append reply, then apply: each bounded

//  ---------------------------------------------------------------------
//  Reads: users.preferences {id}

//  The id a request is about: args.id, which must be the caller's own
//  unless the caller is an admin. Answers and returns false otherwise.
static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     const rp_scope_t *actor, const char **id, size_t *len)
{
    if (!rp_obj_str(rp_obj_get(req->args, "id"), id, len) || *len == 0 || *len > USER_MAX_ID) {
        rp_service_reply_error(service, origin_p, 400, "bad_args",
                               "args.id must be a user id of 1..64 bytes");
        return false;
    }
    if (!rp_scope_is_user(actor, *id, *len) && actor->role != RP_ROLE_ADMIN) {
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such user");
        return false;
    }
    return true;
}

typedef struct {
    const char *id;
    size_t id_len;
    const msgpack_object *reply_id;
    uint64_t seq;
    rp_packer_t packer;
} read_t;

//  The reply {id, status: 200, seq, data: the record}; a user who never
//  set anything has every setting nil, at version 0.
static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    read_t *read = (read_t *)arg;
    rp_reply_pack(&read->packer.pk, read->reply_id, 200, read->seq, 1);
    rp_pack_cstr(&read->packer.pk, "data");
    MDB_val key = {read->id_len, (void *)read->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, PREFERENCES_DB), &key, &value) == 0) {
        msgpack_sbuffer_write(&read->packer.buffer, value.mv_data, value.mv_size);
        return 0;
    }
    preferences_pack_unset(&read->packer.pk, read->id, read->id_len);
    return 0;
}

static void s_reply(rp_service_t *service, rp_origin_t **origin_p, const char *id, size_t len,
                    uint64_t seq)
{
    read_t read = {.id = id, .id_len = len, .reply_id = rp_origin_id(*origin_p), .seq = seq};
    rp_packer_init(&read.packer);
    rp_store_read(rp_service_store(service), s_read, &read);
    rp_service_reply(service, origin_p, read.packer.buffer.data, read.packer.buffer.size);
    rp_packer_destroy(&read.packer);
}

void preferences_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (s_target(service, &origin, req, &actor, &id, &len))
        s_reply(service, &origin, id, len, 0);
}

//  ---------------------------------------------------------------------
//  Writes: users.set_preferences {id, preferences: {…}, version?}

static const char *s_message(int status, const char *code, size_t code_len)
{
    (void)code, (void)code_len;
    return status == 412 ? "the preferences changed since that version" : "the change was refused";
}

static void s_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    (void)arg;
    rp_write_outcome_t outcome;
    rp_writes_outcome(rp_service_store(service), seq, rp_origin_id(*origin_p), s_message, &outcome);
    if (outcome.status == 200)
        s_reply(service, origin_p, outcome.id, strlen(outcome.id), seq);
    else if (outcome.status)
        rp_service_reply(service, origin_p, outcome.refusal.buffer.data,
                         outcome.refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&outcome.refusal);
}

typedef struct {
    const char *id;
    size_t id_len;
    uint64_t version; //  0: never set
} version_t;

static int s_version_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    version_t *v = (version_t *)arg;
    MDB_val key = {v->id_len, (void *)v->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, PREFERENCES_DB), &key, &value) == 0) {
        rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (doc)
            rp_obj_u64(rp_obj_get(rp_doc_root(doc), "version"), &v->version);
        rp_doc_destroy(&doc);
    }
    return 0;
}

//  A stale If-Match answered before anything is appended (apply checks
//  again, for the races). A retry with a key skips it: it must get the
//  first attempt's answer, whatever changed since.
static bool s_current(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                      const char *id, size_t len, const msgpack_object *version_obj,
                      uint64_t version)
{
    if (req->idem || !version_obj)
        return true;
    version_t v = {id, len, 0};
    rp_store_read(rp_service_store(service), s_version_read, &v);
    if (v.version == version)
        return true;
    rp_service_reply_error(service, origin_p, 412, "version_mismatch", s_message(412, NULL, 0));
    return false;
}

void preferences_set(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    const char *id;
    size_t len;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!rp_writes_admit(service, &origin, req, actor.user != NULL, "preferences belong to a user",
                         idem) ||
        !s_target(service, &origin, req, &actor, &id, &len) ||
        !rp_writes_version_arg(service, &origin, req, &version_obj, &version) ||
        !s_current(service, &origin, req, id, len, version_obj, version))
        return;
    const msgpack_object *given = rp_obj_get(req->args, "preferences");
    if (!rp_obj_is_map(given)) {
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.preferences must be a map");
        return;
    }
    rp_record_t record;
    rp_field_error_t errors[PREFERENCES_FIELDS];
    int count = preferences_validate(&record, given, errors);
    if (count) {
        rp_service_reply_invalid(service, &origin, "some preferences are not valid", errors, count);
    } else {
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "user.preferences_set", "users", id, len, &actor);
        msgpack_pack_map(&event.pk, version_obj ? 3 : 2);
        rp_pack_cstr(&event.pk, "id");
        rp_pack_strn(&event.pk, id, len);
        if (version_obj)
            rp_pack_kv_u64(&event.pk, "expected_version", version);
        rp_pack_cstr(&event.pk, "preferences");
        preferences_pack_settings(&record, &event.pk); //  every setting: a PUT
        rp_journal_event_t events[1] = {{event.buffer.data, event.buffer.size}};
        rp_writes_append(users_handlers_writes(arg), service, &origin, events, 1, idem, WAIT_MS,
                         s_applied, NULL, NULL);
        rp_packer_destroy(&event);
    }
    rp_record_reset(&record);
}
