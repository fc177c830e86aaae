/*  ops.c — see ops.h. */
#include "ops.h"
#include "apply.h"
#include "clock.h"
#include "handlers.h"
#include "reminder.h"

#include <rapport/duration.h>
#include <rapport/event.h>
#include <rapport/intl.h>
#include <rapport/random.h>
#include <rapport/write.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS_WAIT_MS 10000 //  a write's wait for its own apply

static const rp_write_message_t s_messages[] = {
    {"version_mismatch", "the reminder changed since that version"},
    {"not_found", "no such reminder"},
    {"exists", "a reminder with that id exists"},
    {"bad_event", "the change is not valid"},
    {"not_active", "the reminder is done or cancelled"},
    {NULL},
};

static const char *s_message(int status, const char *code, size_t len)
{
    const char *message = rp_write_message(s_messages, code, len);
    return message ? message : status == 404 ? "no such reminder" : "the change was refused";
}

bool reminders_ops_allowed(const rp_scope_t *actor, const rp_record_t *reminder, bool write)
{
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    rp_record_str(reminder, REMINDER_ASSIGNEE, &owner, &owner_len);
    rp_record_str(reminder, REMINDER_TEAM, &team, &team_len);
    return rp_scope_allows(actor, owner, owner_len, team, team_len, write);
}

//  ---------------------------------------------------------------------
//  Reading one reminder

typedef struct {
    const char *id;
    size_t id_len;
    const rp_scope_t *actor; //  NULL: no scope check (the writer's own answer)
    bool write;
    rp_packer_t *packer; //  NULL: only look
    const msgpack_object *reply_id;
    uint64_t seq;
    //  out
    bool found;
    uint64_t version;
    char *bytes; //  a copy of the stored reminder (free)
    size_t size;
} target_t;

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *read = (target_t *)arg;
    if (read->id_len == 0 || read->id_len > REMINDERS_MAX_ID)
        return 0;
    MDB_val key = {read->id_len, (void *)read->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, "reminders"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    rp_record_t r;
    reminder_init(&r);
    if (doc)
        rp_record_from_map(&r, rp_doc_root(doc));
    if (doc && (!read->actor || reminders_ops_allowed(read->actor, &r, read->write))) {
        read->found = true;
        read->version = rp_record_version(&r);
        read->bytes = malloc(value.mv_size);
        assert(read->bytes);
        memcpy(read->bytes, value.mv_data, value.mv_size);
        read->size = value.mv_size;
        if (read->packer) {
            rp_reply_pack(&read->packer->pk, read->reply_id, 200, read->seq, 1);
            rp_pack_cstr(&read->packer->pk, "data");
            msgpack_sbuffer_write(&read->packer->buffer, value.mv_data, value.mv_size);
        }
    }
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor,
                    const char *id, size_t id_len, uint64_t seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    target_t read = {.id = id,
                     .id_len = id_len,
                     .actor = actor,
                     .packer = &packer,
                     .reply_id = rp_origin_id(*origin_p),
                     .seq = seq};
    rp_store_read(rp_service_store(service), s_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such reminder");
    free(read.bytes);
    rp_packer_destroy(&packer);
}

//  args.id of a reminder the actor may change, its version and bytes in
//  *read. Replies 400/404 and returns false otherwise.
static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     const rp_scope_t *actor, target_t *read)
{
    memset(read, 0, sizeof *read);
    read->actor = actor;
    read->write = true;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &read->id, &read->id_len)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
        return false;
    }
    rp_store_read(rp_service_store(service), s_read, read);
    if (!read->found)
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such reminder");
    return read->found;
}

//  ---------------------------------------------------------------------
//  Writes: append, wait, answer the outcome

static void s_reply_stored(rp_service_t *service, rp_origin_t **origin_p, const char *id,
                           uint64_t seq)
{
    s_reply(service, origin_p, NULL, id, strlen(id), seq);
}

//  Append the event (freed here) and answer once applied.
static void s_append(void *arg, rp_service_t *service, rp_origin_t **origin_p, rp_packer_t *event,
                     const char *idem, bool deleted)
{
    static const rp_write_answer_t record = {s_message, s_reply_stored, false},
                                   gone = {s_message, s_reply_stored, true};
    rp_writes_append_one(reminders_handlers_writes(arg), service, origin_p, event, idem,
                         OPS_WAIT_MS, deleted ? &gone : &record);
}

static bool s_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1])
{
    return rp_writes_admit(service, origin_p, req, rp_scope_may_write(actor),
                           "this role cannot change reminders", idem);
}

static bool s_version(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                      const target_t *target, const msgpack_object **version_obj, uint64_t *version)
{
    if (!rp_writes_version_arg(service, origin_p, req, version_obj, version))
        return false;
    if (*version_obj && *version != target->version && !req->idem) {
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the reminder changed since that version");
        return false;
    }
    return true;
}

