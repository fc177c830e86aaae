/*  rules.c — see rules.h. */
#include "rules.h"
#include "apply.h"
#include "reminder.h"

#include "../customers/activity.h"
#include "../customers/apply.h"
#include "../customers/lead.h"
#include "../customers/reference.h"
#include "../opportunities/pipeline.h"
#include "../opportunities/pipelines.h"
#include "../users/apply.h"

#include <rapport/apply.h>
#include <rapport/log.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAIR_KEY_MAX (2 * REMINDERS_MAX_ID + 2)
#define TEXT_MAX     100 //  an owner's, a team's bytes

//  One evaluation's context: the event being applied, and its time.
typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    int64_t now;
} ctx_t;

static int64_t s_event_ms(const rp_event_t *event)
{
    int64_t ms = 0;
    if (!event->time || !rp_time_parse(event->time, event->time_len, &ms))
        ms = 0;
    return ms;
}

static void s_ctx(ctx_t *self, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                  const rp_event_t *event)
{
    self->store = store;
    self->txn = txn;
    self->seq = seq;
    self->event = event;
    self->now = s_event_ms(event);
}

static int s_put(ctx_t *ctx, const char *db, const void *key, size_t key_len, const void *data,
                 size_t size)
{
    MDB_val k = {key_len, (void *)key}, v = {size, (void *)data};
    return mdb_put(ctx->txn, rp_store_dbi(ctx->store, db), &k, &v, 0);
}

static int s_del(ctx_t *ctx, const char *db, const void *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)key};
    int rc = mdb_del(ctx->txn, rp_store_dbi(ctx->store, db), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static uint64_t s_fnv(uint64_t hash, const char *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (uint8_t)bytes[i]) * 1099511628211ULL;
    return hash;
}

size_t rules_follow_up_id(char prefix, const char *rule, size_t rule_len, const char *record,
                          size_t record_len, char *out)
{
    if (3 + rule_len + record_len <= REMINDERS_MAX_ID)
        return (size_t)snprintf(out, REMINDERS_MAX_ID + 1, "%c-%.*s-%.*s", prefix, (int)rule_len,
                                rule, (int)record_len, record);
    uint64_t a = s_fnv(s_fnv(14695981039346656037ULL, rule, rule_len), "", 1);
    uint64_t b = s_fnv(s_fnv(0x84222325cbf29ce4ULL, record, record_len), rule, rule_len);
    a = s_fnv(a, record, record_len);
    return (size_t)snprintf(out, REMINDERS_MAX_ID + 1, "%c-h%016" PRIx64 "%016" PRIx64, prefix, a,
                            b);
}

//  "<rule> NUL <record>": its length (0 when a part is too long or empty).
static size_t s_pair_key(char *out, const char *rule, size_t rule_len, const char *record,
                         size_t record_len)
{
    if (!rule_len || !record_len || rule_len > REMINDERS_MAX_ID || record_len > REMINDERS_MAX_ID)
        return 0;
    memcpy(out, rule, rule_len);
    out[rule_len] = 0;
    memcpy(out + rule_len + 1, record, record_len);
    return rule_len + 1 + record_len;
}

//  ---------------------------------------------------------------------
//  A pair's state

typedef struct {
    char kind; //  'c' a customer, 'o' a deal
    bool scheduled;
    int64_t onset; //  the 'm' entry, when scheduled
    bool open;
    int64_t since, opened; //  the open follow-up's onset and opening time
    bool escalating;
    int64_t escalate_at; //  the 'e' entry, when escalating
    bool escalated;
    char owner[TEXT_MAX + 1], team[TEXT_MAX + 1];
} pair_t;

static void s_copy_str(const msgpack_object *o, char *out, size_t max)
{
    const char *str;
    size_t len;
    out[0] = 0;
    if (rp_obj_str(o, &str, &len) && len <= max) {
        memcpy(out, str, len);
        out[len] = 0;
    }
}

static int64_t s_i64(const msgpack_object *o, bool *given)
{
    int64_t value = 0;
    bool ok = o && rp_obj_i64(o, &value);
    if (given)
        *given = ok;
    return ok ? value : 0;
}

//  The stored state of a pair (zeroed when none): true when stored.
static bool s_pair_get(ctx_t *ctx, const char *key, size_t len, pair_t *pair)
{
    memset(pair, 0, sizeof *pair);
    MDB_val k = {len, (void *)key}, v;
    if (mdb_get(ctx->txn, rp_store_dbi(ctx->store, "rule_pairs"), &k, &v))
        return false;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    if (!doc)
        return false;
    const msgpack_object *map = rp_doc_root(doc);
    char kind[2];
    s_copy_str(rp_obj_get(map, "kind"), kind, 1);
    pair->kind = kind[0];
    pair->onset = s_i64(rp_obj_get(map, "onset"), &pair->scheduled);
    rp_obj_bool(rp_obj_get(map, "open"), &pair->open);
    pair->since = s_i64(rp_obj_get(map, "since"), NULL);
    pair->opened = s_i64(rp_obj_get(map, "opened"), NULL);
    pair->escalate_at = s_i64(rp_obj_get(map, "escalate"), &pair->escalating);
    rp_obj_bool(rp_obj_get(map, "escalated"), &pair->escalated);
    s_copy_str(rp_obj_get(map, "owner"), pair->owner, TEXT_MAX);
    s_copy_str(rp_obj_get(map, "team"), pair->team, TEXT_MAX);
    rp_doc_destroy(&doc);
    return true;
}

static void s_pack_time(msgpack_packer *pk, const char *key, bool given, int64_t ms)
{
    rp_pack_cstr(pk, key);
    if (given)
        msgpack_pack_int64(pk, ms);
    else
        msgpack_pack_nil(pk);
}

static int s_pair_put(ctx_t *ctx, const char *key, size_t len, const pair_t *pair)
{
    if (!pair->scheduled && !pair->open)
        return s_del(ctx, "rule_pairs", key, len);
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_packer *pk = &p.pk;
    msgpack_pack_map(pk, 9);
    rp_pack_cstr(pk, "kind");
    rp_pack_strn(pk, &pair->kind, 1);
    s_pack_time(pk, "onset", pair->scheduled, pair->onset);
    rp_pack_kv_bool(pk, "open", pair->open);
    s_pack_time(pk, "since", pair->open, pair->since);
    s_pack_time(pk, "opened", pair->open, pair->opened);
    s_pack_time(pk, "escalate", pair->escalating, pair->escalate_at);
    rp_pack_kv_bool(pk, "escalated", pair->escalated);
    rp_pack_kv_cstr(pk, "owner", pair->owner);
    rp_pack_kv_cstr(pk, "team", pair->team);
    int rc = s_put(ctx, "rule_pairs", key, len, p.buffer.data, p.buffer.size);
    rp_packer_destroy(&p);
    return rc;
}

//  The agenda entry <ms><what><pair key>: put or removed.
static int s_due(ctx_t *ctx, bool put, int64_t ms, char what, const char *key, size_t len)
{
    uint8_t due[9 + PAIR_KEY_MAX];
    rp_seq_put(due, (uint64_t)ms);
    due[8] = (uint8_t)what;
    memcpy(due + 9, key, len);
    return put ? s_put(ctx, "rule_due", due, 9 + len, "", 0) : s_del(ctx, "rule_due", due, 9 + len);
}

//  Move an agenda entry from (was, at) to (now, to).
static int s_move(ctx_t *ctx, char what, bool was, int64_t at, bool now, int64_t to,
                  const char *key, size_t len)
{
    if (was == now && (!now || at == to))
        return 0;
    int rc = was ? s_due(ctx, false, at, what, key, len) : 0;
    return rc || !now ? rc : s_due(ctx, true, to, what, key, len);
}

