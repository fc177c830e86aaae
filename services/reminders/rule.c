/*  rule.c — the rule record's field table, the check of its condition,
    action and escalation, and the rule read for evaluation. */
#include "rule.h"

#include <rapport/duration.h>
#include <rapport/normalize.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX (RP_MAX_FIELD + 1)

static const char *s_bool(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_BOOLEAN ? NULL : "type";
}

//  The condition is a map; what is in it is rule_check's (so each bad
//  key is named).
static const char *s_map(const msgpack_object *o)
{
    return rp_obj_is_map(o) ? NULL : "type";
}

static const rp_field_t s_fields[RULE_FIELDS] = {
    [RULE_ID] = {"id", RP_FIELD_SYSTEM},
    [RULE_NAME] = {"name", RP_FIELD_TEXT, .max = 100, .flags = RP_FIELD_REQUIRED | RP_FIELD_KEPT},
    [RULE_TEAM] = {"team", RP_FIELD_TEXT, .max = 100},
    [RULE_ACTIVE] = {"active", RP_FIELD_VALUE, .check = s_bool, .flags = RP_FIELD_KEPT},
    [RULE_CONDITION] = {"condition", RP_FIELD_VALUE, .check = s_map,
                        .flags = RP_FIELD_REQUIRED | RP_FIELD_KEPT},
    [RULE_ACTION] = {"action", RP_FIELD_VALUE, .check = s_map},
    [RULE_ESCALATION] = {"escalation", RP_FIELD_VALUE, .check = s_map},
    [RULE_CREATED_BY] = {"created_by", RP_FIELD_SYSTEM},
    [RULE_VERSION] = {"version", RP_FIELD_SYSTEM},
    [RULE_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [RULE_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void rule_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, RULE_FIELDS);
}

static const char *const s_kinds[RULE_KINDS] = {"idle",    "new_lead", "stage_stale",
                                                "closing", "overdue",  "date"};

//  The keys each condition takes besides type, NULL-terminated; the
//  first, when marked required, must be there.
static const struct {
    const char *keys[6];
    bool first_required;
} s_keys[RULE_KINDS] = {
    [RULE_IDLE] = {{"duration", "grade", "tier", "team", "tags", NULL}, true},
    [RULE_NEW_LEAD] = {{"within", NULL}, true},
    [RULE_STAGE_STALE] = {{"duration", NULL}, false},
    [RULE_CLOSING] = {{"within", NULL}, true},
    [RULE_OVERDUE] = {{NULL}, false},
    [RULE_DATE] = {{"before", NULL}, true},
};

const char *rule_kind_name(rule_kind_t kind)
{
    assert(kind < RULE_KINDS);
    return s_kinds[kind];
}

static int s_kind_of(const msgpack_object *type)
{
    for (int i = 0; i < RULE_KINDS; i++)
        if (rp_obj_streq(type, s_kinds[i]))
            return i;
    return -1;
}

typedef struct {
    rp_field_error_t *errors;
    int count, max;
} errors_t;

static void s_error(errors_t *self, const char *prefix, const char *key, const char *code,
                    const char *message)
{
    if (self->count >= self->max)
        return;
    char field[FIELD_MAX];
    snprintf(field, sizeof field, "%s%s", prefix, key);
    rp_field_error_set(&self->errors[self->count], field, strlen(field), code);
    if (message)
        self->errors[self->count].message = message;
    self->count++;
}

//  A duration of at least min seconds: its seconds, or -1 (error added).
static int64_t s_duration(errors_t *self, const char *prefix, const char *key,
                          const msgpack_object *value, int64_t min)
{
    const char *text;
    size_t len;
    int64_t seconds;
    if (!value || value->type == MSGPACK_OBJECT_NIL) {
        s_error(self, prefix, key, "required", NULL);
        return -1;
    }
    if (!rp_obj_str(value, &text, &len)) {
        s_error(self, prefix, key, "type", "an ISO 8601 duration (P3D, PT2S)");
        return -1;
    }
    if (len > RP_DURATION_TEXT || rp_duration_parse(text, len, &seconds)) {
        s_error(self, prefix, key, "invalid",
                "an ISO 8601 duration in weeks to seconds (P3D, PT2S)");
        return -1;
    }
    if (seconds < min) {
        s_error(self, prefix, key, "out_of_range", "at least a second");
        return -1;
    }
    return seconds;
}

//  Text of 1..max bytes (no control characters).
static void s_text(errors_t *self, const char *prefix, const char *key, const msgpack_object *value,
                   size_t max)
{
    if (value->type != MSGPACK_OBJECT_STR) {
        s_error(self, prefix, key, "type", "a text is expected");
        return;
    }
    const char *code = rp_normalize_text(value->via.str.ptr, value->via.str.size, max, 0);
    if (code)
        s_error(self, prefix, key, code, NULL);
}

//  Every key of map one of known (NULL-terminated), else "unknown".
static void s_unknown(errors_t *self, const char *prefix, const msgpack_object *map,
                      const char *const *known)
{
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *key = &map->via.map.ptr[i].key;
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = rp_obj_streq(key, known[k]);
        if (!ok) {
            const char *name = "";
            size_t len = 0;
            rp_obj_str(key, &name, &len);
            len = rp_normalize_cut(name, len, RP_MAX_FIELD - strlen(prefix));
            char cut[FIELD_MAX];
            snprintf(cut, sizeof cut, "%.*s", (int)len, name);
            s_error(self, prefix, cut, "unknown", NULL);
        }
    }
}