//  A change of one stored reminder: who asks, their retry key, the
//  reminder (target.bytes to free) and the version they name.
typedef struct {
    rp_scope_t actor;
    char idem[RP_MAX_IDEM + 1];
    target_t target;
    const msgpack_object *version_obj; //  NULL: none named
    uint64_t version;
} change_t;

//  Admit req as a change of args.id: false when already answered.
static bool s_begin(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    change_t *c)
{
    rp_scope_parse(&c->actor, req);
    if (!s_admit(service, origin_p, req, &c->actor, c->idem) ||
        !s_target(service, origin_p, req, &c->actor, &c->target))
        return false;
    if (s_version(service, origin_p, req, &c->target, &c->version_obj, &c->version))
        return true;
    free(c->target.bytes);
    return false;
}

static int s_error(rp_field_error_t *errors, int count, const char *field, const char *code,
                   const char *message)
{
    rp_field_error_set(&errors[count], field, strlen(field), code);
    if (message)
        errors[count].message = message;
    return count + 1;
}

typedef struct {
    const char *user;
    size_t len;
    reminders_person_t person;
} person_read_t;

static int s_person_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    person_read_t *read = (person_read_t *)arg;
    reminders_apply_person(store, txn, read->user, read->len, &read->person);
    return 0;
}

//  The checks of ops.h on changes (the client's fields, validated into
//  it); whole: the reminder as it would be stored (changes over the stored
//  one, or changes itself for a create). The number of errors.
static int s_check(void *arg, rp_service_t *service, const rp_scope_t *actor, rp_record_t *changes,
                   rp_record_t *whole, bool create, rp_field_error_t *errors, int count, int max)
{
    if (count)
        return count;
    //  The assignee's team and preferred zone, as the users fold has them.
    person_read_t assignee = {.user = actor->user, .len = actor->user_len};
    rp_record_str(changes->given[REMINDER_ASSIGNEE] ? changes : whole, REMINDER_ASSIGNEE,
                  &assignee.user, &assignee.len);
    if (assignee.len)
        rp_store_read(rp_service_store(service), s_person_read, &assignee);
    const char *owner = NULL, *team = NULL, *zone;
    size_t owner_len = 0, team_len = 0, zone_len;
    rp_record_str(changes, REMINDER_ASSIGNEE, &owner, &owner_len);
    rp_record_str(changes, REMINDER_TEAM, &team, &team_len);
    const char *field =
        rp_scope_assign_check(actor, changes->given[REMINDER_ASSIGNEE], owner, owner_len,
                              changes->given[REMINDER_TEAM], team, team_len);
    if (field) //  the owner of a reminder is its assignee
        count = s_error(errors, count, strcmp(field, "owner") == 0 ? "assignee" : field,
                        "out_of_scope", "outside what this role may assign");
    if (create && !changes->given[REMINDER_ASSIGNEE])
        rp_record_set_str(changes, REMINDER_ASSIGNEE, actor->user, actor->user_len);
    bool moved = changes->given[REMINDER_ASSIGNEE] && !changes->given[REMINDER_TEAM];
    if (moved && assignee.person.team[0]) //  reassigned: to the assignee's team
        rp_record_set_str(changes, REMINDER_TEAM, assignee.person.team,
                          strlen(assignee.person.team));
    else if (create && !changes->given[REMINDER_TEAM] && actor->team_len)
        rp_record_set_str(changes, REMINDER_TEAM, actor->team, actor->team_len);
    char canonical[RP_ZONE_MAX + 1];
    if (rp_record_str(changes, REMINDER_TIME_ZONE, &zone, &zone_len)) {
        if (rp_intl_zone(zone, zone_len, canonical))
            rp_record_set_str(changes, REMINDER_TIME_ZONE, canonical, strlen(canonical));
        else
            count = s_error(errors, count, "time_zone", "invalid",
                            "not a time zone of the tz database (\"Asia/Shanghai\")");
    } else if (create) {
        const char *def =
            assignee.person.zone[0] ? assignee.person.zone : reminders_handlers_zone(arg);
        rp_record_set_str(changes, REMINDER_TIME_ZONE, def, strlen(def));
    }
    if (count)
        return count;
    if (whole != changes)
        rp_record_overlay(whole, changes);
    const char *bad;
    rp_recurrence_t *series = reminder_series(whole, &bad);
    if (series)
        rp_recurrence_destroy(&series);
    else if (count < max)
        count = s_error(errors, count, bad, "invalid",
                        strcmp(bad, "rrule") == 0     ? "not an RRULE of RFC 5545 (DAILY to YEARLY)"
                        : strcmp(bad, "exdates") == 0 ? "each exdate a local time "
                                                        "YYYY-MM-DDTHH:MM[:SS] (or a date)"
                                                      : NULL);
    return count;
}