//  Write the pair's changes from was: agenda entries and state.
static int s_pair_save(ctx_t *ctx, const char *key, size_t len, const pair_t *was,
                       const pair_t *pair)
{
    int rc = s_move(ctx, 'm', was->scheduled, was->onset, pair->scheduled, pair->onset, key, len);
    if (!rc)
        rc = s_move(ctx, 'e', was->escalating, was->escalate_at, pair->escalating,
                    pair->escalate_at, key, len);
    if (!rc && memcmp(was, pair, sizeof *pair) != 0)
        rc = s_pair_put(ctx, key, len, pair);
    return rc;
}

//  ---------------------------------------------------------------------
//  The records rules look at

typedef struct {
    char kind; //  'c', 'o'
    void *bytes;
    rp_doc_t *doc;
    const msgpack_object *map; //  NULL: no such record
} target_t;

static int s_target_load(ctx_t *ctx, char kind, const char *id, size_t len, target_t *self)
{
    memset(self, 0, sizeof *self);
    self->kind = kind;
    MDB_val value;
    int rc;
    if (kind == 'c')
        rc = customers_apply_record_get(ctx->store, ctx->txn, id, len, &value);
    else {
        MDB_val k = {len, (void *)id};
        rc = len ? mdb_get(ctx->txn, rp_store_dbi(ctx->store, "opportunities"), &k, &value)
                 : MDB_NOTFOUND;
    }
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    //  A copy: the derived reminders' puts move LMDB's pages.
    self->bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->bytes);
    memcpy(self->bytes, value.mv_data, value.mv_size);
    self->doc = rp_doc_new(self->bytes, value.mv_size, NULL);
    self->map = self->doc ? rp_doc_root(self->doc) : NULL;
    return 0;
}

static void s_target_release(target_t *self)
{
    rp_doc_destroy(&self->doc);
    free(self->bytes);
    self->bytes = NULL;
}

static bool s_str(const msgpack_object *map, const char *key, const char **str, size_t *len)
{
    return rp_obj_str(rp_obj_get(map, key), str, len) && *len > 0;
}

static bool s_time(const msgpack_object *map, const char *key, int64_t *ms)
{
    const char *str;
    size_t len;
    return s_str(map, key, &str, &len) && rp_time_parse(str, len, ms);
}

//  A date "YYYY-MM-DD" as its first instant, UTC.
static bool s_date(const msgpack_object *map, const char *key, int64_t *ms)
{
    const char *str;
    size_t len;
    char text[32];
    if (!s_str(map, key, &str, &len) || len != 10)
        return false;
    snprintf(text, sizeof text, "%.*sT00:00:00Z", (int)len, str);
    return rp_time_parse(text, strlen(text), ms);
}

static bool s_same(const msgpack_object *a, const char *str, size_t len)
{
    const char *b;
    size_t b_len;
    return rp_obj_str(a, &b, &b_len) && b_len == len && memcmp(b, str, len) == 0;
}

//  Is the record's field the filter's value?
static bool s_equal(const msgpack_object *want, const msgpack_object *map, const char *key)
{
    const msgpack_object *value = rp_obj_get(map, key);
    return value && msgpack_object_equal(*want, *value);
}

static bool s_has_tags(const msgpack_object *tags, const msgpack_object *want)
{
    for (uint32_t i = 0; i < want->via.array.size; i++) {
        bool found = false;
        const char *str;
        size_t len;
        if (!rp_obj_str(&want->via.array.ptr[i], &str, &len))
            return false;
        for (uint32_t j = 0; rp_obj_is_array(tags) && j < tags->via.array.size && !found; j++)
            found = s_same(&tags->via.array.ptr[j], str, len);
        if (!found)
            return false;
    }
    return true;
}

//  Does the rule apply to the record, and from when does its condition
//  hold (*onset)? Reads the deal's pipeline for a stage's rot_days.
static bool s_onset(ctx_t *ctx, const rule_t *rule, const target_t *target, int64_t *onset)
{
    const msgpack_object *map = target->map;
    const char *str, *team;
    size_t len, team_len;
    bool archived = false;
    if (!map || !s_str(map, "owner", &str, &len))
        return false; //  no owner, nobody to remind
    rp_obj_bool(rp_obj_get(map, "archived"), &archived);
    if (archived)
        return false;
    if (rule_team(rule, &team, &team_len) && !s_same(rp_obj_get(map, "team"), team, team_len))
        return false;
    int64_t base, ms = rule->duration_s * 1000;
    switch (rule->kind) {
    case RULE_IDLE:
        if ((rule->grade && !s_equal(rule->grade, map, "grade")) ||
            (rule->tier && !s_equal(rule->tier, map, "tier")) ||
            (rule->team && !s_equal(rule->team, map, "team")) ||
            (rule->tags && !s_has_tags(rp_obj_get(map, "tags"), rule->tags)))
            return false;
        if (!s_time(map, "last_contacted_at", &base) && !s_time(map, "created_at", &base))
            return false;
        *onset = base + ms;
        return true;
    case RULE_NEW_LEAD:
        if (!rp_obj_streq(rp_obj_get(map, "tier"), "lead") ||
            s_time(map, "last_contacted_at", &base) || !s_time(map, "created_at", &base))
            return false;
        *onset = base + ms;
        return true;
    default:
        break;
    }
    if (!rp_obj_streq(rp_obj_get(map, "status"), "open"))
        return false;
    if (rule->kind == RULE_CLOSING || rule->kind == RULE_OVERDUE) {
        if (!s_date(map, "expected_close", &base))
            return false;
        *onset = rule->kind == RULE_CLOSING ? base - ms : base + 86400000LL;
        return true;
    }
    if (rule->kind != RULE_STAGE_STALE || !s_time(map, "stage_entered_at", &base))
        return false;
    if (!ms) { //  the stage's rot_days
        const char *pipeline, *stage;
        size_t pipeline_len, stage_len;
        pipeline_t p;
        if (s_str(map, "pipeline_id", &pipeline, &pipeline_len) &&
            s_str(map, "stage", &stage, &stage_len) &&
            pipeline_load(ctx->store, ctx->txn, pipeline, pipeline_len, &p) == 0) {
            const pipeline_stage_t *found = pipeline_stage(&p, stage, stage_len, NULL);
            ms = found ? (int64_t)found->rot_days * 86400000LL : 0;
        }
        pipeline_release(&p);
    }
    *onset = base + ms;
    return ms > 0;
}

//  ---------------------------------------------------------------------
//  Follow-ups

static void s_record_str(rp_record_t *r, int field, const char *str)
{
    rp_record_set_str(r, field, str, strlen(str));
}

static void s_record_time(rp_record_t *r, int field, int64_t ms)
{
    char text[32];
    rp_time_format(ms, text);
    s_record_str(r, field, text);
}

//  The follow-up's fields: whole (a new occurrence) or only whom it is for.
static void s_follow_up_fields(const rule_t *rule, const target_t *target, const char *record,
                               size_t record_len, const pair_t *pair, bool whole, rp_record_t *r)
{
    rp_record_set_str(r, REMINDER_ASSIGNEE, pair->owner, strlen(pair->owner));
    if (pair->team[0])
        rp_record_set_str(r, REMINDER_TEAM, pair->team, strlen(pair->team));
    else
        rp_record_set_nil(r, REMINDER_TEAM);
    if (!whole)
        return;
    rp_record_set_str(r, REMINDER_STATE, "pending", 7); //  a new occurrence: open, if closed
    const msgpack_object *action = &rule->r.values[RULE_ACTION];
    const msgpack_object *subject = rp_obj_is_map(action) ? rp_obj_get(action, "subject") : NULL;
    if (subject && subject->type == MSGPACK_OBJECT_STR)
        rp_record_set_obj(r, REMINDER_SUBJECT, subject);
    else
        rp_record_set_obj(r, REMINDER_SUBJECT, &rule->r.values[RULE_NAME]);
    const msgpack_object *before =
        rp_obj_is_map(action) ? rp_obj_get(action, "remind_before") : NULL;
    if (before && rp_obj_is_array(before))
        rp_record_set_obj(r, REMINDER_REMIND_BEFORE, before);
    else
        rp_record_set_nil(r, REMINDER_REMIND_BEFORE);
    const char *name;
    size_t name_len;
    if (s_str(target->map, target->kind == 'c' ? "name" : "title", &name, &name_len))
        rp_record_set_str(r, REMINDER_NOTES, name, name_len);
    s_record_str(r, REMINDER_KIND, "follow_up");
    s_record_time(r, REMINDER_DUE_AT, pair->since);
    s_record_str(r, REMINDER_TIME_ZONE, "UTC");
    rp_record_set_bool(r, REMINDER_ALL_DAY, false);
    rp_record_set_nil(r, REMINDER_RRULE);
    rp_record_set_nil(r, REMINDER_EXDATES);
    const char *customer = record;
    size_t customer_len = record_len;
    if (target->kind == 'o') {
        rp_record_set_str(r, REMINDER_OPPORTUNITY_ID, record, record_len);
        if (!s_str(target->map, "customer_id", &customer, &customer_len))
            customer_len = 0;
    } else
        rp_record_set_nil(r, REMINDER_OPPORTUNITY_ID);
    if (customer_len)
        rp_record_set_str(r, REMINDER_CUSTOMER_ID, customer, customer_len);
    else
        rp_record_set_nil(r, REMINDER_CUSTOMER_ID);
}