static const char *const s_grades[] = {"A", "B", "C", "D", "E", NULL};
static const char *const s_tiers[] = {"lead", "key", "prospect", "transacting", "strategic", NULL};

static void s_enum(errors_t *self, const char *key, const msgpack_object *value,
                   const char *const *values, const char *message)
{
    for (size_t i = 0; values[i]; i++)
        if (rp_obj_streq(value, values[i]))
            return;
    s_error(self, "condition.", key, value->type == MSGPACK_OBJECT_STR ? "invalid" : "type",
            message);
}

static void s_check_filters(errors_t *self, const msgpack_object *condition)
{
    const msgpack_object *grade = rp_obj_get(condition, "grade"),
                         *tier = rp_obj_get(condition, "tier"),
                         *team = rp_obj_get(condition, "team"),
                         *tags = rp_obj_get(condition, "tags");
    if (grade && grade->type != MSGPACK_OBJECT_NIL)
        s_enum(self, "grade", grade, s_grades, "one of A, B, C, D, E");
    if (tier && tier->type != MSGPACK_OBJECT_NIL)
        s_enum(self, "tier", tier, s_tiers, "one of lead, prospect, transacting, key, strategic");
    if (team && team->type != MSGPACK_OBJECT_NIL)
        s_text(self, "condition.", "team", team, 100);
    if (!tags || tags->type == MSGPACK_OBJECT_NIL)
        return;
    if (!rp_obj_is_array(tags))
        s_error(self, "condition.", "tags", "type", "a list of tags");
    else if (tags->via.array.size > RULE_MAX_TAGS)
        s_error(self, "condition.", "tags", "too_many", "at most 20 tags");
    else
        for (uint32_t i = 0; i < tags->via.array.size; i++) {
            char key[32];
            snprintf(key, sizeof key, "tags[%u]", (unsigned)i);
            s_text(self, "condition.", key, &tags->via.array.ptr[i], 50);
        }
}

static void s_check_condition(errors_t *self, const msgpack_object *condition)
{
    if (!rp_obj_is_map(condition))
        return; //  the field table's check said so
    const msgpack_object *type = rp_obj_get(condition, "type");
    int kind = type ? s_kind_of(type) : -1;
    if (!type || type->type == MSGPACK_OBJECT_NIL) {
        s_error(self, "condition.", "type", "required", NULL);
        return;
    }
    if (kind < 0) {
        s_error(self, "condition.", "type", "invalid",
                "one of idle, new_lead, stage_stale, closing, overdue, date");
        return;
    }
    const char *known[8] = {"type"};
    size_t n = 1;
    for (size_t i = 0; s_keys[kind].keys[i]; i++)
        known[n++] = s_keys[kind].keys[i];
    known[n] = NULL;
    s_unknown(self, "condition.", condition, known);
    const char *first = s_keys[kind].keys[0];
    const msgpack_object *value = first ? rp_obj_get(condition, first) : NULL;
    if (first && (s_keys[kind].first_required || (value && value->type != MSGPACK_OBJECT_NIL)))
        s_duration(self, "condition.", first, value, kind == RULE_DATE ? 0 : 1);
    if (kind == RULE_IDLE)
        s_check_filters(self, condition);
}