void reminders_ops_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    rp_record_t r;
    reminder_init(&r);
    rp_field_error_t errors[REMINDER_MAX_ERRORS];
    int count =
        rp_record_validate(&r, req->args, NULL, true, NULL, errors, REMINDER_MAX_ERRORS - 2);
    count = s_check(arg, service, &actor, &r, &r, true, errors, count, REMINDER_MAX_ERRORS);
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        char id[RP_ID_SIZE];
        rp_id_format(id);
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "reminder.created", "reminders", id, strlen(id), &actor);
        msgpack_pack_map(&event.pk, 2);
        rp_pack_kv_cstr(&event.pk, "id", id);
        rp_pack_cstr(&event.pk, "record");
        rp_record_pack_given(&r, &event.pk);
        s_append(arg, service, &origin, &event, idem, false);
    }
    rp_record_reset(&r);
}

static void s_open(rp_packer_t *event, const char *type, const change_t *c, uint32_t extra)
{
    rp_event_open(&event->pk, type, "reminders", c->target.id, c->target.id_len, &c->actor);
    msgpack_pack_map(&event->pk, 1 + (c->version_obj != NULL) + extra);
    rp_pack_cstr(&event->pk, "id");
    rp_pack_strn(&event->pk, c->target.id, c->target.id_len);
    if (c->version_obj)
        rp_pack_kv_u64(&event->pk, "expected_version", c->version);
}

void reminders_ops_update(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    change_t c;
    if (!s_begin(service, &origin, req, &c))
        return;
    rp_doc_t *stored = rp_doc_new(c.target.bytes, c.target.size, NULL);
    rp_record_t whole, changes;
    reminder_init(&whole);
    reminder_init(&changes);
    if (stored)
        rp_record_from_map(&whole, rp_doc_root(stored));
    static const char *const skip[] = {"id", "version", NULL};
    rp_field_error_t errors[REMINDER_MAX_ERRORS];
    int count =
        rp_record_validate(&changes, req->args, skip, false, NULL, errors, REMINDER_MAX_ERRORS - 2);
    count = s_check(arg, service, &c.actor, &changes, &whole, false, errors, count,
                    REMINDER_MAX_ERRORS);
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        rp_packer_t event;
        rp_packer_init(&event);
        s_open(&event, "reminder.updated", &c, 1);
        rp_pack_cstr(&event.pk, "changes");
        rp_record_pack_given(&changes, &event.pk);
        s_append(arg, service, &origin, &event, c.idem, false);
    }
    rp_record_reset(&changes);
    rp_record_reset(&whole);
    rp_doc_destroy(&stored);
    free(c.target.bytes);
}

void reminders_ops_delete(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    change_t c;
    if (!s_begin(service, &origin, req, &c))
        return;
    rp_packer_t event;
    rp_packer_init(&event);
    s_open(&event, "reminder.deleted", &c, 0);
    s_append(arg, service, &origin, &event, c.idem, true);
    free(c.target.bytes);
}

//  Unknown keys of args (beside known) as errors: the count written.
static int s_unknown(const rp_request_t *req, const char *const *known, rp_field_error_t *errors,
                     int count, int max)
{
    for (uint32_t i = 0; count < max && rp_obj_is_map(req->args) && i < req->args->via.map.size;
         i++) {
        const msgpack_object *key = &req->args->via.map.ptr[i].key;
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = rp_obj_streq(key, known[k]);
        if (!ok) {
            const char *name = "";
            size_t len = 0;
            rp_obj_str(key, &name, &len);
            rp_field_error_set(&errors[count++], name, len, "unknown");
        }
    }
    return count;
}

//  Open the event of a command on one reminder: {id, expected_version?}
//  and extra more pairs, packed by the caller.
void reminders_ops_snooze(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    change_t c;
    if (!s_begin(service, &origin, req, &c))
        return;
    rp_field_error_t errors[4];
    static const char *const known[] = {"id", "version", "until", "for", NULL};
    int count = s_unknown(req, known, errors, 0, 3);
    const msgpack_object *until_obj = rp_obj_get(req->args, "until");
    const msgpack_object *for_obj = rp_obj_get(req->args, "for");
    bool has_until = until_obj && until_obj->type != MSGPACK_OBJECT_NIL;
    bool has_for = for_obj && for_obj->type != MSGPACK_OBJECT_NIL;
    const char *str;
    size_t len;
    int64_t until = 0, seconds;
    if (has_until == has_for)
        count =
            s_error(errors, count, has_until ? "for" : "until", has_until ? "invalid" : "required",
                    "one of until (RFC 3339) or for (an ISO 8601 duration)");
    else if (has_until && (!rp_obj_str(until_obj, &str, &len) || !rp_time_parse(str, len, &until)))
        count = s_error(errors, count, "until", "invalid", "an RFC 3339 time");
    else if (has_for && (!rp_obj_str(for_obj, &str, &len) || len > RP_DURATION_TEXT ||
                         rp_duration_parse(str, len, &seconds)))
        count = s_error(errors, count, "for", "invalid",
                        "an ISO 8601 duration in weeks to seconds (PT1H)");
    else if (has_for) //  from the writer's clock (the test clock's, when on)
        until = reminders_clock_now(reminders_handlers_clock(arg)) + seconds * 1000;
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        rp_packer_t event;
        rp_packer_init(&event);
        s_open(&event, "reminder.snoozed", &c, 1);
        char text[32];
        rp_time_format(until, text);
        rp_pack_kv_cstr(&event.pk, "until", text);
        s_append(arg, service, &origin, &event, c.idem, false);
    }
    free(c.target.bytes);
}

