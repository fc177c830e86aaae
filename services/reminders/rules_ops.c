/*  rules_ops.c — see rules_ops.h. */
#include "rules_ops.h"
#include "apply.h"
#include "handlers.h"
#include "rule.h"

#include <rapport/event.h>
#include <rapport/random.h>
#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/testservice.h>
#include <rapport/write.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS_WAIT_MS 10000 //  a write's wait for its own apply
#define LIST_MAX    500   //  rules in a list, at most

static const rp_write_message_t s_messages[] = {
    {"version_mismatch", "the rule changed since that version"},
    {"not_found", "no such rule"},
    {"exists", "a rule with that id exists"},
    {"bad_event", "the change is not valid"},
    {NULL},
};

static const char *s_message(int status, const char *code, size_t len)
{
    const char *message = rp_write_message(s_messages, code, len);
    return message ? message : status == 404 ? "no such rule" : "the change was refused";
}

//  Admins, and managers of a team, have rules at all.
static bool s_may(const rp_scope_t *actor)
{
    return actor->role == RP_ROLE_ADMIN || (actor->role == RP_ROLE_MANAGER && actor->team_len);
}

//  Does the actor reach a rule of team (NULL: every team's)?
static bool s_reaches(const rp_scope_t *actor, const msgpack_object *team)
{
    if (actor->role == RP_ROLE_ADMIN)
        return true;
    const char *str;
    size_t len;
    return s_may(actor) && rp_obj_str(team, &str, &len) && rp_scope_is_team(actor, str, len);
}

//  A stored rule in reach: a copy of its bytes (free), its version.
typedef struct {
    const rp_scope_t *actor; //  NULL: no scope check
    const char *id;
    size_t id_len;
    char *bytes;
    size_t size;
    uint64_t version;
} found_t;

static int s_find_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    found_t *found = (found_t *)arg;
    MDB_val key = {found->id_len, (void *)found->id}, value;
    if (!found->id_len || found->id_len > REMINDERS_MAX_ID ||
        mdb_get(txn, rp_store_dbi(store, "rules"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (doc && (!found->actor || s_reaches(found->actor, rp_obj_get(rp_doc_root(doc), "team")))) {
        uint64_t version = 0;
        rp_obj_u64(rp_obj_get(rp_doc_root(doc), "version"), &version);
        found->version = version;
        found->bytes = malloc(value.mv_size);
        assert(found->bytes);
        memcpy(found->bytes, value.mv_data, value.mv_size);
        found->size = value.mv_size;
    }
    rp_doc_destroy(&doc);
    return 0;
}

static bool s_find(rp_service_t *service, found_t *found)
{
    rp_store_read(rp_service_store(service), s_find_read, found);
    return found->bytes != NULL;
}

//  Reply the rule id (in the actor's reach, when given), or 404.
static void s_reply_rule(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor,
                         const char *id, size_t len, uint64_t seq)
{
    found_t found = {.actor = actor, .id = id, .id_len = len};
    if (!s_find(service, &found)) {
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such rule");
        return;
    }
    rp_packer_t p;
    rp_packer_init(&p);
    rp_reply_pack(&p.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&p.pk, "data");
    msgpack_sbuffer_write(&p.buffer, found.bytes, found.size);
    rp_service_reply(service, origin_p, p.buffer.data, p.buffer.size);
    rp_packer_destroy(&p);
    free(found.bytes);
}

static bool s_allowed(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor)
{
    if (s_may(actor))
        return true;
    rp_service_reply_error(service, origin_p, 403, "forbidden",
                           "rules are for admins and managers of a team");
    return false;
}

//  ---------------------------------------------------------------------
//  Reads

typedef struct {
    const rp_scope_t *actor;
    rp_packer_t *items;
    uint32_t count;
} list_t;

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "rules"), &c);
    MDB_val k, v;
    for (rc = rc ? rc : mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && list->count < LIST_MAX;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        if (doc && s_reaches(list->actor, rp_obj_get(rp_doc_root(doc), "team"))) {
            msgpack_sbuffer_write(&list->items->buffer, v.mv_data, v.mv_size);
            list->count++;
        }
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void reminders_rules_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    if (!s_allowed(service, &origin, &actor))
        return;
    rp_packer_t items;
    rp_packer_init(&items);
    list_t list = {&actor, &items, 0};
    rp_store_read(rp_service_store(service), s_list_read, &list);
    rp_packer_t p;
    rp_packer_init(&p);
    rp_reply_pack(&p.pk, rp_origin_id(origin), 200, 0, 1);
    rp_pack_cstr(&p.pk, "data");
    msgpack_pack_map(&p.pk, 2);
    rp_pack_cstr(&p.pk, "items");
    msgpack_pack_array(&p.pk, list.count);
    msgpack_sbuffer_write(&p.buffer, items.buffer.data, items.buffer.size);
    rp_pack_cstr(&p.pk, "next_cursor");
    msgpack_pack_nil(&p.pk);
    rp_service_reply(service, &origin, p.buffer.data, p.buffer.size);
    rp_packer_destroy(&p);
    rp_packer_destroy(&items);
}