static void s_check_action(errors_t *self, const msgpack_object *action)
{
    if (!rp_obj_is_map(action))
        return;
    static const char *const known[] = {"subject", "remind_before", NULL};
    s_unknown(self, "action.", action, known);
    const msgpack_object *subject = rp_obj_get(action, "subject"),
                         *before = rp_obj_get(action, "remind_before");
    if (subject && subject->type != MSGPACK_OBJECT_NIL)
        s_text(self, "action.", "subject", subject, 200);
    if (!before || before->type == MSGPACK_OBJECT_NIL)
        return;
    if (!rp_obj_is_array(before))
        s_error(self, "action.", "remind_before", "type", "a list of durations");
    else if (before->via.array.size > RULE_MAX_OFFSETS)
        s_error(self, "action.", "remind_before", "too_many", "at most 5 durations");
    else
        for (uint32_t i = 0; i < before->via.array.size; i++) {
            char key[32];
            snprintf(key, sizeof key, "remind_before[%u]", (unsigned)i);
            s_duration(self, "action.", key, &before->via.array.ptr[i], 0);
        }
}

int rule_check(const rp_record_t *whole, rp_field_error_t *errors, int count, int max)
{
    errors_t self = {errors, count, max};
    const msgpack_object *condition = &whole->values[RULE_CONDITION];
    if (condition->type == MSGPACK_OBJECT_NIL)
        s_error(&self, "", "condition", "required", NULL);
    s_check_condition(&self, condition);
    s_check_action(&self, &whole->values[RULE_ACTION]);
    const msgpack_object *escalation = &whole->values[RULE_ESCALATION];
    if (rp_obj_is_map(escalation)) {
        static const char *const known[] = {"after", NULL};
        s_unknown(&self, "escalation.", escalation, known);
        s_duration(&self, "escalation.", "after", rp_obj_get(escalation, "after"), 1);
    }
    return self.count;
}

//  ---------------------------------------------------------------------
//  A rule read for evaluation

static int64_t s_seconds(const msgpack_object *value)
{
    const char *text;
    size_t len;
    int64_t seconds = 0;
    if (!value || !rp_obj_str(value, &text, &len) || len > RP_DURATION_TEXT ||
        rp_duration_parse(text, len, &seconds))
        return 0;
    return seconds;
}

static const msgpack_object *s_given(const msgpack_object *map, const char *key)
{
    const msgpack_object *value = rp_obj_get(map, key);
    return value && value->type != MSGPACK_OBJECT_NIL ? value : NULL;
}

int rule_read(rule_t *self, const void *bytes, size_t size)
{
    memset(self, 0, sizeof *self);
    rule_init(&self->r);
    self->bytes = malloc(size ? size : 1);
    assert(self->bytes);
    memcpy(self->bytes, bytes, size);
    self->doc = rp_doc_new(self->bytes, size, NULL);
    if (!self->doc)
        return -1;
    rp_record_from_map(&self->r, rp_doc_root(self->doc));
    rp_field_error_t errors[1];
    if (rule_check(&self->r, errors, 0, 1))
        return -1;
    const msgpack_object *condition = &self->r.values[RULE_CONDITION];
    self->kind = (rule_kind_t)s_kind_of(rp_obj_get(condition, "type"));
    self->active = self->r.values[RULE_ACTIVE].type != MSGPACK_OBJECT_BOOLEAN ||
                   self->r.values[RULE_ACTIVE].via.boolean;
    const char *first = s_keys[self->kind].keys[0];
    self->duration_s = first ? s_seconds(rp_obj_get(condition, first)) : 0;
    self->grade = s_given(condition, "grade");
    self->tier = s_given(condition, "tier");
    self->team = s_given(condition, "team");
    self->tags = s_given(condition, "tags");
    const msgpack_object *escalation = &self->r.values[RULE_ESCALATION];
    if (rp_obj_is_map(escalation))
        self->escalate_s = s_seconds(rp_obj_get(escalation, "after"));
    return 0;
}

void rule_release(rule_t *self)
{
    rp_record_reset(&self->r);
    rp_doc_destroy(&self->doc);
    free(self->bytes);
    self->bytes = NULL;
}

int rule_load(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, rule_t *self)
{
    memset(self, 0, sizeof *self);
    rule_init(&self->r);
    MDB_val key = {len, (void *)id}, value;
    int rc = len ? mdb_get(txn, rp_store_dbi(store, "rules"), &key, &value) : MDB_NOTFOUND;
    if (rc)
        return rc;
    return rule_read(self, value.mv_data, value.mv_size);
}