static int s_derive(ctx_t *ctx, char prefix, const char *rule_id, size_t rule_len,
                    const char *record, size_t record_len, const rp_record_t *fields)
{
    char id[REMINDERS_MAX_ID + 1];
    size_t len = rules_follow_up_id(prefix, rule_id, rule_len, record, record_len, id);
    return reminders_apply_derive(ctx->store, ctx->txn, ctx->seq, ctx->event, id, len, fields);
}

static int s_close(ctx_t *ctx, char prefix, const char *rule_id, size_t rule_len,
                   const char *record, size_t record_len)
{
    char id[REMINDERS_MAX_ID + 1];
    size_t len = rules_follow_up_id(prefix, rule_id, rule_len, record, record_len, id);
    return reminders_apply_close(ctx->store, ctx->txn, ctx->seq, ctx->event, id, len, "done");
}

//  Is the derived reminder closed (done by hand, say)? Absent: false.
static bool s_closed(ctx_t *ctx, char prefix, const char *rule_id, size_t rule_len,
                     const char *record, size_t record_len)
{
    char id[REMINDERS_MAX_ID + 1];
    MDB_val k = {rules_follow_up_id(prefix, rule_id, rule_len, record, record_len, id), id}, v;
    if (mdb_get(ctx->txn, rp_store_dbi(ctx->store, "reminders"), &k, &v))
        return false;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    const msgpack_object *state = doc ? rp_obj_get(rp_doc_root(doc), "state") : NULL;
    bool closed = state && (rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled"));
    rp_doc_destroy(&doc);
    return closed;
}

//  Close the pair's follow-up (and the manager's reminder): no agenda.
static int s_resolve(ctx_t *ctx, const char *rule_id, size_t rule_len, const char *record,
                     size_t record_len, pair_t *pair)
{
    int rc = s_close(ctx, 'f', rule_id, rule_len, record, record_len);
    if (!rc && pair->escalated)
        rc = s_close(ctx, 'e', rule_id, rule_len, record, record_len);
    pair->open = pair->escalating = pair->escalated = false;
    pair->since = pair->opened = pair->escalate_at = 0;
    return rc;
}

//  Evaluate one (rule, record) at ctx->now, as rules.h says.
static int s_settle(ctx_t *ctx, const char *rule_id, size_t rule_len, const rule_t *rule, char kind,
                    const char *record, size_t record_len)
{
    char key[PAIR_KEY_MAX];
    size_t key_len = s_pair_key(key, rule_id, rule_len, record, record_len);
    if (!key_len)
        return 0;
    pair_t was, pair;
    s_pair_get(ctx, key, key_len, &was);
    pair = was;
    pair.kind = kind;
    target_t target;
    int rc = s_target_load(ctx, kind, record, record_len, &target);
    int64_t onset = 0;
    bool applies = !rc && rule->active && s_onset(ctx, rule, &target, &onset);
    bool holds = applies && onset <= ctx->now;
    char owner[TEXT_MAX + 1] = "", team[TEXT_MAX + 1] = "";
    if (applies) {
        s_copy_str(rp_obj_get(target.map, "owner"), owner, TEXT_MAX);
        s_copy_str(rp_obj_get(target.map, "team"), team, TEXT_MAX);
    }
    rp_record_t fields;
    reminder_init(&fields);
    if (!rc && pair.open && !holds)
        rc = s_resolve(ctx, rule_id, rule_len, record, record_len, &pair);
    else if (!rc && pair.open && (strcmp(owner, pair.owner) || strcmp(team, pair.team))) {
        strcpy(pair.owner, owner); //  the follow-up follows the record
        strcpy(pair.team, team);
        s_follow_up_fields(rule, &target, record, record_len, &pair, false, &fields);
        if (!s_closed(ctx, 'f', rule_id, rule_len, record, record_len)) //  done stays done
            rc = s_derive(ctx, 'f', rule_id, rule_len, record, record_len, &fields);
    } else if (!rc && !pair.open && holds) {
        pair.open = true;
        pair.since = onset;
        pair.opened = ctx->now;
        strcpy(pair.owner, owner);
        strcpy(pair.team, team);
        pair.escalating = rule->escalate_s > 0;
        pair.escalate_at = pair.escalating ? ctx->now + rule->escalate_s * 1000 : 0;
        pair.escalated = false;
        s_follow_up_fields(rule, &target, record, record_len, &pair, true, &fields);
        rc = s_derive(ctx, 'f', rule_id, rule_len, record, record_len, &fields);
    }
    pair.scheduled = !pair.open && applies && !holds;
    pair.onset = pair.scheduled ? onset : 0;
    if (!pair.scheduled && !pair.open)
        memset(pair.owner, 0, sizeof pair.owner), memset(pair.team, 0, sizeof pair.team);
    if (!rc)
        rc = s_pair_save(ctx, key, key_len, &was, &pair);
    rp_record_reset(&fields);
    s_target_release(&target);
    return rc;
}

//  ---------------------------------------------------------------------
//  Rules in bulk

static char s_kind_of_rule(const rule_t *rule)
{
    if (rule->kind == RULE_IDLE || rule->kind == RULE_NEW_LEAD)
        return 'c';
    return rule->kind == RULE_DATE ? 0 : 'o';
}

//  Ids collected from a walk (copied: the walk's pages move on put).
typedef struct {
    char (*ids)[REMINDERS_MAX_ID + 1];
    size_t count, size;
} ids_t;

//  One more id (a walk's keys are distinct: no check).
static void s_ids_push(ids_t *self, const char *id, size_t len)
{
    if (!len || len > REMINDERS_MAX_ID)
        return;
    if (self->count == self->size) {
        self->size = self->size ? 2 * self->size : 8;
        self->ids = realloc(self->ids, self->size * sizeof *self->ids);
        assert(self->ids);
    }
    memcpy(self->ids[self->count], id, len);
    self->ids[self->count++][len] = 0;
}

//  One more id unless listed already (an event's few records).
static void s_ids_add(ids_t *self, const char *id, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen(self->ids[i]) == len && memcmp(self->ids[i], id, len) == 0)
            return;
    s_ids_push(self, id, len);
}