void reminders_rules_get(void *arg, rp_service_t *service, rp_origin_t *origin,
                         const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!s_allowed(service, &origin, &actor))
        return;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply_rule(service, &origin, &actor, id, len, 0);
}

//  ---------------------------------------------------------------------
//  Writes

static void s_reply_stored(rp_service_t *service, rp_origin_t **origin_p, const char *id,
                           uint64_t seq)
{
    s_reply_rule(service, origin_p, NULL, id, strlen(id), seq);
}

//  Open the event {id, expected_version?, …extra}: the caller packs the
//  rest.
static void s_open(rp_packer_t *event, const char *type, const rp_scope_t *actor, const char *id,
                   size_t len, const msgpack_object *version_obj, uint64_t version, uint32_t extra)
{
    rp_packer_init(event);
    rp_event_open(&event->pk, type, "reminders", id, len, actor);
    msgpack_pack_map(&event->pk, 1 + (version_obj != NULL) + extra);
    rp_pack_cstr(&event->pk, "id");
    rp_pack_strn(&event->pk, id, len);
    if (version_obj)
        rp_pack_kv_u64(&event->pk, "expected_version", version);
}

//  Writes answer the rule as stored, a delete {id, deleted: true}.
static const rp_write_answer_t s_record = {s_message, s_reply_stored, false},
                               s_gone = {s_message, s_reply_stored, true};

//  The write's preamble: a role with rules, the idem, a lease.
static bool s_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1])
{
    return rp_writes_admit(service, origin_p, req, s_may(actor),
                           "rules are for admins and managers of a team", idem);
}

//  The rule args.id names, in reach, and args.version checked against it.
static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     const rp_scope_t *actor, found_t *found, const msgpack_object **version_obj,
                     uint64_t *version)
{
    memset(found, 0, sizeof *found);
    found->actor = actor;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &found->id, &found->id_len)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
        return false;
    }
    if (!s_find(service, found)) {
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such rule");
        return false;
    }
    if (!rp_writes_version_arg(service, origin_p, req, version_obj, version))
        return false;
    if (*version_obj && *version != found->version && !req->idem) {
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the rule changed since that version");
        return false;
    }
    return true;
}

//  The checks on changes (validated into it) and whole (the rule as it
//  would be stored): a manager's rules are their team's. The error count.
static int s_check(const rp_scope_t *actor, rp_record_t *changes, rp_record_t *whole, bool create,
                   rp_field_error_t *errors, int count)
{
    if (actor->role != RP_ROLE_ADMIN) {
        const char *team;
        size_t len;
        if (changes->given[RULE_TEAM] && !(rp_record_str(changes, RULE_TEAM, &team, &len) &&
                                           rp_scope_is_team(actor, team, len))) {
            rp_field_error_set(&errors[count], "team", 4, "out_of_scope");
            errors[count++].message = "a manager's rules are their team's";
        } else if (create)
            rp_record_set_str(changes, RULE_TEAM, actor->team, actor->team_len);
    }
    if (whole != changes)
        rp_record_overlay(whole, changes);
    int all = rule_check(whole, errors, count, RULE_MAX_ERRORS), kept = count;
    for (int i = count; i < all; i++) { //  a field the table refused is named once
        bool named = false;
        for (int j = 0; j < count && !named; j++)
            named = strcmp(errors[i].field, errors[j].field) == 0;
        if (!named)
            errors[kept++] = errors[i];
    }
    return kept;
}