bool rule_team(const rule_t *self, const char **team, size_t *len)
{
    return rp_record_str(&self->r, RULE_TEAM, team, len);
}

//  ---------------------------------------------------------------------
//  Self-test

//  Check {condition, action?, escalation?} given as JSON-like packs: the
//  errors as "field=code,…".
static void s_test_check(const char *want, void (*pack)(msgpack_packer *pk))
{
    rp_packer_t p;
    rp_packer_init(&p);
    pack(&p.pk);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    rp_record_t r;
    rule_init(&r);
    rp_field_error_t errors[RULE_MAX_ERRORS];
    int count = rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors, 8);
    count = rule_check(&r, errors, count, RULE_MAX_ERRORS);
    char got[1024] = "";
    for (int i = 0; i < count; i++) {
        size_t used = strlen(got);
        snprintf(got + used, sizeof got - used, "%s%.60s=%.20s", i ? "," : "", errors[i].field,
                 errors[i].code);
    }
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "rule check: %s, want %s\n", got, want);
        assert(false);
    }
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
}

static void s_test_good(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "name", "重点客户三天未跟进");
    rp_pack_cstr(pk, "condition");
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "type", "idle");
    rp_pack_kv_cstr(pk, "duration", "P3D");
    rp_pack_kv_cstr(pk, "grade", "A");
    rp_pack_cstr(pk, "action");
    msgpack_pack_map(pk, 1);
    rp_pack_kv_cstr(pk, "subject", "跟进");
    rp_pack_cstr(pk, "escalation");
    msgpack_pack_map(pk, 1);
    rp_pack_kv_cstr(pk, "after", "P1D");
}

static void s_test_bad(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 5);
    rp_pack_kv_cstr(pk, "colour", "blue");
    rp_pack_cstr(pk, "condition");
    msgpack_pack_map(pk, 5);
    rp_pack_kv_cstr(pk, "type", "idle");
    rp_pack_kv_cstr(pk, "duration", "P1M");
    rp_pack_kv_cstr(pk, "grade", "Z");
    rp_pack_kv_u64(pk, "tags", 3);
    rp_pack_kv_u64(pk, "size", 3);
    rp_pack_cstr(pk, "action");
    msgpack_pack_map(pk, 1);
    rp_pack_cstr(pk, "remind_before");
    msgpack_pack_array(pk, 1);
    rp_pack_cstr(pk, "soon");
    rp_pack_cstr(pk, "escalation");
    msgpack_pack_map(pk, 0);
    rp_pack_kv_bool(pk, "active", true);
}

static void s_test_type(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "name", "x");
    rp_pack_cstr(pk, "condition");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "type", "whenever");
    rp_pack_kv_cstr(pk, "within", "PT0S");
}

static void s_test_zero(msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "name", "x");
    rp_pack_cstr(pk, "condition");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "type", "new_lead");
    rp_pack_kv_cstr(pk, "within", "PT0S");
}

void rule_test(void)
{
    s_test_check("", s_test_good);
    s_test_check("colour=unknown,name=required,condition.size=unknown,condition.duration=invalid,"
                 "condition.grade=invalid,condition.tags=type,action.remind_before[0]=invalid,"
                 "escalation.after=required",
                 s_test_bad);
    s_test_check("condition.type=invalid", s_test_type);
    s_test_check("condition.within=out_of_range", s_test_zero);
    //  Read back: the kind, the duration, the filters, the escalation.
    rp_packer_t p;
    rp_packer_init(&p);
    s_test_good(&p.pk);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    rp_record_t r;
    rule_init(&r);
    rp_field_error_t errors[4];
    assert(rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors, 4) == 0);
    rp_packer_t stored;
    rp_packer_init(&stored);
    rp_record_pack(&r, &stored.pk);
    rule_t rule;
    assert(rule_read(&rule, stored.buffer.data, stored.buffer.size) == 0);
    assert(rule.kind == RULE_IDLE && rule.active && rule.duration_s == 3 * 86400);
    assert(rule.escalate_s == 86400 && rp_obj_streq(rule.grade, "A") && !rule.tier);
    const char *team;
    size_t len;
    assert(!rule_team(&rule, &team, &len));
    rule_release(&rule);
    assert(strcmp(rule_kind_name(RULE_STAGE_STALE), "stage_stale") == 0);
    rp_packer_destroy(&stored);
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
}