//  Every key of db (its ids), or those after prefix NUL (their second
//  part) when prefix is given.
static int s_ids_walk(ctx_t *ctx, const char *db, const char *prefix, size_t prefix_len, ids_t *out)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(ctx->txn, rp_store_dbi(ctx->store, db), &c);
    if (rc)
        return rc;
    char start[REMINDERS_MAX_ID + 1];
    MDB_val k = {prefix_len + 1, start}, v;
    if (prefix_len) {
        memcpy(start, prefix, prefix_len);
        start[prefix_len] = 0;
    }
    for (rc = mdb_cursor_get(c, &k, &v, prefix_len ? MDB_SET_RANGE : MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (!prefix_len) {
            s_ids_push(out, k.mv_data, k.mv_size);
            continue;
        }
        if (k.mv_size <= prefix_len + 1 || memcmp(k.mv_data, start, prefix_len + 1) != 0)
            break;
        s_ids_push(out, (const char *)k.mv_data + prefix_len + 1, k.mv_size - prefix_len - 1);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Settle every pair the rule has, then (when active) every record of
//  its kind: after rule.created, updated, deleted.
static int s_scan(ctx_t *ctx, const char *rule_id, size_t rule_len, const rule_t *rule)
{
    ids_t pairs = {0}, records = {0};
    int rc = s_ids_walk(ctx, "rule_pairs", rule_id, rule_len, &pairs);
    char kind = rule ? s_kind_of_rule(rule) : 0;
    for (size_t i = 0; !rc && i < pairs.count; i++) {
        char key[PAIR_KEY_MAX];
        size_t len = s_pair_key(key, rule_id, rule_len, pairs.ids[i], strlen(pairs.ids[i]));
        pair_t was, pair;
        s_pair_get(ctx, key, len, &was);
        if (rule && was.kind == kind)
            continue; //  settled below
        pair = was;
        if (pair.open)
            rc = s_resolve(ctx, rule_id, rule_len, pairs.ids[i], strlen(pairs.ids[i]), &pair);
        pair.scheduled = false;
        if (!rc)
            rc = s_pair_save(ctx, key, len, &was, &pair);
    }
    //  Active: every record of its kind (its pairs' among them: records are
    //  archived, never removed); else its pairs of that kind, to close.
    const ids_t *settle = &pairs;
    if (!rc && rule && rule->active && kind) {
        rc = s_ids_walk(ctx, kind == 'c' ? "customers" : "opportunities", NULL, 0, &records);
        settle = &records;
    }
    for (size_t i = 0; !rc && kind && i < settle->count; i++)
        rc = s_settle(ctx, rule_id, rule_len, rule, kind, settle->ids[i], strlen(settle->ids[i]));
    free(pairs.ids);
    free(records.ids);
    return rc;
}

typedef struct {
    char id[REMINDERS_MAX_ID + 1];
    rule_t rule;
} loaded_t;

//  The rules that look at records of kind, loaded (free with s_unload).
static int s_load_rules(ctx_t *ctx, char kind, loaded_t **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    ids_t ids = {0};
    int rc = s_ids_walk(ctx, "rules", NULL, 0, &ids);
    if (!rc && ids.count) {
        *out = calloc(ids.count, sizeof **out);
        assert(*out);
    }
    for (size_t i = 0; !rc && i < ids.count; i++) {
        loaded_t *one = &(*out)[*count];
        int got = rule_load(ctx->store, ctx->txn, ids.ids[i], strlen(ids.ids[i]), &one->rule);
        if (got == 0 && one->rule.active && s_kind_of_rule(&one->rule) == kind) {
            strcpy(one->id, ids.ids[i]);
            (*count)++;
        } else
            rule_release(&one->rule);
    }
    free(ids.ids);
    return rc;
}

static void s_unload(loaded_t *rules, size_t count)
{
    for (size_t i = 0; i < count; i++)
        rule_release(&rules[i].rule);
    free(rules);
}

//  Settle (every rule of kind, each record of ids).
static int s_settle_all(ctx_t *ctx, char kind, const ids_t *ids)
{
    if (!ids->count)
        return 0;
    loaded_t *rules;
    size_t count;
    int rc = s_load_rules(ctx, kind, &rules, &count);
    for (size_t r = 0; !rc && r < count; r++)
        for (size_t i = 0; !rc && i < ids->count; i++)
            rc = s_settle(ctx, rules[r].id, strlen(rules[r].id), &rules[r].rule, kind, ids->ids[i],
                          strlen(ids->ids[i]));
    s_unload(rules, count);
    return rc;
}

static bool s_prefixed(const rp_event_t *event, const char *prefix)
{
    size_t len = strlen(prefix);
    return event->type_len > len && memcmp(event->type, prefix, len) == 0;
}

int rules_apply_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    MDB_stat stat;
    if (mdb_stat(txn, rp_store_dbi(store, "rules"), &stat) == 0 && stat.ms_entries == 0)
        return 0; //  no rules: nothing to evaluate
    ctx_t ctx;
    s_ctx(&ctx, store, txn, seq, event);
    ids_t customers = {0}, deals = {0};
    const msgpack_object *data = event->data;
    const char *str;
    size_t len;
    char id[APPLY_MAX_ID + 1];
    int rc = 0;
    if (rp_event_is(event, "customer.regraded") || rp_event_is(event, "customer.grading_set"))
        rc = s_ids_walk(&ctx, "customers", NULL, 0, &customers); //  grades moved: all (monthly)
    else if (rp_event_is(event, "opportunity.pipeline_updated"))
        rc = s_ids_walk(&ctx, "opportunities", NULL, 0, &deals); //  rot_days moved: all (rare)
    else if (s_prefixed(event, "customer.")) {
        if (rp_obj_str(rp_obj_get(data, "id"), &str, &len))
            s_ids_add(&customers, str, len);
        const msgpack_object *from = rp_obj_get(data, "from");
        for (uint32_t i = 0; rp_obj_is_array(from) && i < from->via.array.size; i++)
            if (rp_obj_str(&from->via.array.ptr[i], &str, &len))
                s_ids_add(&customers, str, len);
        //  Their deals too: an assignment may give them a new owner.
        for (size_t i = 0; !rc && i < customers.count; i++)
            rc =
                s_ids_walk(&ctx, "by_customer", customers.ids[i], strlen(customers.ids[i]), &deals);
    } else if (rp_event_is(event, "activity.logged")) {
        len = activity_logged_customer(store, txn, data, id);
        s_ids_add(&customers, id, len);
    } else if (rp_event_is(event, "order.placed") || rp_event_is(event, "payment.received")) {
        len = reference_customer(store, txn, data, id);
        s_ids_add(&customers, id, len); //  its grade and tier may have moved
    } else if (rp_event_is(event, "lead.captured")) {
        MDB_val lead;
        if (lead_get(store, txn, seq, &lead) == 0) {
            rp_doc_t *doc = rp_doc_new(lead.mv_data, lead.mv_size, NULL);
            if (doc && rp_obj_str(rp_obj_get(rp_doc_root(doc), "customer_id"), &str, &len))
                s_ids_add(&customers, str, len);
            rp_doc_destroy(&doc);
        }
    } else if (s_prefixed(event, "opportunity.") &&
               !rp_event_is(event, "opportunity.pipeline_created") &&
               !rp_event_is(event, "opportunity.lost_reasons_set") &&
               rp_obj_str(rp_obj_get(data, "id"), &str, &len))
        s_ids_add(&deals, str, len);
    if (!rc)
        rc = s_settle_all(&ctx, 'c', &customers);
    if (!rc)
        rc = s_settle_all(&ctx, 'o', &deals);
    free(customers.ids);
    free(deals.ids);
    return rc;
}

bool rules_date_lead(rp_store_t *store, MDB_txn *txn, const char *team, size_t team_len,
                     int64_t *seconds)
{
    ctx_t ctx = {store, txn, 0, NULL, 0};
    ids_t ids = {0};
    bool found = false, exact = false;
    s_ids_walk(&ctx, "rules", NULL, 0, &ids);
    for (size_t i = 0; i < ids.count && !exact; i++) {
        rule_t rule;
        const char *their;
        size_t len;
        if (rule_load(store, txn, ids.ids[i], strlen(ids.ids[i]), &rule) == 0 && rule.active &&
            rule.kind == RULE_DATE) {
            bool teamed = rule_team(&rule, &their, &len);
            if (teamed && team && len == team_len && memcmp(their, team, len) == 0)
                exact = found = true, *seconds = rule.duration_s;
            else if (!teamed && !found)
                found = true, *seconds = rule.duration_s;
        }
        rule_release(&rule);
    }
    free(ids.ids);
    return found;
}

//  ---------------------------------------------------------------------
//  The agenda, and escalations

int rules_apply_due(rp_store_t *store, MDB_txn *txn, int64_t until_ms, size_t max, rules_due_fn *fn,
                    void *arg, size_t *count)
{
    *count = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "rule_due"), &c);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && *count < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        const char *key = (const char *)k.mv_data + 9;
        size_t len = k.mv_size > 9 ? k.mv_size - 9 : 0;
        const char *nul = len ? memchr(key, 0, len) : NULL;
        if (!nul)
            continue; //  cannot happen: every entry names a pair
        int64_t at = (int64_t)rp_seq_get(k.mv_data);
        if (at > until_ms)
            break;
        (*count)++;
        size_t rule_len = (size_t)(nul - key);
        if (!fn(arg, at, ((const char *)k.mv_data)[8], key, rule_len, nul + 1, len - rule_len - 1))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  The user's field (name, manager_id) into out ("" when none).