void reminders_rules_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    rp_record_t r;
    rule_init(&r);
    rp_field_error_t errors[RULE_MAX_ERRORS];
    int count = rp_record_validate(&r, req->args, NULL, true, NULL, errors, RULE_MAX_ERRORS / 2);
    count = s_check(&actor, &r, &r, true, errors, count);
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        char id[RP_ID_SIZE];
        rp_id_format(id);
        rp_packer_t event;
        s_open(&event, "rule.created", &actor, id, strlen(id), NULL, 0, 1);
        rp_pack_cstr(&event.pk, "record");
        rp_record_pack_given(&r, &event.pk);
        rp_writes_append_one(reminders_handlers_writes(arg), service, &origin, &event, idem,
                             OPS_WAIT_MS, &s_record);
    }
    rp_record_reset(&r);
}

void reminders_rules_update(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    found_t found = {0};
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_admit(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &actor, &found, &version_obj, &version)) {
        free(found.bytes);
        return;
    }
    rp_doc_t *stored = rp_doc_new(found.bytes, found.size, NULL);
    rp_record_t whole, changes;
    rule_init(&whole);
    rule_init(&changes);
    if (stored)
        rp_record_from_map(&whole, rp_doc_root(stored));
    static const char *const skip[] = {"id", "version", NULL};
    rp_field_error_t errors[RULE_MAX_ERRORS];
    int count =
        rp_record_validate(&changes, req->args, skip, false, NULL, errors, RULE_MAX_ERRORS / 2);
    count = s_check(&actor, &changes, &whole, false, errors, count);
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        rp_packer_t event;
        s_open(&event, "rule.updated", &actor, found.id, found.id_len, version_obj, version, 1);
        rp_pack_cstr(&event.pk, "changes");
        rp_record_pack_given(&changes, &event.pk);
        rp_writes_append_one(reminders_handlers_writes(arg), service, &origin, &event, idem,
                             OPS_WAIT_MS, &s_record);
    }
    rp_record_reset(&changes);
    rp_record_reset(&whole);
    rp_doc_destroy(&stored);
    free(found.bytes);
}

void reminders_rules_delete(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    found_t found = {0};
    const msgpack_object *version_obj;
    uint64_t version;
    if (s_admit(service, &origin, req, &actor, idem) &&
        s_target(service, &origin, req, &actor, &found, &version_obj, &version)) {
        rp_packer_t event;
        s_open(&event, "rule.deleted", &actor, found.id, found.id_len, version_obj, version, 0);
        rp_writes_append_one(reminders_handlers_writes(arg), service, &origin, &event, idem,
                             OPS_WAIT_MS, &s_gone);
    }
    free(found.bytes);
}

//  ---------------------------------------------------------------------

//  {name, condition: {type: idle, duration}, [key: value]} (key NULL: none;
//  value "#n": the version).
static rp_doc_t *s_test_call(rp_testservice_t *service, bool writer, const char *op,
                             const rp_testservice_actor_t *actor, const char *id,
                             const char *duration, const char *key, const char *value,
                             rp_reply_t *reply)
{
    rp_packer_t args;
    rp_packer_init(&args);
    msgpack_pack_map(&args.pk, (id != NULL) + (duration ? 2 : 0) + (key != NULL));
    if (id)
        rp_pack_kv_cstr(&args.pk, "id", id);
    if (duration) {
        rp_pack_kv_cstr(&args.pk, "name", "三天未跟进");
        rp_pack_cstr(&args.pk, "condition");
        msgpack_pack_map(&args.pk, 2);
        rp_pack_kv_cstr(&args.pk, "type", "idle");
        rp_pack_kv_cstr(&args.pk, "duration", duration);
    }
    if (key && value[0] == '#')
        rp_pack_kv_u64(&args.pk, key, strtoull(value + 1, NULL, 10));
    else if (key)
        rp_pack_kv_cstr(&args.pk, key, value);
    rp_doc_t *doc = rp_testservice_call(service, writer, op, actor, NULL, &args, reply);
    rp_packer_destroy(&args);
    return doc;
}

//  The field of the reply's first error.
static bool s_test_invalid(rp_doc_t *doc, const rp_reply_t *reply, const char *field,
                           const char *code)
{
    const msgpack_object *error = rp_obj_get(rp_doc_root(doc), "error");
    const msgpack_object *details = error ? rp_obj_get(error, "details") : NULL;
    const msgpack_object *errors = details ? rp_obj_get(details, "errors") : NULL;
    if (!rp_testservice_error_is(reply, 422, "invalid") || !rp_obj_is_array(errors) ||
        errors->via.array.size != 1)
        return false;
    const msgpack_object *first = &errors->via.array.ptr[0];
    return rp_obj_streq(rp_obj_get(first, "field"), field) &&
           rp_obj_streq(rp_obj_get(first, "code"), code);
}