void reminders_ops_cancel(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    change_t c;
    if (!s_begin(service, &origin, req, &c))
        return;
    rp_field_error_t errors[4];
    static const char *const known[] = {"id", "version", "reason", NULL};
    int count = s_unknown(req, known, errors, 0, 2);
    const msgpack_object *reason = rp_obj_get(req->args, "reason");
    const char *str = NULL;
    size_t len = 0;
    bool given = reason && reason->type != MSGPACK_OBJECT_NIL;
    if (given && (!rp_obj_str(reason, &str, &len) || len > 500 || !rp_utf8_valid(str, len)))
        count = s_error(errors, count, "reason", "invalid", "a text of at most 500 bytes");
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        rp_packer_t event;
        rp_packer_init(&event);
        s_open(&event, "reminder.cancelled", &c, given);
        if (given) {
            rp_pack_cstr(&event.pk, "reason");
            rp_pack_strn(&event.pk, str, len);
        }
        s_append(arg, service, &origin, &event, c.idem, false);
    }
    free(c.target.bytes);
}

void reminders_ops_done(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req)
{
    change_t c;
    if (!s_begin(service, &origin, req, &c))
        return;
    rp_field_error_t errors[4];
    static const char *const known[] = {"id", "version", "occurrence", "all", NULL};
    int count = s_unknown(req, known, errors, 0, 2);
    const msgpack_object *occ_obj = rp_obj_get(req->args, "occurrence");
    const msgpack_object *all_obj = rp_obj_get(req->args, "all");
    const char *str;
    size_t len;
    int64_t occurrence = 0;
    bool all = false, has_occ = occ_obj && occ_obj->type != MSGPACK_OBJECT_NIL;
    if (has_occ && (!rp_obj_str(occ_obj, &str, &len) || !rp_time_parse(str, len, &occurrence)))
        count = s_error(errors, count, "occurrence", "invalid", "an RFC 3339 time");
    if (all_obj && all_obj->type != MSGPACK_OBJECT_NIL && !rp_obj_bool(all_obj, &all))
        count = s_error(errors, count, "all", "type", "true or false");
    if (count)
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
    else {
        rp_packer_t event;
        rp_packer_init(&event);
        s_open(&event, "reminder.done", &c, (uint32_t)has_occ + (uint32_t)all);
        char text[32];
        rp_time_format(occurrence, text);
        if (has_occ)
            rp_pack_kv_cstr(&event.pk, "occurrence", text);
        if (all)
            rp_pack_kv_bool(&event.pk, "all", true);
        s_append(arg, service, &origin, &event, c.idem, false);
    }
    free(c.target.bytes);
}

void reminders_ops_get(void *arg, rp_service_t *service, rp_origin_t *origin,
                       const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply(service, &origin, &actor, id, len, 0);
}

//  ---------------------------------------------------------------------

void reminders_ops_test(void)
{
    //  The scope rule on an assignee and a team.
    rp_record_t r;
    reminder_init(&r);
    rp_record_set_str(&r, REMINDER_ASSIGNEE, "ann", 3);
    rp_record_set_str(&r, REMINDER_TEAM, "east", 4);
    rp_scope_t ann = {RP_ROLE_SALES, "ann", 3, "east", 4};
    rp_scope_t bob = {RP_ROLE_SALES, "bob", 3, "east", 4};
    rp_scope_t boss = {RP_ROLE_MANAGER, "boss", 4, "east", 4};
    rp_scope_t other = {RP_ROLE_MANAGER, "max", 3, "west", 4};
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    assert(reminders_ops_allowed(&ann, &r, true));
    assert(!reminders_ops_allowed(&bob, &r, false));
    assert(reminders_ops_allowed(&boss, &r, true));
    assert(!reminders_ops_allowed(&other, &r, false));
    assert(reminders_ops_allowed(&admin, &r, true));
    assert(strcmp(s_message(412, "version_mismatch", 16),
                  "the reminder changed since that version") == 0);
    rp_record_reset(&r);
}