static void s_user_field(rp_store_t *store, MDB_txn *txn, const char *user, const char *field,
                         char *out, size_t max)
{
    MDB_val value;
    out[0] = 0;
    if (users_apply_record_get(store, txn, user, strlen(user), &value))
        return;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (doc)
        s_copy_str(rp_obj_get(rp_doc_root(doc), field), out, max);
    rp_doc_destroy(&doc);
}

static void s_escalation_key(const char *follow_up, int64_t opened, char *out)
{
    snprintf(out, RULES_KEY_MAX, "%s/%" PRId64, follow_up, opened);
}

int rules_apply_escalation(rp_store_t *store, MDB_txn *txn, const char *rule, size_t rule_len,
                           const char *record, size_t record_len, rules_escalation_t *out)
{
    ctx_t ctx = {store, txn, 0, NULL, 0};
    char key[PAIR_KEY_MAX];
    size_t key_len = s_pair_key(key, rule, rule_len, record, record_len);
    pair_t pair;
    if (!key_len || !s_pair_get(&ctx, key, key_len, &pair) || !pair.open)
        return MDB_NOTFOUND;
    rules_follow_up_id('f', rule, rule_len, record, record_len, out->follow_up);
    s_escalation_key(out->follow_up, pair.opened, out->key);
    snprintf(out->owner, sizeof out->owner, "%s", pair.owner);
    s_user_field(store, txn, pair.owner, "manager_id", out->manager, sizeof out->manager - 1);
    return 0;
}

//  ---------------------------------------------------------------------
//  rule.* events

typedef struct {
    rp_apply_t base;
    ctx_t ctx;
    rule_t rule;
} change_t;

static int s_load(change_t *self)
{
    return rule_load(self->base.store, self->base.txn, self->base.id, self->base.id_len,
                     &self->rule);
}

static int s_store(change_t *self, rp_record_t *r)
{
    rp_packer_t p;
    rp_packer_init(&p);
    rp_record_pack(r, &p.pk);
    int rc = rp_apply_put(&self->base, "rules", self->base.id, self->base.id_len, p.buffer.data,
                          p.buffer.size);
    rule_t stored;
    if (!rc && rule_read(&stored, p.buffer.data, p.buffer.size) == 0)
        rc = s_scan(&self->ctx, self->base.id, self->base.id_len, &stored);
    rule_release(&stored);
    rp_packer_destroy(&p);
    return rc;
}

//  {id, record}: a new rule, active unless it says not.
static int s_created(change_t *self)
{
    int rc = s_load(self);
    if (rc != MDB_NOTFOUND) //  -1: stored, if unreadable
        return rc == 0 || rc == -1 ? rp_apply_outcome(&self->base, 409, "exists") : rc;
    rp_record_t r;
    rule_init(&r);
    rp_field_error_t errors[1];
    const msgpack_object *record = rp_obj_get(self->base.event->data, "record");
    if (!rp_obj_is_map(record) ||
        rp_record_validate(&r, record, NULL, true, NULL, errors, 1) != 0 ||
        rule_check(&r, errors, 0, 1) != 0) {
        rp_record_reset(&r);
        return rp_apply_outcome(&self->base, 422, "bad_event");
    }
    rp_record_set_str(&r, RULE_ID, self->base.id, self->base.id_len);
    if (r.values[RULE_ACTIVE].type != MSGPACK_OBJECT_BOOLEAN)
        rp_record_set_bool(&r, RULE_ACTIVE, true);
    const msgpack_object *actor = self->base.event->actor;
    const msgpack_object *user = actor ? rp_obj_get(actor, "user") : NULL;
    if (user && user->type == MSGPACK_OBJECT_STR)
        rp_record_set_obj(&r, RULE_CREATED_BY, user);
    rp_record_stamp(&r, self->base.event);
    rc = s_store(self, &r);
    rp_record_reset(&r);
    return rc;
}

//  {id, expected_version?, changes}.
static int s_updated(change_t *self)
{
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND || rc == -1 ? rp_apply_outcome(&self->base, 404, "not_found")
                                              : rc;
    const msgpack_object *data = self->base.event->data;
    if (rp_record_stale(&self->rule.r, data))
        return rp_apply_outcome(&self->base, 412, "version_mismatch");
    rp_record_t changes;
    rule_init(&changes);
    rp_field_error_t errors[1];
    const msgpack_object *given = rp_obj_get(data, "changes");
    if (!rp_obj_is_map(given) ||
        rp_record_validate(&changes, given, NULL, false, NULL, errors, 1) != 0) {
        rp_record_reset(&changes);
        return rp_apply_outcome(&self->base, 422, "bad_event");
    }
    rp_record_overlay(&self->rule.r, &changes);
    rp_record_reset(&changes);
    if (rule_check(&self->rule.r, errors, 0, 1) != 0)
        return rp_apply_outcome(&self->base, 422, "bad_event");
    rp_record_stamp(&self->rule.r, self->base.event);
    return s_store(self, &self->rule.r);
}

//  {id, expected_version?}: its follow-ups close, its agenda goes.
static int s_deleted(change_t *self)
{
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND || rc == -1 ? rp_apply_outcome(&self->base, 404, "not_found")
                                              : rc;
    if (rp_record_stale(&self->rule.r, self->base.event->data))
        return rp_apply_outcome(&self->base, 412, "version_mismatch");
    rc = s_scan(&self->ctx, self->base.id, self->base.id_len, NULL);
    return rc ? rc : rp_apply_del(&self->base, "rules", self->base.id, self->base.id_len);
}

static bool s_record_arg(change_t *self, const char **record, size_t *len)
{
    return rp_obj_str(rp_obj_get(self->base.event->data, "record"), record, len) && *len > 0 &&
           *len <= REMINDERS_MAX_ID;
}

//  {id: rule, record, at}: the sweep saw the condition come to hold at
//  at; apply checks it again on its own state.
static int s_matched(change_t *self)
{
    const char *record, *str;
    size_t len, str_len;
    int64_t at;
    if (!s_record_arg(self, &record, &len) ||
        !rp_obj_str(rp_obj_get(self->base.event->data, "at"), &str, &str_len) ||
        !rp_time_parse(str, str_len, &at))
        return rp_apply_outcome(&self->base, 422, "bad_event");
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND || rc == -1 ? rp_apply_outcome(&self->base, 404, "not_found")
                                              : rc;
    char kind = s_kind_of_rule(&self->rule);
    if (!self->rule.active || !kind) {
        self->base.unchanged = true;
        return rp_apply_outcome(&self->base, 409, "inactive");
    }
    if (at > self->ctx.now)
        self->ctx.now = at;      //  the writer's clock may run ahead of the journal's stamp
    self->base.unchanged = true; //  derived changes do not version the rule
    return s_settle(&self->ctx, self->base.id, self->base.id_len, &self->rule, kind, record, len);
}