//  The ops through the runtime and the test broker.
static void s_test_ops(void)
{
    static const char *const owns[] = {"reminder.", "rule.", NULL};
    static const rp_service_def_t def = {.name = "reminders",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = reminders_apply_dbnames,
                                         .apply = reminders_apply_event,
                                         .ops = reminders_handlers_ops,
                                         .init = reminders_handlers_init,
                                         .fini = reminders_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t boss = {"boss", "manager", "east"},
                                 west = {"max", "manager", "west"}, ann = {"ann", "sales", "east"},
                                 root = {"root", "admin", NULL};
    rp_reply_t reply;
    //  A manager's rule is their team's.
    rp_doc_t *doc = s_test_call(service, true, "reminders.rules.create", &boss, NULL, "P3D", NULL,
                                NULL, &reply);
    assert(reply.status == 200);
    assert(rp_obj_streq(rp_obj_get(reply.data, "team"), "east"));
    assert(rp_obj_streq(rp_obj_get(reply.data, "created_by"), "boss"));
    const msgpack_object *active = rp_obj_get(reply.data, "active");
    assert(active->type == MSGPACK_OBJECT_BOOLEAN && active->via.boolean);
    char id[REMINDERS_MAX_ID + 1];
    const char *str;
    size_t len;
    assert(rp_obj_str(rp_obj_get(reply.data, "id"), &str, &len) && len <= REMINDERS_MAX_ID);
    memcpy(id, str, len);
    id[len] = 0;
    rp_doc_destroy(&doc);
    doc = s_test_call(service, true, "reminders.rules.create", &boss, NULL, "P3D", "team", "west",
                      &reply);
    assert(s_test_invalid(doc, &reply, "team", "out_of_scope"));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, true, "reminders.rules.create", &root, NULL, "P1M", NULL, NULL,
                      &reply);
    assert(s_test_invalid(doc, &reply, "condition.duration", "invalid"));
    rp_doc_destroy(&doc);
    //  Sales have none; another team's manager does not see it.
    doc =
        s_test_call(service, true, "reminders.rules.create", &ann, NULL, "P3D", NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, false, "reminders.rules.list", &ann, NULL, NULL, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, false, "reminders.rules.get", &west, id, NULL, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    doc =
        s_test_call(service, false, "reminders.rules.list", &root, NULL, NULL, NULL, NULL, &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 1);
    rp_doc_destroy(&doc);
    //  A stale version is 412; the right one changes it; delete.
    doc = s_test_call(service, true, "reminders.rules.update", &boss, id, NULL, "version", "#5",
                      &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, true, "reminders.rules.update", &boss, id, NULL, "name", "改名",
                      &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "name"), "改名"));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, true, "reminders.rules.delete", &boss, id, NULL, NULL, NULL, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "id"), id));
    rp_doc_destroy(&doc);
    doc = s_test_call(service, false, "reminders.rules.get", &root, id, NULL, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    rp_testservice_destroy(&service);
}

void reminders_rules_ops_test(void)
{
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    rp_scope_t boss = {RP_ROLE_MANAGER, "boss", 4, "east", 4};
    rp_scope_t loner = {RP_ROLE_MANAGER, "solo", 4, NULL, 0};
    rp_scope_t ann = {RP_ROLE_SALES, "ann", 3, "east", 4};
    msgpack_object east = {.type = MSGPACK_OBJECT_STR, .via.str = {4, "east"}};
    msgpack_object west = {.type = MSGPACK_OBJECT_STR, .via.str = {4, "west"}};
    msgpack_object none = {.type = MSGPACK_OBJECT_NIL};
    assert(s_may(&admin) && s_may(&boss) && !s_may(&loner) && !s_may(&ann));
    assert(s_reaches(&admin, &none) && s_reaches(&admin, &west));
    assert(s_reaches(&boss, &east) && !s_reaches(&boss, &west) && !s_reaches(&boss, &none));
    assert(!s_reaches(&ann, &east));
    assert(strcmp(s_message(412, "version_mismatch", 16), "the rule changed since that version") ==
           0);
    assert(strcmp(s_message(404, "x", 1), "no such rule") == 0);
    s_test_ops();
}