//  {id: rule, record, follow_up, key, owner, manager_id}: once per
//  follow-up, while it is open; the manager gets a reminder.
static int s_escalated(change_t *self)
{
    const char *record, *key;
    size_t len, key_len;
    if (!s_record_arg(self, &record, &len) ||
        !rp_obj_str(rp_obj_get(self->base.event->data, "key"), &key, &key_len) || !key_len ||
        key_len >= RULES_KEY_MAX)
        return rp_apply_outcome(&self->base, 422, "bad_event");
    self->base.unchanged = true;
    MDB_val seen;
    int rc = rp_apply_get(&self->base, "rule_escalated", key, key_len, &seen);
    if (rc == 0)
        return rp_apply_outcome(&self->base, 409, "already_escalated");
    if (rc != MDB_NOTFOUND)
        return rc;
    if ((rc = s_load(self)) != 0)
        return rc == MDB_NOTFOUND || rc == -1 ? rp_apply_outcome(&self->base, 404, "not_found")
                                              : rc;
    ctx_t *ctx = &self->ctx;
    char pair_key[PAIR_KEY_MAX], want[RULES_KEY_MAX], follow_up[REMINDERS_MAX_ID + 1];
    size_t pair_len = s_pair_key(pair_key, self->base.id, self->base.id_len, record, len);
    pair_t was, pair;
    bool stored = s_pair_get(ctx, pair_key, pair_len, &was);
    pair = was;
    rules_follow_up_id('f', self->base.id, self->base.id_len, record, len, follow_up);
    s_escalation_key(follow_up, pair.opened, want);
    if (!stored || !pair.open || pair.escalated || strlen(want) != key_len ||
        memcmp(want, key, key_len) != 0)
        return rp_apply_outcome(&self->base, 409, "resolved");
    pair.escalating = false;
    pair.escalate_at = 0;
    //  The follow-up done by hand meanwhile: nobody to chase.
    if (s_closed(ctx, 'f', self->base.id, self->base.id_len, record, len)) {
        rc = s_pair_save(ctx, pair_key, pair_len, &was, &pair);
        return rc ? rc : rp_apply_outcome(&self->base, 409, "resolved");
    }
    pair.escalated = true;
    uint8_t seq[8];
    rp_seq_put(seq, self->base.seq);
    if ((rc = rp_apply_put(&self->base, "rule_escalated", key, key_len, seq, 8)) != 0 ||
        (rc = s_pair_save(ctx, pair_key, pair_len, &was, &pair)) != 0)
        return rc;
    self->base.unchanged = false;
    char manager[TEXT_MAX + 1], owner_name[TEXT_MAX + 1];
    s_user_field(ctx->store, ctx->txn, pair.owner, "manager_id", manager, TEXT_MAX);
    if (!manager[0]) {
        rp_warn("reminders: rule %.*s: %s has no manager to escalate to", (int)self->base.id_len,
                self->base.id, pair.owner);
        return 0;
    }
    s_user_field(ctx->store, ctx->txn, pair.owner, "name", owner_name, TEXT_MAX);
    target_t target;
    if ((rc = s_target_load(ctx, pair.kind, record, len, &target)) != 0)
        return rc;
    rp_record_t fields;
    reminder_init(&fields);
    pair_t esc = pair;
    snprintf(esc.owner, sizeof esc.owner, "%s", manager);
    esc.since = ctx->now;
    s_follow_up_fields(&self->rule, &target, record, len, &esc, true, &fields);
    const char *name = "", *rule_name = "";
    size_t name_len = 0, rule_len = 0;
    if (target.map)
        s_str(target.map, pair.kind == 'c' ? "name" : "title", &name, &name_len);
    rp_record_str(&self->rule.r, RULE_NAME, &rule_name, &rule_len);
    char subject[600];
    snprintf(subject, sizeof subject, "%.*s: %s has not followed up %.*s", (int)rule_len, rule_name,
             owner_name[0] ? owner_name : pair.owner, (int)name_len, name);
    rp_record_set_str(&fields, REMINDER_SUBJECT, subject, strnlen(subject, 200));
    rp_record_set_nil(&fields, REMINDER_REMIND_BEFORE);
    rc = s_derive(ctx, 'e', self->base.id, self->base.id_len, record, len, &fields);
    rp_record_reset(&fields);
    s_target_release(&target);
    return rc;
}

#define CHANGE_ROW(name, call)                                                                     \
    static int name(rp_apply_t *base)                                                              \
    {                                                                                              \
        change_t *self = (change_t *)base;                                                         \
        s_ctx(&self->ctx, base->store, base->txn, base->seq, base->event);                         \
        int rc = call(self);                                                                       \
        rule_release(&self->rule);                                                                 \
        return rc;                                                                                 \
    }

CHANGE_ROW(s_row_created, s_created)
CHANGE_ROW(s_row_updated, s_updated)
CHANGE_ROW(s_row_deleted, s_deleted)
CHANGE_ROW(s_row_matched, s_matched)
CHANGE_ROW(s_row_escalated, s_escalated)

static const rp_apply_type_t s_types[] = {
    {"rule.created", s_row_created},     {"rule.updated", s_row_updated},
    {"rule.deleted", s_row_deleted},     {"rule.matched", s_row_matched},
    {"rule.escalated", s_row_escalated}, {NULL},
};

static const rp_apply_def_t s_def = {"reminders", "rule.", REMINDERS_MAX_ID, s_types, NULL};

int rules_apply_event(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    change_t self;
    memset(&self, 0, sizeof self);
    rule_init(&self.rule.r);
    return rp_apply_run(&s_def, &self.base, store, txn, seq, event);
}

//  ---------------------------------------------------------------------
//  Self-test

#include <czmq.h>
#include <rapport/testservice.h>

//  Apply type with data {pairs of kv (rp_testservice_args)…, sub: {sub_kv…}}
//  (sub NULL: none) as event seq (time 08:00:<seq mod 60>).
static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, const char *const *kv,
                         const char *sub, const char *const *sub_kv)
{
    rp_packer_t flat, inner, data;
    rp_packer_init(&flat);
    rp_packer_init(&data);
    rp_testservice_args(&flat, kv);
    if (!sub || !sub_kv)
        msgpack_sbuffer_write(&data.buffer, flat.buffer.data, flat.buffer.size);
    else {
        //  The flat map with one more pair: its header rewritten.
        rp_doc_t *doc = rp_doc_new(flat.buffer.data, flat.buffer.size, NULL);
        const msgpack_object *map = rp_doc_root(doc);
        msgpack_pack_map(&data.pk, map->via.map.size + 1);
        for (uint32_t i = 0; i < map->via.map.size; i++) {
            msgpack_pack_object(&data.pk, map->via.map.ptr[i].key);
            msgpack_pack_object(&data.pk, map->via.map.ptr[i].val);
        }
        rp_pack_cstr(&data.pk, sub);
        rp_packer_init(&inner);
        rp_testservice_args(&inner, sub_kv);
        msgpack_sbuffer_write(&data.buffer, inner.buffer.data, inner.buffer.size);
        rp_packer_destroy(&inner);
        rp_doc_destroy(&doc);
    }
    rp_apply_test_event(store, reminders_apply_event, seq, type, "reminders", "root", &data);
    rp_packer_destroy(&data);
    rp_packer_destroy(&flat);
}

//  rule.created {id, record: {name, condition: {type, key: value},
//  escalation: {after}?}}.
static void s_test_rule(rp_store_t *store, uint64_t seq, const char *id, const char *type,
                        const char *key, const char *value, const char *after)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, after ? 3 : 2);
    rp_pack_kv_cstr(&data.pk, "name", "重点客户未跟进");
    rp_pack_cstr(&data.pk, "condition");
    msgpack_pack_map(&data.pk, key ? (strcmp(type, "idle") == 0 ? 3 : 2) : 1);
    rp_pack_kv_cstr(&data.pk, "type", type);
    if (key)
        rp_pack_kv_cstr(&data.pk, key, value);
    if (key && strcmp(type, "idle") == 0)
        rp_pack_kv_cstr(&data.pk, "grade", "A");
    if (after) {
        rp_pack_cstr(&data.pk, "escalation");
        msgpack_pack_map(&data.pk, 1);
        rp_pack_kv_cstr(&data.pk, "after", after);
    }
    rp_apply_test_event(store, reminders_apply_event, seq, "rule.created", "reminders", "root",
                        &data);
    rp_packer_destroy(&data);
}

//  The opportunities' default pipeline, as their writer seeds it.
static void s_test_pipeline(rp_store_t *store, uint64_t seq)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "default");
    rp_pack_cstr(&data.pk, "pipeline");
    pipelines_default_pack(&data.pk);
    rp_apply_test_event(store, reminders_apply_event, seq, "opportunity.pipeline_created",
                        "opportunities", NULL, &data);
    rp_packer_destroy(&data);
}

static void s_test_user(rp_store_t *store, uint64_t seq, const char *id, char hash,
                        const char *role, const char *manager)
{
    char key_hash[65];
    memset(key_hash, hash, 64);
    key_hash[64] = 0;
    char email[64];
    snprintf(email, sizeof email, "%s@east.example.cn", id);
    s_test_event(store, seq, "user.created", (const char *[]){"id", id, "key_hash", key_hash, NULL},
                 "record",
                 (const char *[]){"name", id, "email", email, "role", role, "team", "east",
                                  "manager_id", manager ? manager : "~", NULL});
}

static void s_test_customer(rp_store_t *store, uint64_t seq, const char *id, const char *name,
                            const char *grade)
{
    s_test_event(
        store, seq, "customer.created", (const char *[]){"id", id, NULL}, "record",
        (const char *[]){"name", name, "grade", grade, "owner", "ann", "team", "east", NULL});
}

static void s_test_matched(rp_store_t *store, uint64_t seq, const char *rule, const char *record,
                           const char *at)
{
    s_test_event(store, seq, "rule.matched",
                 (const char *[]){"id", rule, "record", record, "at", at, NULL}, NULL, NULL);
}

static void s_test_escalated(rp_store_t *store, uint64_t seq, const char *rule, const char *record,
                             const char *key)
{
    s_test_event(store, seq, "rule.escalated",
                 (const char *[]){"id", rule, "record", record, "key", key, "owner", "ann",
                                  "manager_id", "mgr", NULL},
                 NULL, NULL);
}

//  The journal: a manager and ann; an idle rule (PT5S, grade A,
//  escalated after PT10S); two key customers and a grade C one; the
//  sweep's matches (one twice); a call on one; the other escalated (twice:
//  once recorded), the called one's old escalation refused; a date rule; a
//  deal rule over a deal with a close date; the idle rule deleted.
static void s_test_journal(rp_store_t *store)
{
    s_test_user(store, 1, "mgr", 'a', "manager", NULL);
    s_test_user(store, 2, "ann", 'b', "sales", "mgr");
    s_test_rule(store, 3, "r1", "idle", "duration", "PT5S", "PT10S");
    s_test_customer(store, 4, "c1", "甲方科技", "A");
    s_test_customer(store, 5, "c2", "乙方贸易", "A");
    s_test_customer(store, 6, "c3", "丙方工厂", "C");
    s_test_matched(store, 9, "r1", "c1", "2026-11-23T08:00:09Z");
    s_test_matched(store, 10, "r1", "c2", "2026-11-23T08:00:10Z");
    s_test_matched(store, 11, "r1", "c1", "2026-11-23T08:00:09Z");
    s_test_event(store, 12, "customer.activity_logged",
                 (const char *[]){"id", "c2", "activity_id", "a1", NULL}, "activity",
                 (const char *[]){"kind", "call", "summary", "电话回访", NULL});
    s_test_escalated(store, 19, "r1", "c1", "f-r1-c1/1795420809000");
    s_test_escalated(store, 20, "r1", "c1", "f-r1-c1/1795420809000");
    s_test_escalated(store, 21, "r1", "c2", "f-r1-c2/1795420810000");
    s_test_rule(store, 22, "r2", "date", "before", "P2D", NULL);
    s_test_pipeline(store, 23);
    s_test_rule(store, 24, "r3", "overdue", NULL, NULL, NULL);
    s_test_event(store, 25, "opportunity.created", (const char *[]){"id", "o1", NULL}, "record",
                 (const char *[]){"customer_id", "c1", "title", "储能项目", "owner", "ann", "team",
                                  "east", "expected_close", "2026-11-01", NULL});
    s_test_event(store, 26, "rule.deleted", (const char *[]){"id", "r1", NULL}, NULL, NULL);
}

typedef struct {
    const char *id;
    const char *state;    //  NULL: no such reminder
    const char *assignee; //  NULL: not checked
} test_want_t;

static int s_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_want_t *want = (const test_want_t *)arg;
    MDB_val k = {strlen(want->id), (void *)want->id}, v;
    int rc = mdb_get(txn, rp_store_dbi(store, "reminders"), &k, &v);
    if (!want->state) {
        assert(rc == MDB_NOTFOUND);
        return 0;
    }
    assert(rc == 0);
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    const msgpack_object *root = rp_doc_root(doc);
    if (!rp_obj_streq(rp_obj_get(root, "state"), want->state)) {
        fprintf(stderr, "%s: not %s\n", want->id, want->state);
        assert(false);
    }
    assert(rp_obj_streq(rp_obj_get(root, "kind"), "follow_up"));
    assert(!want->assignee || rp_obj_streq(rp_obj_get(root, "assignee"), want->assignee));
    rp_doc_destroy(&doc);
    return 0;
}

static void s_test_expect(rp_store_t *store, const char *id, const char *state,
                          const char *assignee)
{
    test_want_t want = {id, state, assignee};
    assert(rp_store_read(store, s_test_read, &want) == 0);
}

static int s_test_status(rp_store_t *store, uint64_t seq, const char *code)
{
    char got[32];
    MDB_txn *txn;
    assert(mdb_txn_begin(rp_store_env(store), NULL, MDB_RDONLY, &txn) == 0);
    int status = rp_outcome_status(store, txn, seq, got, sizeof got);
    mdb_txn_abort(txn);
    assert(!code || strcmp(got, code) == 0);
    return status;
}

typedef struct {
    char got[256];
} test_due_t;

static bool s_test_due_entry(void *arg, int64_t at_ms, char what, const char *rule, size_t rule_len,
                             const char *record, size_t record_len)
{
    test_due_t *due = (test_due_t *)arg;
    char one[64];
    snprintf(one, sizeof one, "%s%c:%.*s/%.*s@%" PRId64, due->got[0] ? "," : "", what,
             (int)rule_len, rule, (int)record_len, record, (at_ms / 1000) % 60);
    strncat(due->got, one, sizeof due->got - strlen(due->got) - 1);
    return true;
}

static int s_test_due_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    size_t count;
    return rules_apply_due(store, txn, INT64_MAX, 100, s_test_due_entry, arg, &count);
}

//  The rules' agenda as "m:r1/c1@9,…" (the second of each minute).
static void s_test_agenda(rp_store_t *store, const char *want)
{
    test_due_t due = {""};
    assert(rp_store_read(store, s_test_due_read, &due) == 0);
    if (strcmp(due.got, want) != 0) {
        fprintf(stderr, "rules' agenda: %s, want %s\n", due.got, want);
        assert(false);
    }
}

static int s_test_lead_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    int64_t *seconds = (int64_t *)arg;
    if (!rules_date_lead(store, txn, "east", 4, seconds))
        *seconds = -1;
    return 0;
}

static void s_test_apply(void)
{
    char dir[] = "/tmp/rp-reminders-rules-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, reminders_apply_dbnames);
    assert(store);
    s_test_user(store, 1, "mgr", 'a', "manager", NULL);
    s_test_user(store, 2, "ann", 'b', "sales", "mgr");
    s_test_rule(store, 3, "r1", "idle", "duration", "PT5S", "PT10S");
    assert(s_test_status(store, 3, "") == 200);
    //  Key customers: each idle 5 s after its creation; not the grade C one.
    s_test_customer(store, 4, "c1", "甲方科技", "A");
    s_test_customer(store, 5, "c2", "乙方贸易", "A");
    s_test_customer(store, 6, "c3", "丙方工厂", "C");
    s_test_agenda(store, "m:r1/c1@9,m:r1/c2@10");
    s_test_expect(store, "f-r1-c1", NULL, NULL);
    //  The sweep's match: one follow-up for the owner, due at the onset;
    //  its escalation 10 s after it opened. The same match again: nothing.
    s_test_matched(store, 9, "r1", "c1", "2026-11-23T08:00:09Z");
    s_test_expect(store, "f-r1-c1", "pending", "ann");
    s_test_matched(store, 10, "r1", "c2", "2026-11-23T08:00:10Z");
    s_test_agenda(store, "e:r1/c1@19,e:r1/c2@20");
    s_test_matched(store, 11, "r1", "c1", "2026-11-23T08:00:09Z");
    s_test_agenda(store, "e:r1/c1@19,e:r1/c2@20");
    rules_escalation_t esc;
    MDB_txn *txn;
    assert(mdb_txn_begin(rp_store_env(store), NULL, MDB_RDONLY, &txn) == 0);
    assert(rules_apply_escalation(store, txn, "r1", 2, "c1", 2, &esc) == 0);
    assert(strcmp(esc.follow_up, "f-r1-c1") == 0 && strcmp(esc.owner, "ann") == 0);
    assert(strcmp(esc.manager, "mgr") == 0 && strcmp(esc.key, "f-r1-c1/1795420809000") == 0);
    assert(rules_apply_escalation(store, txn, "r1", 2, "c3", 2, &esc) == MDB_NOTFOUND);
    mdb_txn_abort(txn);
    //  A call: c2's follow-up done, its escalation gone; idle again at 17.
    s_test_event(store, 12, "customer.activity_logged",
                 (const char *[]){"id", "c2", "activity_id", "a1", NULL}, "activity",
                 (const char *[]){"kind", "call", "summary", "电话回访", NULL});
    s_test_expect(store, "f-r1-c2", "done", NULL);
    s_test_agenda(store, "m:r1/c2@17,e:r1/c1@19");
    //  c1 escalated once: the manager's reminder; a second is refused.
    s_test_escalated(store, 19, "r1", "c1", "f-r1-c1/1795420809000");
    assert(s_test_status(store, 19, "") == 200);
    s_test_expect(store, "e-r1-c1", "pending", "mgr");
    s_test_escalated(store, 20, "r1", "c1", "f-r1-c1/1795420809000");
    assert(s_test_status(store, 20, "already_escalated") == 409);
    s_test_escalated(store, 21, "r1", "c2", "f-r1-c2/1795420810000");
    assert(s_test_status(store, 21, "resolved") == 409);
    s_test_agenda(store, "m:r1/c2@17");
    //  The important dates' lead time.
    int64_t seconds = 0;
    assert(rp_store_read(store, s_test_lead_read, &seconds) == 0 && seconds == -1);
    s_test_rule(store, 22, "r2", "date", "before", "P2D", NULL);
    assert(rp_store_read(store, s_test_lead_read, &seconds) == 0 && seconds == 2 * 86400);
    //  A deal past its close date: overdue at once.
    s_test_pipeline(store, 23);
    s_test_rule(store, 24, "r3", "overdue", NULL, NULL, NULL);
    s_test_event(store, 25, "opportunity.created", (const char *[]){"id", "o1", NULL}, "record",
                 (const char *[]){"customer_id", "c1", "title", "储能项目", "owner", "ann", "team",
                                  "east", "expected_close", "2026-11-01", NULL});
    s_test_expect(store, "f-r3-o1", "pending", "ann");
    //  The deal's follow-up done by hand; the customer and its deals
    //  reassigned: the open one follows, the done one stays done.
    s_test_event(store, 26, "reminder.done", (const char *[]){"id", "f-r3-o1", NULL}, NULL, NULL);
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 4);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_cstr(&data.pk, "owner", "bob");
    rp_pack_kv_cstr(&data.pk, "team", "east");
    rp_pack_kv_bool(&data.pk, "with_opportunities", true);
    rp_apply_test_event(store, reminders_apply_event, 27, "customer.assigned", "customers", "root",
                        &data);
    rp_packer_destroy(&data);
    assert(s_test_status(store, 27, "") == 200);
    s_test_expect(store, "f-r1-c1", "pending", "bob");
    s_test_expect(store, "f-r3-o1", "done", "ann");
    //  An integrator's call on c1 (by its id): its follow-up and the
    //  manager's close.
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 4);
    rp_pack_cstr(&data.pk, "customer");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_cstr(&data.pk, "kind", "call");
    rp_pack_kv_cstr(&data.pk, "at", "2026-11-23T08:00:28Z");
    rp_pack_kv_cstr(&data.pk, "summary", "呼叫中心回访");
    rp_apply_test_event(store, reminders_apply_event, 28, "activity.logged", "callcenter", NULL,
                        &data);
    rp_packer_destroy(&data);
    s_test_expect(store, "f-r1-c1", "done", "bob");
    s_test_expect(store, "e-r1-c1", "done", "mgr");
    s_test_agenda(store, "m:r1/c2@17,m:r1/c1@33");
    //  The idle rule deleted: its follow-ups and the manager's close.
    s_test_event(store, 29, "rule.deleted", (const char *[]){"id", "r1", NULL}, NULL, NULL);
    assert(s_test_status(store, 29, "") == 200);
    s_test_expect(store, "f-r1-c1", "done", NULL);
    s_test_expect(store, "e-r1-c1", "done", NULL);
    s_test_agenda(store, "");
    s_test_matched(store, 30, "r1", "c1", "2026-11-23T08:00:30Z");
    assert(s_test_status(store, 30, "not_found") == 404);
    //  A stale deal by its stage's rot_days: 30 days in the default
    //  pipeline; none once the stage rots no more; a day after that.
    s_test_rule(store, 31, "r4", "stage_stale", NULL, NULL, NULL);
    s_test_agenda(store, "m:r4/o1@25");
    for (unsigned days = 0; days < 2; days++) {
        rp_packer_init(&data);
        msgpack_pack_map(&data.pk, 2);
        rp_pack_kv_cstr(&data.pk, "id", "default");
        rp_pack_cstr(&data.pk, "changes");
        msgpack_pack_map(&data.pk, 1);
        rp_pack_cstr(&data.pk, "stages");
        static const char *const keys[] = {"lead", "won", "lost"};
        msgpack_pack_array(&data.pk, 3);
        for (int i = 0; i < 3; i++) {
            msgpack_pack_map(&data.pk, 4);
            rp_pack_kv_cstr(&data.pk, "key", keys[i]);
            rp_pack_kv_cstr(&data.pk, "name", keys[i]);
            rp_pack_kv_cstr(&data.pk, "kind", i ? keys[i] : "open");
            rp_pack_kv_u64(&data.pk, "rot_days", i ? 0 : days);
        }
        rp_apply_test_event(store, reminders_apply_event, 32 + days, "opportunity.pipeline_updated",
                            "opportunities", NULL, &data);
        rp_packer_destroy(&data);
        assert(s_test_status(store, 32 + days, "") == 200);
        s_test_agenda(store, days ? "m:r4/o1@25" : "");
    }
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

void rules_apply_test(void)
{
    char id[REMINDERS_MAX_ID + 1];
    assert(rules_follow_up_id('f', "r1", 2, "c1", 2, id) == 7 && strcmp(id, "f-r1-c1") == 0);
    char long_id[65];
    memset(long_id, 'x', 64);
    long_id[64] = 0;
    size_t len = rules_follow_up_id('e', "r1", 2, long_id, 64, id);
    assert(len == 35 && id[0] == 'e' && id[2] == 'h');
    char other[REMINDERS_MAX_ID + 1];
    long_id[63] = 'y';
    rules_follow_up_id('e', "r1", 2, long_id, 64, other);
    assert(strcmp(id, other) != 0);
    s_test_apply();
    rp_apply_test_replay("reminders-rules", reminders_apply_dbnames, s_test_journal);
}
