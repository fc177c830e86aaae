/*  pipelines.c — see pipelines.h. */
#include "pipelines.h"
#include "apply.h"
#include "handlers.h"

#include <rapport/event.h>
#include <rapport/log.h>
#include <rapport/normalize.h>
#include <rapport/random.h>
#include <rapport/record.h>
#include <rapport/outcome.h>
#include <rapport/scope.h>
#include <rapport/testservice.h>
#include <rapport/write.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS        5000 //  the append's reply, then apply: each bounded
#define LIST_LIMIT     100  //  pipelines in a page by default
#define LIST_MAX       200  //  at most
#define FIELD_MAX      (RP_MAX_FIELD + 1)
#define SEED_USER_IDEM "opportunities/seed/" //  the writer's own keys

//  ---------------------------------------------------------------------
//  Checks

typedef struct {
    rp_field_error_t *errors;
    int max;
    int count; //  all found (only max filled in)
} errors_t;

static void s_error(errors_t *self, const char *field, const char *code, const char *message)
{
    if (self->count < self->max) {
        rp_field_error_set(&self->errors[self->count], field, strlen(field), code);
        if (message)
            self->errors[self->count].message = message;
    }
    self->count++;
}

static int s_errors_filled(const errors_t *self)
{
    return self->count < self->max ? self->count : self->max;
}

//  A key of the map being read, as a field name (cut safely) under prefix.
static void s_field_key(char *out, const char *prefix, const msgpack_object *key)
{
    const char *str = "";
    size_t len = 0;
    rp_obj_str(key, &str, &len);
    len = rp_normalize_cut(str, len, RP_MAX_FIELD);
    snprintf(out, FIELD_MAX, "%s%.*s", prefix, (int)len, str);
}

//  Text of 1..max bytes (no control characters).
static bool s_text(errors_t *self, const char *field, const msgpack_object *value, size_t max)
{
    if (!value || value->type == MSGPACK_OBJECT_NIL) {
        s_error(self, field, "required", NULL);
        return false;
    }
    if (value->type != MSGPACK_OBJECT_STR) {
        s_error(self, field, "type", "a text is expected");
        return false;
    }
    const char *code = rp_normalize_text(value->via.str.ptr, value->via.str.size, max, 0);
    if (code)
        s_error(self, field, code, NULL);
    return code == NULL;
}

//  An unsigned integer 0..max, absent or nil for the default.
static bool s_uint(errors_t *self, const char *field, const msgpack_object *value, uint64_t max)
{
    if (!value || value->type == MSGPACK_OBJECT_NIL)
        return true;
    uint64_t n;
    if (value->type == MSGPACK_OBJECT_NEGATIVE_INTEGER || (rp_obj_u64(value, &n) && n > max)) {
        s_error(self, field, "out_of_range", NULL);
        return false;
    }
    if (value->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
        s_error(self, field, "type", "an integer is expected");
        return false;
    }
    return true;
}

//  A stage key: 1..PIPELINE_MAX_KEY of [a-z0-9_].
static bool s_key_valid(const char *key, size_t len)
{
    if (len == 0 || len > PIPELINE_MAX_KEY)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((key[i] >= 'a' && key[i] <= 'z') || (key[i] >= '0' && key[i] <= '9') ||
              key[i] == '_'))
            return false;
    return true;
}

static bool s_same(const msgpack_object *a, const msgpack_object *b)
{
    return a->via.str.size == b->via.str.size &&
           memcmp(a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

static const char *const s_kinds[] = {"open", "won", "lost"};

//  The kind's index (PIPELINE_OPEN…), or -1.
static int s_kind(const msgpack_object *value)
{
    for (int i = 0; i < 3; i++)
        if (rp_obj_streq(value, s_kinds[i]))
            return i;
    return -1;
}

static const char *const s_stage_keys[] = {"key", "name", "kind", "probability", "rot_days", NULL};

static void s_check_stage(errors_t *self, const msgpack_object *stages, uint32_t index, bool *won,
                          bool *lost)
{
    const msgpack_object *stage = &stages->via.array.ptr[index];
    char prefix[32], field[FIELD_MAX];
    snprintf(prefix, sizeof prefix, "stages[%" PRIu32 "]", index);
    if (!rp_obj_is_map(stage)) {
        s_error(self, prefix, "type", "a stage is a map {key, name, kind, probability, rot_days}");
        return;
    }
    snprintf(prefix, sizeof prefix, "stages[%" PRIu32 "].", index);
    for (uint32_t i = 0; i < stage->via.map.size; i++) {
        const msgpack_object *key = &stage->via.map.ptr[i].key;
        bool known = false;
        for (size_t k = 0; s_stage_keys[k] && !known; k++)
            known = rp_obj_streq(key, s_stage_keys[k]);
        if (!known) {
            s_field_key(field, prefix, key);
            s_error(self, field, "unknown", NULL);
        }
    }
    const msgpack_object *key = rp_obj_get(stage, "key");
    snprintf(field, sizeof field, "%skey", prefix);
    if (!key || key->type == MSGPACK_OBJECT_NIL)
        s_error(self, field, "required", NULL);
    else if (key->type != MSGPACK_OBJECT_STR || !s_key_valid(key->via.str.ptr, key->via.str.size))
        s_error(self, field, "invalid", "a stage key is 1..64 of [a-z0-9_]");
    else
        for (uint32_t j = 0; j < index; j++) {
            const msgpack_object *other = rp_obj_get(&stages->via.array.ptr[j], "key");
            if (other && other->type == MSGPACK_OBJECT_STR && s_same(key, other)) {
                s_error(self, field, "duplicate", "another stage has this key");
                break;
            }
        }
    snprintf(field, sizeof field, "%sname", prefix);
    s_text(self, field, rp_obj_get(stage, "name"), PIPELINES_MAX_TEXT);
    const msgpack_object *kind = rp_obj_get(stage, "kind");
    snprintf(field, sizeof field, "%skind", prefix);
    int k = s_kind(kind);
    if (!kind || kind->type == MSGPACK_OBJECT_NIL)
        s_error(self, field, "required", NULL);
    else if (k < 0)
        s_error(self, field, "invalid", "one of open, won, lost");
    *won = *won || k == PIPELINE_WON;
    *lost = *lost || k == PIPELINE_LOST;
    snprintf(field, sizeof field, "%sprobability", prefix);
    s_uint(self, field, rp_obj_get(stage, "probability"), 100);
    snprintf(field, sizeof field, "%srot_days", prefix);
    s_uint(self, field, rp_obj_get(stage, "rot_days"), PIPELINES_MAX_ROT_DAYS);
}

static void s_check_stages(errors_t *self, const msgpack_object *stages)
{
    if (stages->type == MSGPACK_OBJECT_NIL) {
        s_error(self, "stages", "required", NULL);
        return;
    }
    if (stages->type != MSGPACK_OBJECT_ARRAY) {
        s_error(self, "stages", "type", "a list of stages is expected");
        return;
    }
    if (stages->via.array.size == 0) {
        s_error(self, "stages", "required", "a pipeline has at least one stage");
        return;
    }
    if (stages->via.array.size > PIPELINE_MAX_STAGES) {
        s_error(self, "stages", "too_many", "a pipeline has at most 200 stages");
        return;
    }
    bool won = false, lost = false;
    for (uint32_t i = 0; i < stages->via.array.size; i++)
        s_check_stage(self, stages, i, &won, &lost);
    if (!won || !lost)
        s_error(self, "stages", "invalid", "a pipeline needs a won stage and a lost stage");
}

static void s_check_reasons(errors_t *self, const msgpack_object *reasons)
{
    if (reasons->type != MSGPACK_OBJECT_ARRAY) {
        s_error(self, "lost_reasons", "type", "a list of texts is expected");
        return;
    }
    if (reasons->via.array.size > PIPELINE_MAX_REASONS) {
        s_error(self, "lost_reasons", "too_many", "at most 100 lost reasons");
        return;
    }
    for (uint32_t i = 0; i < reasons->via.array.size; i++) {
        const msgpack_object *reason = &reasons->via.array.ptr[i];
        char field[FIELD_MAX];
        snprintf(field, sizeof field, "lost_reasons[%" PRIu32 "]", i);
        if (!s_text(self, field, reason, PIPELINES_MAX_TEXT))
            continue;
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *other = &reasons->via.array.ptr[j];
            if (other->type == MSGPACK_OBJECT_STR && s_same(reason, other)) {
                s_error(self, field, "duplicate", "the same reason is listed twice");
                break;
            }
        }
    }
}

//  Pack checked stages with their defaults, keys in stored order.
static void s_pack_stages(msgpack_packer *pk, const msgpack_object *stages)
{
    msgpack_pack_array(pk, stages->via.array.size);
    for (uint32_t i = 0; i < stages->via.array.size; i++) {
        const msgpack_object *stage = &stages->via.array.ptr[i];
        int kind = s_kind(rp_obj_get(stage, "kind"));
        uint64_t probability = kind == PIPELINE_WON ? 100 : 0, rot_days = 0;
        rp_obj_u64(rp_obj_get(stage, "probability"), &probability);
        rp_obj_u64(rp_obj_get(stage, "rot_days"), &rot_days);
        msgpack_pack_map(pk, 5);
        rp_pack_kv_obj(pk, "key", rp_obj_get(stage, "key"));
        rp_pack_kv_obj(pk, "name", rp_obj_get(stage, "name"));
        rp_pack_kv_cstr(pk, "kind", s_kinds[kind]);
        rp_pack_kv_u64(pk, "probability", probability);
        rp_pack_kv_u64(pk, "rot_days", rot_days);
    }
}

int pipelines_check_reasons(const msgpack_object *reasons, msgpack_packer *out,
                            rp_field_error_t *errors, int max)
{
    assert(max > 0);
    errors_t self = {errors, max, 0};
    if (!reasons)
        s_error(&self, "lost_reasons", "required", NULL);
    else
        s_check_reasons(&self, reasons);
    if (self.count == 0 && out)
        msgpack_pack_object(out, *reasons);
    return s_errors_filled(&self);
}

static bool s_skipped(const msgpack_object *key, const char *const *skip)
{
    for (size_t i = 0; skip && skip[i]; i++)
        if (rp_obj_streq(key, skip[i]))
            return true;
    return false;
}

int pipelines_check(const msgpack_object *fields, const char *const *skip, bool create,
                    bool reasons, msgpack_packer *out, rp_field_error_t *errors, int max)
{
    assert(max > 0);
    errors_t self = {errors, max, 0};
    if (!rp_obj_is_map(fields)) {
        s_error(&self, "", "type", "the pipeline's fields are a map");
        return s_errors_filled(&self);
    }
    const msgpack_object *name = NULL, *team = NULL, *stages = NULL, *lost = NULL;
    for (uint32_t i = 0; i < fields->via.map.size; i++) {
        const msgpack_object *key = &fields->via.map.ptr[i].key,
                             *value = &fields->via.map.ptr[i].val;
        if (s_skipped(key, skip))
            continue;
        if (rp_obj_streq(key, "name"))
            name = value;
        else if (rp_obj_streq(key, "team"))
            team = value;
        else if (rp_obj_streq(key, "stages"))
            stages = value;
        else if (rp_obj_streq(key, "lost_reasons") && reasons)
            lost = value;
        else if (rp_obj_streq(key, "lost_reasons"))
            s_error(&self, "lost_reasons", "read_only",
                    "lost reasons are set on their own (opportunities.lost_reasons.set)");
        else {
            char field[FIELD_MAX];
            s_field_key(field, "", key);
            s_error(&self, field, "unknown", NULL);
        }
    }
    if (create && !name)
        s_error(&self, "name", "required", NULL);
    if (create && !stages)
        s_error(&self, "stages", "required", NULL);
    if (name)
        s_text(&self, "name", name, PIPELINES_MAX_TEXT);
    if (team && team->type != MSGPACK_OBJECT_NIL)
        s_text(&self, "team", team, PIPELINES_MAX_TEXT);
    if (stages)
        s_check_stages(&self, stages);
    if (lost)
        s_check_reasons(&self, lost);
    if (self.count == 0 && out) {
        msgpack_pack_map(out, (name != NULL) + (team != NULL) + (stages != NULL) + (lost != NULL));
        if (name)
            rp_pack_kv_obj(out, "name", name);
        if (team) {
            rp_pack_cstr(out, "team");
            msgpack_pack_object(out, *team);
        }
        if (stages) {
            rp_pack_cstr(out, "stages");
            s_pack_stages(out, stages);
        }
        if (lost)
            rp_pack_kv_obj(out, "lost_reasons", lost);
    }
    return s_errors_filled(&self);
}

//  ---------------------------------------------------------------------
//  Apply

//  A pipeline as stored, or as it will be: the parts, borrowed.
typedef struct {
    const msgpack_object *name, *team, *stages, *reasons; //  team, reasons NULL: nil, []
    uint64_t version;
    const char *created_at, *updated_at;
    size_t created_at_len, updated_at_len;
} parts_t;

static void s_pack_stored(msgpack_packer *pk, const char *id, size_t id_len, const parts_t *parts)
{
    msgpack_pack_map(pk, 8);
    rp_pack_cstr(pk, "id");
    rp_pack_strn(pk, id, id_len);
    rp_pack_kv_obj(pk, "name", parts->name);
    rp_pack_cstr(pk, "team");
    if (parts->team)
        msgpack_pack_object(pk, *parts->team);
    else
        msgpack_pack_nil(pk);
    rp_pack_kv_obj(pk, "stages", parts->stages);
    rp_pack_cstr(pk, "lost_reasons");
    if (parts->reasons)
        msgpack_pack_object(pk, *parts->reasons);
    else
        msgpack_pack_array(pk, 0);
    rp_pack_kv_u64(pk, "version", parts->version);
    rp_pack_cstr(pk, "created_at");
    rp_pack_strn(pk, parts->created_at, parts->created_at_len);
    rp_pack_cstr(pk, "updated_at");
    rp_pack_strn(pk, parts->updated_at, parts->updated_at_len);
}

//  The event's time (the journal stamps every event).
static void s_event_time(const rp_apply_t *self, const char **time, size_t *len)
{
    *time = self->event->time ? self->event->time : "";
    *len = self->event->time ? self->event->time_len : 0;
}

static int s_put(rp_apply_t *self, const parts_t *parts)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    s_pack_stored(&packer.pk, self->id, self->id_len, parts);
    int rc = rp_apply_put(self, "pipelines", self->id, self->id_len, packer.buffer.data,
                          packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

int pipelines_apply_created(rp_apply_t *self)
{
    MDB_val value;
    int rc = rp_apply_get(self, "pipelines", self->id, self->id_len, &value);
    if (rc == 0)
        return rp_apply_outcome(self, 409, "exists");
    if (rc != MDB_NOTFOUND)
        return rc;
    //  The id goes into stage_open's keys: a code, never with a NUL.
    rp_packer_t checked;
    rp_packer_init(&checked);
    rp_field_error_t errors[1];
    if (rp_normalize_code(self->id, self->id_len, OPPORTUNITIES_MAX_ID) ||
        pipelines_check(rp_obj_get(self->event->data, "pipeline"), NULL, true, true, &checked.pk,
                        errors, 1)) {
        rp_packer_destroy(&checked);
        return rp_apply_outcome(self, 422, "bad_event");
    }
    rp_doc_t *doc = rp_doc_new(checked.buffer.data, checked.buffer.size, NULL);
    assert(doc); //  packed just now
    const msgpack_object *root = rp_doc_root(doc);
    parts_t parts = {rp_obj_get(root, "name"),
                     rp_obj_get(root, "team"),
                     rp_obj_get(root, "stages"),
                     rp_obj_get(root, "lost_reasons"),
                     1,
                     NULL,
                     NULL,
                     0,
                     0};
    s_event_time(self, &parts.created_at, &parts.created_at_len);
    s_event_time(self, &parts.updated_at, &parts.updated_at_len);
    rc = s_put(self, &parts);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&checked);
    return rc;
}

//  The stored pipeline of the event's id, decoded: 0, MDB_NOTFOUND, or an
//  error (-1: a value that does not decode, a corrupt store).
static int s_load(rp_apply_t *self, rp_doc_t **doc, parts_t *parts)
{
    MDB_val value;
    int rc = rp_apply_get(self, "pipelines", self->id, self->id_len, &value);
    if (rc)
        return rc;
    //  The bytes are read before any put of this event (pages move then).
    *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!*doc)
        return -1;
    const msgpack_object *root = rp_doc_root(*doc);
    memset(parts, 0, sizeof *parts);
    parts->name = rp_obj_get(root, "name");
    parts->team = rp_obj_get(root, "team");
    parts->stages = rp_obj_get(root, "stages");
    parts->reasons = rp_obj_get(root, "lost_reasons");
    rp_obj_u64(rp_obj_get(root, "version"), &parts->version);
    if (!parts->name || !rp_obj_is_array(parts->stages) ||
        !rp_obj_str(rp_obj_get(root, "created_at"), &parts->created_at, &parts->created_at_len) ||
        !rp_obj_str(rp_obj_get(root, "updated_at"), &parts->updated_at, &parts->updated_at_len))
        return -1;
    return 0;
}

//  Does data name an expected_version other than version?
static bool s_stale(const msgpack_object *data, uint64_t version)
{
    const msgpack_object *expected = rp_obj_get(data, "expected_version");
    uint64_t n;
    return expected && expected->type != MSGPACK_OBJECT_NIL &&
           (!rp_obj_u64(expected, &n) || n != version);
}

//  Store parts as the next version (the event's time), unless nothing
//  changed: then the outcome says unchanged and nothing is written.
static int s_save_next(rp_apply_t *self, parts_t *parts, const MDB_val *stored)
{
    rp_packer_t same;
    rp_packer_init(&same);
    s_pack_stored(&same.pk, self->id, self->id_len, parts);
    bool unchanged = same.buffer.size == stored->mv_size &&
                     memcmp(same.buffer.data, stored->mv_data, stored->mv_size) == 0;
    rp_packer_destroy(&same);
    if (unchanged) {
        self->unchanged = true;
        return 0;
    }
    parts->version++;
    s_event_time(self, &parts->updated_at, &parts->updated_at_len);
    return s_put(self, parts);
}

//  Open deals in a stage (stage_open; absent: 0).
static uint64_t s_open_count(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t id_len,
                             const char *key, size_t key_len)
{
    char pair[2 * OPPORTUNITIES_MAX_ID + 2];
    size_t len = opportunities_apply_pair(pair, id, id_len, key, key_len);
    MDB_val k = {len, pair}, v;
    if (len == 0 || mdb_get(txn, dbi, &k, &v) || v.mv_size != 8)
        return 0;
    return rp_seq_get(v.mv_data);
}

//  The first stage of old (a stored stages array) that stages (checked)
//  lacks while it has open deals: true, with its key and count.
static bool s_stage_in_use(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t id_len,
                           const msgpack_object *old, const msgpack_object *stages,
                           const msgpack_object **key, uint64_t *open)
{
    for (uint32_t i = 0; i < old->via.array.size; i++) {
        *key = rp_obj_get(&old->via.array.ptr[i], "key");
        if (!*key || (*key)->type != MSGPACK_OBJECT_STR)
            continue;
        bool kept = false;
        for (uint32_t j = 0; j < stages->via.array.size && !kept; j++)
            kept = s_same(*key, rp_obj_get(&stages->via.array.ptr[j], "key"));
        if (kept)
            continue;
        *open = s_open_count(txn, dbi, id, id_len, (*key)->via.str.ptr, (*key)->via.str.size);
        if (*open)
            return true;
    }
    return false;
}

int pipelines_apply_updated(rp_apply_t *self)
{
    rp_doc_t *doc = NULL;
    parts_t parts;
    MDB_val stored;
    int rc = rp_apply_get(self, "pipelines", self->id, self->id_len, &stored);
    if (rc == 0)
        rc = s_load(self, &doc, &parts);
    if (rc) {
        rp_doc_destroy(&doc);
        return rc == MDB_NOTFOUND ? rp_apply_outcome(self, 404, "not_found") : rc;
    }
    rp_packer_t checked;
    rp_packer_init(&checked);
    rp_field_error_t errors[1];
    rp_doc_t *changes_doc = NULL;
    if (s_stale(self->event->data, parts.version))
        rc = rp_apply_outcome(self, 412, "version_mismatch");
    else if (pipelines_check(rp_obj_get(self->event->data, "changes"), NULL, false, false,
                             &checked.pk, errors, 1))
        rc = rp_apply_outcome(self, 422, "bad_event");
    else {
        changes_doc = rp_doc_new(checked.buffer.data, checked.buffer.size, NULL);
        assert(changes_doc); //  packed just now
        const msgpack_object *changes = rp_doc_root(changes_doc), *value, *key;
        uint64_t open = 0;
        if ((value = rp_obj_get(changes, "name")))
            parts.name = value;
        if ((value = rp_obj_get(changes, "team")))
            parts.team = value;
        value = rp_obj_get(changes, "stages");
        if (value && s_stage_in_use(self->txn, rp_store_dbi(self->store, "stage_open"), self->id,
                                    self->id_len, parts.stages, value, &key, &open)) {
            msgpack_pack_map(&self->details.pk, 2);
            rp_pack_kv_obj(&self->details.pk, "stage", key);
            rp_pack_kv_u64(&self->details.pk, "open", open);
            rc = rp_apply_outcome(self, 409, "stage_in_use");
        } else {
            if (value)
                parts.stages = value;
            rc = s_save_next(self, &parts, &stored);
        }
    }
    rp_doc_destroy(&changes_doc);
    rp_packer_destroy(&checked);
    rp_doc_destroy(&doc);
    return rc;
}

int pipelines_apply_reasons(rp_apply_t *self)
{
    rp_doc_t *doc = NULL;
    parts_t parts;
    MDB_val stored;
    int rc = rp_apply_get(self, "pipelines", self->id, self->id_len, &stored);
    if (rc == 0)
        rc = s_load(self, &doc, &parts);
    if (rc) {
        rp_doc_destroy(&doc);
        return rc == MDB_NOTFOUND ? rp_apply_outcome(self, 404, "not_found") : rc;
    }
    rp_field_error_t errors[1];
    const msgpack_object *reasons = rp_obj_get(self->event->data, "lost_reasons");
    if (s_stale(self->event->data, parts.version))
        rc = rp_apply_outcome(self, 412, "version_mismatch");
    else if (pipelines_check_reasons(reasons, NULL, errors, 1))
        rc = rp_apply_outcome(self, 422, "bad_event");
    else {
        parts.reasons = reasons;
        rc = s_save_next(self, &parts, &stored);
    }
    rp_doc_destroy(&doc);
    return rc;
}

//  ---------------------------------------------------------------------
//  Reads

//  May the actor (NULL: the writer's own answer) see a pipeline of team?
static bool s_visible(const rp_scope_t *actor, const msgpack_object *team)
{
    if (!actor)
        return true;
    if (!rp_scope_may_read(actor))
        return false;
    const char *str;
    size_t len;
    return actor->role == RP_ROLE_ADMIN || !rp_obj_str(team, &str, &len) ||
           rp_scope_is_team(actor, str, len);
}

bool pipelines_visible(const rp_scope_t *actor, const msgpack_object *team)
{
    return actor && s_visible(actor, team);
}

//  Pack {id, lost_reasons, version} of a stored pipeline.
static void s_pack_reasons(msgpack_packer *pk, const msgpack_object *root)
{
    msgpack_pack_map(pk, 3);
    rp_pack_kv_obj(pk, "id", rp_obj_get(root, "id"));
    rp_pack_kv_obj(pk, "lost_reasons", rp_obj_get(root, "lost_reasons"));
    rp_pack_kv_obj(pk, "version", rp_obj_get(root, "version"));
}

//  One pipeline as reply data, read in one snapshot.
typedef struct {
    const char *id;
    size_t id_len;
    const rp_scope_t *actor; //  NULL: no scope check
    bool reasons;            //  {id, lost_reasons, version} only
    rp_packer_t *packer;
    const msgpack_object *reply_id;
    uint64_t seq;
    bool found;
} read_t;

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    read_t *read = (read_t *)arg;
    if (read->id_len == 0 || read->id_len > OPPORTUNITIES_MAX_ID)
        return 0;
    MDB_val key = {read->id_len, (void *)read->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, "pipelines"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
    if (root && s_visible(read->actor, rp_obj_get(root, "team"))) {
        read->found = true;
        rp_reply_pack(&read->packer->pk, read->reply_id, 200, read->seq, 1);
        rp_pack_cstr(&read->packer->pk, "data");
        if (read->reasons)
            s_pack_reasons(&read->packer->pk, root);
        else
            msgpack_sbuffer_write(&read->packer->buffer, value.mv_data, value.mv_size);
    }
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply_pipeline(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor,
                             const char *id, size_t id_len, bool reasons, uint64_t seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    read_t read = {id, id_len, actor, reasons, &packer, rp_origin_id(*origin_p), seq, false};
    rp_store_read(rp_service_store(service), s_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such pipeline");
    rp_packer_destroy(&packer);
}

static void s_get(rp_service_t *service, rp_origin_t *origin, const rp_request_t *req, bool reasons)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply_pipeline(service, &origin, &actor, id, len, reasons, 0);
}

void pipelines_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_get(service, origin, req, false);
}

void pipelines_reasons_get(void *arg, rp_service_t *service, rp_origin_t *origin,
                           const rp_request_t *req)
{
    (void)arg;
    s_get(service, origin, req, true);
}

//  A page of the pipelines the actor sees, in id order.
typedef struct {
    const rp_scope_t *actor;
    const char *after; //  the cursor: the last id of the page before, or NULL
    size_t after_len;
    size_t limit;
    rp_packer_t items;
    size_t count;
    char next[OPPORTUNITIES_MAX_ID + 1];
} list_t;

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "pipelines"), &cursor);
    if (rc)
        return rc;
    MDB_val key = {list->after_len, (void *)list->after}, value;
    rc = list->after ? mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE)
                     : mdb_cursor_get(cursor, &key, &value, MDB_FIRST);
    if (rc == 0 && list->after && key.mv_size == list->after_len &&
        memcmp(key.mv_data, list->after, key.mv_size) == 0)
        rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT);
    const char *last = NULL;
    size_t last_len = 0;
    for (; rc == 0; rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        if (list->count == list->limit) {
            //  more after this page
            if (last_len <= OPPORTUNITIES_MAX_ID) {
                memcpy(list->next, last, last_len);
                list->next[last_len] = 0;
            }
            break;
        }
        rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (doc && s_visible(list->actor, rp_obj_get(rp_doc_root(doc), "team"))) {
            msgpack_sbuffer_write(&list->items.buffer, value.mv_data, value.mv_size);
            list->count++;
            last = key.mv_data;
            last_len = key.mv_size;
        }
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void pipelines_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    if (!rp_scope_may_read(&actor)) {
        rp_service_reply_error(service, &origin, 403, "forbidden",
                               "this role cannot see pipelines");
        return;
    }
    list_t list = {.actor = &actor, .limit = LIST_LIMIT};
    rp_field_error_t errors[2];
    int count = 0;
    const msgpack_object *limit = rp_obj_get(req->args, "limit"),
                         *cursor = rp_obj_get(req->args, "cursor");
    uint64_t n = 0;
    if (limit && limit->type != MSGPACK_OBJECT_NIL) {
        if (!rp_obj_u64(limit, &n) || n < 1 || n > LIST_MAX) {
            rp_field_error_set(&errors[count], "limit", 5, "out_of_range");
            errors[count++].message = "limit is 1..200";
        } else
            list.limit = (size_t)n;
    }
    if (cursor && cursor->type != MSGPACK_OBJECT_NIL &&
        !(rp_obj_str(cursor, &list.after, &list.after_len) && list.after_len > 0 &&
          list.after_len <= OPPORTUNITIES_MAX_ID)) {
        rp_field_error_set(&errors[count], "cursor", 6, "invalid");
        errors[count++].message = "not a cursor of this list";
        list.after = NULL;
    }
    if (count) {
        rp_service_reply_invalid(service, &origin, "some arguments are not valid", errors, count);
        return;
    }
    rp_packer_init(&list.items);
    if (rp_store_read(rp_service_store(service), s_list_read, &list))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &origin, &list.items, list.count, list.next);
    rp_packer_destroy(&list.items);
}

//  ---------------------------------------------------------------------
//  Writes: admin only; append, wait, answer the pipeline as stored

static const char *s_refusal_message(int status, const char *code, size_t code_len)
{
    if (code_len == 12 && memcmp(code, "stage_in_use", 12) == 0)
        return "a stage removed still has open deals: move them first";
    return status == 409   ? "a pipeline with this id exists"
           : status == 412 ? "the pipeline changed since that version"
           : status == 404 ? "no such pipeline"
                           : "the change was refused";
}

static const bool s_whole = false, s_reasons = true; //  what a write answers

static void s_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    rp_write_outcome_t outcome;
    rp_writes_outcome(rp_service_store(service), seq, rp_origin_id(*origin_p), s_refusal_message,
                      &outcome);
    if (outcome.status == 200)
        s_reply_pipeline(service, origin_p, NULL, outcome.id, strlen(outcome.id),
                         *(const bool *)arg, seq);
    else if (outcome.status)
        rp_service_reply(service, origin_p, outcome.refusal.buffer.data,
                         outcome.refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&outcome.refusal);
}

//  Append the event (freed here) and answer once it is applied.
static void s_append(void *handlers, rp_service_t *service, rp_origin_t **origin_p,
                     rp_packer_t *event, const char *idem, const bool *answer)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    rp_writes_append(opportunities_handlers_writes(handlers), service, origin_p, events, 1, idem,
                     WAIT_MS, s_applied, (void *)answer, NULL);
    rp_packer_destroy(event);
}

//  Admin only, with an idem key that is not the writer's own.
static bool s_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1])
{
    if (!rp_writes_admit(service, origin_p, req, actor->role == RP_ROLE_ADMIN,
                         "only admins change pipelines", idem))
        return false;
    if (strncmp(idem, SEED_USER_IDEM, strlen(SEED_USER_IDEM)) == 0) {
        rp_service_reply_error(service, origin_p, 400, "bad_idem",
                               "idempotency keys seed/… are the service's own");
        return false;
    }
    return true;
}

static bool s_reply_invalid(rp_service_t *service, rp_origin_t **origin_p,
                            const rp_field_error_t *errors, int count)
{
    if (count)
        rp_service_reply_invalid(service, origin_p, "some fields are not valid", errors, count);
    return count == 0;
}

void pipelines_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    rp_packer_t fields;
    rp_packer_init(&fields);
    rp_field_error_t errors[PIPELINES_MAX_ERRORS];
    if (s_reply_invalid(service, &origin, errors,
                        pipelines_check(req->args, NULL, true, true, &fields.pk, errors,
                                        PIPELINES_MAX_ERRORS))) {
        char id[RP_ID_SIZE];
        rp_id_format(id);
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "opportunity.pipeline_created", "opportunities", id, strlen(id),
                      &actor);
        msgpack_pack_map(&event.pk, 2);
        rp_pack_kv_cstr(&event.pk, "id", id);
        rp_pack_cstr(&event.pk, "pipeline");
        msgpack_sbuffer_write(&event.buffer, fields.buffer.data, fields.buffer.size);
        s_append(arg, service, &origin, &event, idem, &s_whole);
    }
    rp_packer_destroy(&fields);
}

//  The target of update and lost_reasons.set: {id} must name a pipeline;
//  args.version, when given, must be its version (unless the request has an
//  idem key: its retry must get the first answer, which apply records).
//  Replies and returns false otherwise.
typedef struct {
    const char *id;
    size_t id_len;
    bool found;
    uint64_t version;
    //  the early stage_in_use check
    const msgpack_object *stages; //  the new stages (checked), or NULL
    char stage[PIPELINE_MAX_KEY + 1];
    uint64_t open;
} target_t;

static int s_target_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *target = (target_t *)arg;
    if (target->id_len == 0 || target->id_len > OPPORTUNITIES_MAX_ID)
        return 0;
    MDB_val key = {target->id_len, (void *)target->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, "pipelines"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return 0;
    const msgpack_object *root = rp_doc_root(doc), *stages = rp_obj_get(root, "stages"), *stage;
    target->found = true;
    rp_obj_u64(rp_obj_get(root, "version"), &target->version);
    if (target->stages && rp_obj_is_array(stages) &&
        s_stage_in_use(txn, rp_store_dbi(store, "stage_open"), target->id, target->id_len, stages,
                       target->stages, &stage, &target->open)) {
        size_t len = stage->via.str.size <= PIPELINE_MAX_KEY ? stage->via.str.size : 0;
        memcpy(target->stage, stage->via.str.ptr, len);
        target->stage[len] = 0;
    }
    rp_doc_destroy(&doc);
    return 0;
}

static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     target_t *target, const msgpack_object **version_obj, uint64_t *version)
{
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &target->id, &target->id_len)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
        return false;
    }
    if (!rp_writes_version_arg(service, origin_p, req, version_obj, version))
        return false;
    rp_store_read(rp_service_store(service), s_target_read, target);
    if (!target->found) {
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such pipeline");
        return false;
    }
    if (*version_obj && *version != target->version && !req->idem) {
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the pipeline changed since that version");
        return false;
    }
    return true;
}

//  Pack an update's event: type {id, expected_version?, key: value}.
static void s_pack_change(rp_packer_t *event, const char *type, const rp_scope_t *actor,
                          const target_t *target, const msgpack_object *version_obj,
                          uint64_t version, const char *key, const rp_packer_t *value)
{
    rp_event_open(&event->pk, type, "opportunities", target->id, target->id_len, actor);
    msgpack_pack_map(&event->pk, version_obj ? 3 : 2);
    rp_pack_cstr(&event->pk, "id");
    rp_pack_strn(&event->pk, target->id, target->id_len);
    if (version_obj)
        rp_pack_kv_u64(&event->pk, "expected_version", version);
    rp_pack_cstr(&event->pk, key);
    msgpack_sbuffer_write(&event->buffer, value->buffer.data, value->buffer.size);
}

void pipelines_update(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req)
{
    static const char *const skip[] = {"id", "version", NULL};
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    rp_packer_t changes;
    rp_packer_init(&changes);
    rp_field_error_t errors[PIPELINES_MAX_ERRORS];
    int count =
        pipelines_check(req->args, skip, false, false, &changes.pk, errors, PIPELINES_MAX_ERRORS);
    rp_doc_t *doc = count ? NULL : rp_doc_new(changes.buffer.data, changes.buffer.size, NULL);
    target_t target = {.stages = doc && !req->idem ? rp_obj_get(rp_doc_root(doc), "stages") : NULL};
    const msgpack_object *version_obj;
    uint64_t version;
    if (s_reply_invalid(service, &origin, errors, count) &&
        s_target(service, &origin, req, &target, &version_obj, &version)) {
        if (target.open) {
            rp_packer_t packer;
            rp_packer_init(&packer);
            rp_reply_pack_error_details(&packer.pk, rp_origin_id(origin), 409, "stage_in_use",
                                        s_refusal_message(409, "stage_in_use", 12));
            msgpack_pack_map(&packer.pk, 2);
            rp_pack_kv_cstr(&packer.pk, "stage", target.stage);
            rp_pack_kv_u64(&packer.pk, "open", target.open);
            rp_service_reply(service, &origin, packer.buffer.data, packer.buffer.size);
            rp_packer_destroy(&packer);
        } else {
            rp_packer_t event;
            rp_packer_init(&event);
            s_pack_change(&event, "opportunity.pipeline_updated", &actor, &target, version_obj,
                          version, "changes", &changes);
            s_append(arg, service, &origin, &event, idem, &s_whole);
        }
    }
    rp_doc_destroy(&doc);
    rp_packer_destroy(&changes);
}

void pipelines_reasons_set(void *arg, rp_service_t *service, rp_origin_t *origin,
                           const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    //  Only {id, version, lost_reasons}.
    rp_field_error_t errors[PIPELINES_MAX_ERRORS];
    int count = 0;
    for (uint32_t i = 0; i < req->args->via.map.size && count < PIPELINES_MAX_ERRORS; i++) {
        const msgpack_object *key = &req->args->via.map.ptr[i].key;
        if (!rp_obj_streq(key, "id") && !rp_obj_streq(key, "version") &&
            !rp_obj_streq(key, "lost_reasons")) {
            char field[FIELD_MAX];
            s_field_key(field, "", key);
            rp_field_error_set(&errors[count++], field, strlen(field), "unknown");
        }
    }
    rp_packer_t reasons;
    rp_packer_init(&reasons);
    if (count == 0)
        count = pipelines_check_reasons(rp_obj_get(req->args, "lost_reasons"), &reasons.pk, errors,
                                        PIPELINES_MAX_ERRORS);
    target_t target = {.stages = NULL};
    const msgpack_object *version_obj;
    uint64_t version;
    if (s_reply_invalid(service, &origin, errors, count) &&
        s_target(service, &origin, req, &target, &version_obj, &version)) {
        rp_packer_t event;
        rp_packer_init(&event);
        s_pack_change(&event, "opportunity.lost_reasons_set", &actor, &target, version_obj, version,
                      "lost_reasons", &reasons);
        s_append(arg, service, &origin, &event, idem, &s_reasons);
    }
    rp_packer_destroy(&reasons);
}

//  ---------------------------------------------------------------------
//  The default pipeline

void pipelines_default_pack(msgpack_packer *pk)
{
    static const struct {
        const char *key, *name, *kind;
        unsigned probability;
    } stages[] = {{"lead", "线索", "open", 10},
                  {"contacted", "初步沟通", "open", 20},
                  {"needs_analysis", "需求分析", "open", 40},
                  {"proposal", "方案提交", "open", 60},
                  {"negotiation", "谈判", "open", 80},
                  {"won", "成交", "won", 100},
                  {"lost", "输单", "lost", 0}};
    static const char *const reasons[] = {"价格", "竞争对手", "预算不足", "时机不成熟", "无回应"};
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "name", "默认销售流程");
    rp_pack_cstr(pk, "team");
    msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "stages");
    msgpack_pack_array(pk, sizeof stages / sizeof stages[0]);
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        msgpack_pack_map(pk, 5);
        rp_pack_kv_cstr(pk, "key", stages[i].key);
        rp_pack_kv_cstr(pk, "name", stages[i].name);
        rp_pack_kv_cstr(pk, "kind", stages[i].kind);
        rp_pack_kv_u64(pk, "probability", stages[i].probability);
        rp_pack_kv_u64(pk, "rot_days", 30);
    }
    rp_pack_cstr(pk, "lost_reasons");
    msgpack_pack_array(pk, sizeof reasons / sizeof reasons[0]);
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        rp_pack_cstr(pk, reasons[i]);
}

static int s_has_default(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_val key = {strlen(PIPELINE_DEFAULT_ID), PIPELINE_DEFAULT_ID}, value;
    *(bool *)arg = mdb_get(txn, rp_store_dbi(store, "pipelines"), &key, &value) == 0;
    return 0;
}

static void s_seeded(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                     uint64_t last)
{
    (void)service;
    (void)first;
    pipelines_seed_t *self = (pipelines_seed_t *)arg;
    self->in_flight = false;
    if (reply->status == 200)
        self->seq = last;
    else
        rp_warn("opportunities: the default pipeline could not be appended (%d); next tick",
                reply->status);
}

void pipelines_seed(pipelines_seed_t *self, rp_service_t *service)
{
    if (self->in_flight || rp_service_epoch(service) == 0 ||
        (self->seq && rp_service_cursor(service) < self->seq))
        return;
    bool has = false;
    rp_store_read(rp_service_store(service), s_has_default, &has);
    if (has)
        return;
    //  The service's own event: no actor.
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, 5);
    rp_pack_kv_cstr(&event.pk, "type", "opportunity.pipeline_created");
    char id[RP_UUID_SIZE];
    rp_uuid_format(id);
    rp_pack_kv_cstr(&event.pk, "id", id);
    rp_pack_kv_cstr(&event.pk, "source", "opportunities");
    rp_pack_kv_cstr(&event.pk, "subject", PIPELINE_DEFAULT_ID);
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 2);
    rp_pack_kv_cstr(&event.pk, "id", PIPELINE_DEFAULT_ID);
    rp_pack_cstr(&event.pk, "pipeline");
    pipelines_default_pack(&event.pk);
    rp_journal_event_t events[1] = {{event.buffer.data, event.buffer.size}};
    if (rp_service_append(service, events, 1, PIPELINES_SEED_IDEM, WAIT_MS, s_seeded, self) == 0)
        self->in_flight = true;
    rp_packer_destroy(&event);
}

//  ---------------------------------------------------------------------
//  Self-test

//  Pack {name, team?, stages: [open s0…s<open-1>, won, lost], extra…}
//  into args (reset first); stage names are Chinese.
static void s_test_pipeline(rp_packer_t *args, const char *name, const char *team, unsigned open)
{
    rp_packer_reset(args);
    msgpack_packer *pk = &args->pk;
    msgpack_pack_map(pk, team ? 3 : 2);
    rp_pack_kv_cstr(pk, "name", name);
    if (team)
        rp_pack_kv_cstr(pk, "team", team);
    rp_pack_cstr(pk, "stages");
    msgpack_pack_array(pk, open + 2);
    for (unsigned i = 0; i < open; i++) {
        char key[16], stage[32];
        snprintf(key, sizeof key, "s%u", i);
        snprintf(stage, sizeof stage, "阶段%u", i);
        msgpack_pack_map(pk, 4);
        rp_pack_kv_cstr(pk, "key", key);
        rp_pack_kv_cstr(pk, "name", stage);
        rp_pack_kv_cstr(pk, "kind", "open");
        rp_pack_kv_u64(pk, "rot_days", 7);
    }
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "key", "won");
    rp_pack_kv_cstr(pk, "name", "赢单");
    rp_pack_kv_cstr(pk, "kind", "won");
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "key", "lost");
    rp_pack_kv_cstr(pk, "name", "丢单");
    rp_pack_kv_cstr(pk, "kind", "lost");
}

//  The fields of a packed map, checked: the number of errors, and whether
//  one names field.
static int s_test_check(const rp_packer_t *packed, bool create, const char *field)
{
    rp_doc_t *doc = rp_doc_new(packed->buffer.data, packed->buffer.size, NULL);
    assert(doc);
    rp_field_error_t errors[PIPELINES_MAX_ERRORS];
    int count =
        pipelines_check(rp_doc_root(doc), NULL, create, true, NULL, errors, PIPELINES_MAX_ERRORS);
    bool named = field == NULL;
    for (int i = 0; i < count && !named; i++)
        named = strcmp(errors[i].field, field) == 0;
    rp_doc_destroy(&doc);
    assert(named);
    return count;
}

//  The outcome apply recorded for seq.
typedef struct {
    uint64_t seq;
    int status;
    char code[32];
    char stage[PIPELINE_MAX_KEY + 1];
    uint64_t open;
} test_outcome_t;

static int s_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_outcome_t *o = (test_outcome_t *)arg;
    MDB_val value;
    assert(rp_outcome_get(store, txn, o->seq, &value) == 0);
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc), *details = rp_obj_get(root, "details");
    uint64_t status;
    assert(rp_obj_u64(rp_obj_get(root, "status"), &status));
    o->status = (int)status;
    const char *str;
    size_t len;
    if (rp_obj_str(rp_obj_get(root, "code"), &str, &len) && len < sizeof o->code)
        memcpy(o->code, str, len);
    if (rp_obj_str(rp_obj_get(details, "stage"), &str, &len) && len < sizeof o->stage)
        memcpy(o->stage, str, len);
    rp_obj_u64(rp_obj_get(details, "open"), &o->open);
    rp_doc_destroy(&doc);
    return 0;
}

static test_outcome_t s_test_apply(rp_store_t *store, uint64_t seq, const char *type,
                                   rp_packer_t *data)
{
    opportunities_apply_test_event(store, seq, type, "root", data);
    test_outcome_t o = {.seq = seq};
    assert(rp_store_read(store, s_test_outcome_read, &o) == 0);
    return o;
}

static bool s_test_is(test_outcome_t o, int status, const char *code)
{
    return o.status == status && strcmp(o.code, code ? code : "") == 0;
}

//  Apply and assert the outcome.
static void s_test_expect(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data,
                          int status, const char *code)
{
    test_outcome_t o = s_test_apply(store, seq, type, data);
    assert(s_test_is(o, status, code));
}

//  data {id, [expected_version], key: the map or list packed in value}.
static void s_test_data(rp_packer_t *data, const char *id, uint64_t version, const char *key,
                        const rp_packer_t *value)
{
    rp_packer_reset(data);
    msgpack_pack_map(&data->pk, version ? 3 : 2);
    rp_pack_kv_cstr(&data->pk, "id", id);
    if (version)
        rp_pack_kv_u64(&data->pk, "expected_version", version);
    rp_pack_cstr(&data->pk, key);
    msgpack_sbuffer_write(&data->buffer, value->buffer.data, value->buffer.size);
}

static int s_test_stored_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    rp_packer_t *out = (rp_packer_t *)arg;
    MDB_val key = {2, "p1"}, value;
    rp_packer_reset(out);
    if (mdb_get(txn, rp_store_dbi(store, "pipelines"), &key, &value) == 0)
        msgpack_sbuffer_write(&out->buffer, value.mv_data, value.mv_size);
    return 0;
}

//  A customer c1, then deal id on it in p1's stage a (deal.c keeps
//  stage_open), or a move of deal id to stage.
static void s_test_deal(rp_store_t *store, uint64_t seq, const char *id, const char *stage)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (stage)
        rp_pack_kv_cstr(&data.pk, "stage", stage);
    else {
        rp_pack_cstr(&data.pk, "record");
        msgpack_pack_map(&data.pk, strcmp(id, "c1") ? 6 : 3);
        if (strcmp(id, "c1")) {
            rp_pack_kv_cstr(&data.pk, "customer_id", "c1");
            rp_pack_kv_cstr(&data.pk, "title", "年度框架协议");
            rp_pack_kv_cstr(&data.pk, "pipeline_id", "p1");
            rp_pack_kv_cstr(&data.pk, "stage", "a");
        } else
            rp_pack_kv_cstr(&data.pk, "name", "甲公司");
        rp_pack_kv_cstr(&data.pk, "owner", "ann");
        rp_pack_kv_cstr(&data.pk, "team", "east");
    }
    const char *type = stage                   ? "opportunity.stage_changed"
                       : strcmp(id, "c1") == 0 ? "customer.created"
                                               : "opportunity.created";
    opportunities_apply_test_event(store, seq, type, "ann", &data);
    test_outcome_t o = {.seq = seq};
    assert(rp_store_read(store, s_test_outcome_read, &o) == 0 && o.status == 200);
    rp_packer_destroy(&data);
}

//  p1 as deal.c reads it (pipeline.h).
static int s_test_load_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    pipeline_t p1;
    assert(pipeline_load(store, txn, "p1", 2, &p1) == 0);
    assert(p1.stage_count == 3 && p1.team && p1.team_len == 4 && p1.version == 4);
    assert(pipeline_first_open(&p1) == &p1.stages[0] && p1.stages[2].kind == PIPELINE_LOST);
    assert(p1.stages[1].probability == 100 && p1.stages[1].rot_days == 0);
    assert(pipeline_has_reason(&p1, "无回应", strlen("无回应")));
    assert(!pipeline_has_reason(&p1, "价", strlen("价")));
    pipeline_release(&p1);
    return 0;
}

//  {stages: [a (open), won, lost]}, or without a.
static void s_test_with_a(rp_packer_t *value, bool a)
{
    static const char *const stages[][3] = {
        {"a", "甲", "open"}, {"won", "成交", "won"}, {"lost", "输单", "lost"}};
    rp_packer_reset(value);
    msgpack_pack_map(&value->pk, 1);
    rp_pack_cstr(&value->pk, "stages");
    msgpack_pack_array(&value->pk, a ? 3 : 2);
    for (size_t i = a ? 0 : 1; i < 3; i++) {
        msgpack_pack_map(&value->pk, 3);
        rp_pack_kv_cstr(&value->pk, "key", stages[i][0]);
        rp_pack_kv_cstr(&value->pk, "name", stages[i][1]);
        rp_pack_kv_cstr(&value->pk, "kind", stages[i][2]);
    }
}

//  The events, with their outcomes (run on two stores by the replay).
static void s_test_journal(rp_store_t *store)
{
    rp_packer_t data, value, stored;
    rp_packer_init(&data);
    rp_packer_init(&value);
    rp_packer_init(&stored);
    uint64_t seq = 1;

    //  Malformed pipelines are refused and store nothing: no won stage;
    //  too many stages; a bad id.
    rp_packer_reset(&value);
    msgpack_pack_map(&value.pk, 2);
    rp_pack_kv_cstr(&value.pk, "name", "坏");
    rp_pack_cstr(&value.pk, "stages");
    msgpack_pack_array(&value.pk, 1);
    msgpack_pack_map(&value.pk, 3);
    rp_pack_kv_cstr(&value.pk, "key", "lost");
    rp_pack_kv_cstr(&value.pk, "name", "输");
    rp_pack_kv_cstr(&value.pk, "kind", "lost");
    s_test_data(&data, "p1", 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 422, "bad_event");
    s_test_pipeline(&value, "多", NULL, PIPELINE_MAX_STAGES - 1);
    s_test_data(&data, "p1", 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 422, "bad_event");
    s_test_pipeline(&value, "好", NULL, 1);
    s_test_data(&data, "p 1", 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 422, "bad_event");
    rp_store_read(store, s_test_stored_read, &stored);
    assert(stored.buffer.size == 0);

    //  p1 with stages s0 (open), won, lost; then its id is taken.
    s_test_pipeline(&value, "渠道销售", NULL, 1);
    s_test_data(&data, "p1", 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 200, NULL);
    rp_store_read(store, s_test_stored_read, &stored);
    rp_doc_t *doc = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    static const char *const keys[] = {"id",           "name",    "team",       "stages",
                                       "lost_reasons", "version", "created_at", "updated_at"};
    assert(root->via.map.size == 8);
    for (size_t i = 0; i < 8; i++)
        assert(rp_obj_streq(&root->via.map.ptr[i].key, keys[i]));
    assert(rp_obj_get(root, "team")->type == MSGPACK_OBJECT_NIL);
    assert(rp_obj_get(root, "lost_reasons")->via.array.size == 0);
    assert(rp_obj_streq(rp_obj_get(root, "created_at"), "2026-11-23T08:00:04.000Z"));
    const msgpack_object *stages = rp_obj_get(root, "stages");
    uint64_t n = 0;
    assert(stages->via.array.size == 3 && stages->via.array.ptr[0].via.map.size == 5);
    assert(rp_obj_u64(rp_obj_get(&stages->via.array.ptr[0], "rot_days"), &n) && n == 7);
    assert(rp_obj_u64(rp_obj_get(&stages->via.array.ptr[1], "probability"), &n) && n == 100);
    assert(rp_obj_u64(rp_obj_get(&stages->via.array.ptr[2], "probability"), &n) && n == 0);
    assert(rp_obj_streq(rp_obj_get(&stages->via.array.ptr[1], "name"), "赢单"));
    rp_doc_destroy(&doc);
    s_test_data(&data, "p1", 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 409, "exists");

    //  Renamed and reordered stages: version 2. A stale version is 412, a
    //  change of the lost reasons here is malformed, an unknown id 404.
    rp_packer_reset(&value);
    msgpack_pack_map(&value.pk, 2);
    rp_pack_kv_cstr(&value.pk, "team", "east");
    rp_pack_cstr(&value.pk, "stages");
    msgpack_pack_array(&value.pk, 3);
    const char *const reordered[][3] = {
        {"lost", "输单", "lost"}, {"s0", "初步接触", "open"}, {"won", "成交", "won"}};
    for (size_t i = 0; i < 3; i++) {
        msgpack_pack_map(&value.pk, 3);
        rp_pack_kv_cstr(&value.pk, "key", reordered[i][0]);
        rp_pack_kv_cstr(&value.pk, "name", reordered[i][1]);
        rp_pack_kv_cstr(&value.pk, "kind", reordered[i][2]);
    }
    s_test_data(&data, "p1", 1, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 200, NULL);
    s_test_data(&data, "p1", 1, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 412, "version_mismatch");
    s_test_data(&data, "nope", 0, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 404, "not_found");
    rp_packer_reset(&value);
    msgpack_pack_map(&value.pk, 1);
    rp_pack_cstr(&value.pk, "lost_reasons");
    msgpack_pack_array(&value.pk, 0);
    s_test_data(&data, "p1", 0, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 422, "bad_event");
    //  The same again: applied, nothing changed.
    rp_packer_reset(&value);
    msgpack_pack_map(&value.pk, 1);
    rp_pack_kv_cstr(&value.pk, "team", "east");
    s_test_data(&data, "p1", 2, "changes", &value);
    test_outcome_t o = s_test_apply(store, seq, "opportunity.pipeline_updated", &data);
    seq++;
    assert(s_test_is(o, 200, NULL));
    rp_store_read(store, s_test_stored_read, &stored);
    doc = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc && rp_obj_u64(rp_obj_get(rp_doc_root(doc), "version"), &n) && n == 2);
    rp_doc_destroy(&doc);

    //  Two open deals in stage "a" of a p1 that has it: removing it is 409.
    s_test_with_a(&value, true);
    s_test_data(&data, "p1", 0, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 200,
                  NULL); //  s0 had no deals: removed (version 3)
    s_test_deal(store, seq++, "c1", NULL);
    s_test_deal(store, seq++, "d1", NULL);
    s_test_deal(store, seq++, "d2", NULL);
    s_test_with_a(&value, false);
    s_test_data(&data, "p1", 0, "changes", &value);
    o = s_test_apply(store, seq, "opportunity.pipeline_updated", &data);
    seq++;
    assert(s_test_is(o, 409, "stage_in_use") && strcmp(o.stage, "a") == 0 && o.open == 2);

    //  Lost reasons: replaced whole (version 4); duplicates are malformed.
    rp_packer_reset(&value);
    msgpack_pack_array(&value.pk, 2);
    rp_pack_cstr(&value.pk, "价格");
    rp_pack_cstr(&value.pk, "价格");
    s_test_data(&data, "p1", 0, "lost_reasons", &value);
    s_test_expect(store, seq++, "opportunity.lost_reasons_set", &data, 422, "bad_event");
    rp_packer_reset(&value);
    msgpack_pack_array(&value.pk, 2);
    rp_pack_cstr(&value.pk, "价格");
    rp_pack_cstr(&value.pk, "无回应");
    s_test_data(&data, "p1", 3, "lost_reasons", &value);
    s_test_expect(store, seq++, "opportunity.lost_reasons_set", &data, 200, NULL);
    s_test_data(&data, "p1", 3, "lost_reasons", &value);
    s_test_expect(store, seq++, "opportunity.lost_reasons_set", &data, 412, "version_mismatch");
    rp_store_read(store, s_test_stored_read, &stored);
    doc = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc);
    root = rp_doc_root(doc);
    assert(rp_obj_u64(rp_obj_get(root, "version"), &n) && n == 4);
    assert(rp_obj_get(root, "lost_reasons")->via.array.size == 2);
    assert(rp_obj_streq(rp_obj_get(root, "team"), "east"));
    assert(rp_obj_streq(rp_obj_get(root, "created_at"), "2026-11-23T08:00:04.000Z"));
    rp_doc_destroy(&doc);
    assert(rp_store_read(store, s_test_load_read, NULL) == 0);

    //  Once one deal is won, one is still open; once both are, a goes.
    s_test_deal(store, seq++, "d1", "won");
    s_test_with_a(&value, false);
    s_test_data(&data, "p1", 0, "changes", &value);
    o = s_test_apply(store, seq, "opportunity.pipeline_updated", &data);
    seq++;
    assert(s_test_is(o, 409, "stage_in_use") && o.open == 1);
    s_test_deal(store, seq++, "d2", "won");
    s_test_with_a(&value, false);
    s_test_data(&data, "p1", 4, "changes", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_updated", &data, 200, NULL);

    //  The default pipeline checks as any other.
    rp_packer_reset(&value);
    pipelines_default_pack(&value.pk);
    s_test_data(&data, PIPELINE_DEFAULT_ID, 0, "pipeline", &value);
    s_test_expect(store, seq++, "opportunity.pipeline_created", &data, 200, NULL);
    rp_packer_destroy(&stored);
    rp_packer_destroy(&value);
    rp_packer_destroy(&data);
}

//  The checks of client input, field by field.
static void s_test_checks(void)
{
    rp_packer_t p;
    rp_packer_init(&p);
    s_test_pipeline(&p, "大客户销售", "east", 1);
    assert(s_test_check(&p, true, NULL) == 0);
    s_test_pipeline(&p, "大客户销售", NULL, PIPELINE_MAX_STAGES - 2); //  200 stages
    assert(s_test_check(&p, true, NULL) == 0);
    s_test_pipeline(&p, "大客户销售", NULL, PIPELINE_MAX_STAGES - 1);
    assert(s_test_check(&p, true, "stages") == 1);
    s_test_pipeline(&p, "", NULL, 1);
    assert(s_test_check(&p, true, "name") == 1);
    //  One bad stage, field by field.
    static const struct {
        const char *key, *value, *field;
    } bad[] = {{"key", "Lead", "stages[1].key"},
               {"key", "s0", "stages[1].key"}, //  the key of stages[0]
               {"name", "", "stages[1].name"},
               {"kind", "maybe", "stages[1].kind"},
               {"probability", "101", "stages[1].probability"},
               {"rot_days", "3651", "stages[1].rot_days"},
               {"colour", "red", "stages[1].colour"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_packer_reset(&p);
        msgpack_pack_map(&p.pk, 2);
        rp_pack_kv_cstr(&p.pk, "name", "x");
        rp_pack_cstr(&p.pk, "stages");
        msgpack_pack_array(&p.pk, 4);
        msgpack_pack_map(&p.pk, 3);
        rp_pack_kv_cstr(&p.pk, "key", "s0");
        rp_pack_kv_cstr(&p.pk, "name", "一");
        rp_pack_kv_cstr(&p.pk, "kind", "open");
        //  stages[1]: s1 with one bad value
        bool extra = !strcmp(bad[i].key, "probability") || !strcmp(bad[i].key, "rot_days") ||
                     !strcmp(bad[i].key, "colour");
        msgpack_pack_map(&p.pk, extra ? 4 : 3);
        rp_pack_kv_cstr(&p.pk, "key", strcmp(bad[i].key, "key") ? "s1" : bad[i].value);
        rp_pack_kv_cstr(&p.pk, "name", strcmp(bad[i].key, "name") ? "二" : bad[i].value);
        rp_pack_kv_cstr(&p.pk, "kind", strcmp(bad[i].key, "kind") ? "open" : bad[i].value);
        if (!strcmp(bad[i].key, "probability") || !strcmp(bad[i].key, "rot_days"))
            rp_pack_kv_u64(&p.pk, bad[i].key, strtoull(bad[i].value, NULL, 10));
        if (!strcmp(bad[i].key, "colour"))
            rp_pack_kv_cstr(&p.pk, "colour", "red");
        msgpack_pack_map(&p.pk, 3);
        rp_pack_kv_cstr(&p.pk, "key", "w");
        rp_pack_kv_cstr(&p.pk, "name", "赢");
        rp_pack_kv_cstr(&p.pk, "kind", "won");
        msgpack_pack_map(&p.pk, 3);
        rp_pack_kv_cstr(&p.pk, "key", "l");
        rp_pack_kv_cstr(&p.pk, "name", "输");
        rp_pack_kv_cstr(&p.pk, "kind", "lost");
        assert(s_test_check(&p, true, bad[i].field) == 1);
    }
    //  Missing and unknown fields; a team of nil is everyone's.
    rp_packer_reset(&p);
    msgpack_pack_map(&p.pk, 2);
    rp_pack_kv_cstr(&p.pk, "colour", "red");
    rp_pack_cstr(&p.pk, "team");
    msgpack_pack_nil(&p.pk);
    assert(s_test_check(&p, true, "colour") == 3); //  and name, stages
    assert(s_test_check(&p, false, "colour") == 1);
    //  Lost reasons: texts, distinct, at most 100.
    rp_packer_reset(&p);
    msgpack_pack_map(&p.pk, 1);
    rp_pack_cstr(&p.pk, "lost_reasons");
    msgpack_pack_array(&p.pk, 3);
    rp_pack_cstr(&p.pk, "价格");
    msgpack_pack_int(&p.pk, 7);
    rp_pack_cstr(&p.pk, "价格");
    assert(s_test_check(&p, false, "lost_reasons[1]") == 2);
    assert(s_test_check(&p, false, "lost_reasons[2]") == 2);
    rp_packer_destroy(&p);
}

//  The error reply's field errors: does one name field?
static bool s_test_error_names(rp_doc_t *doc, const char *field)
{
    const msgpack_object *errors =
        rp_obj_get(rp_obj_get(rp_obj_get(rp_doc_root(doc), "error"), "details"), "errors");
    for (uint32_t i = 0; errors && i < errors->via.array.size; i++)
        if (rp_obj_streq(rp_obj_get(&errors->via.array.ptr[i], "field"), field))
            return true;
    return false;
}

static size_t s_test_items(rp_testservice_t *service, const rp_testservice_actor_t *actor)
{
    rp_reply_t reply;
    rp_doc_t *doc = rp_testservice_call(service, false, "opportunities.pipelines.list", actor, NULL,
                                        NULL, &reply);
    size_t count = reply.status == 200 ? rp_obj_get(reply.data, "items")->via.array.size : 0;
    rp_doc_destroy(&doc);
    return count;
}

//  The ops through the runtime and the test broker (no idem keys kept
//  there: retries are the system test's, test_opportunities_pipelines.py).
static void s_test_ops(void)
{
    static const char *const owns[] = {"opportunity.", NULL};
    static const rp_service_def_t def = {.name = "opportunities",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = opportunities_apply_dbnames,
                                         .apply = opportunities_apply_event,
                                         .ops = opportunities_handlers_ops,
                                         .tick = opportunities_handlers_tick,
                                         .tick_ms = 20,
                                         .init = opportunities_handlers_init,
                                         .fini = opportunities_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t root = {"root", "admin", NULL}, ann = {"ann", "sales", "east"},
                                 mia = {"mia", "manager", "west"},
                                 erp = {"erp", "integrator", NULL}, none = {NULL, NULL, NULL};
    rp_packer_t args;
    rp_packer_init(&args);
    rp_reply_t reply;
    rp_doc_t *doc = NULL;

    //  The writer seeds the default pipeline (bounded wait for its tick).
    rp_testservice_args(&args, (const char *[]){"id", PIPELINE_DEFAULT_ID, NULL});
    for (int i = 0; i < 250; i++) {
        rp_doc_destroy(&doc);
        doc = rp_testservice_call(service, false, "opportunities.pipelines.get", &ann, NULL, &args,
                                  &reply);
        if (reply.status == 200)
            break;
        zclock_sleep(20);
    }
    assert(reply.status == 200);
    const msgpack_object *stages = rp_obj_get(reply.data, "stages");
    assert(stages->via.array.size == 7);
    assert(rp_obj_streq(rp_obj_get(&stages->via.array.ptr[0], "name"), "线索"));
    assert(rp_obj_streq(rp_obj_get(&stages->via.array.ptr[6], "kind"), "lost"));
    assert(rp_obj_get(reply.data, "team")->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "opportunities.lost_reasons.get", &mia, NULL, &args,
                              &reply);
    assert(reply.status == 200 && reply.data->via.map.size == 3);
    assert(rp_obj_streq(&rp_obj_get(reply.data, "lost_reasons")->via.array.ptr[0], "价格"));
    rp_doc_destroy(&doc);

    //  Creates: admin only, checked field by field.
    s_test_pipeline(&args, "华东大客户", "east", 120);
    doc = rp_testservice_call(service, true, "opportunities.pipelines.create", &ann, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "opportunities.pipelines.create", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 400, "writer_only"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "opportunities.pipelines.create", &root, "seed/x",
                              &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "bad_idem"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "opportunities.pipelines.create", &root, NULL, &args,
                              &reply);
    assert(reply.status == 200);
    assert(rp_obj_get(reply.data, "stages")->via.array.size == 122);
    assert(rp_obj_streq(rp_obj_get(&rp_obj_get(reply.data, "stages")->via.array.ptr[119], "name"),
                        "阶段119"));
    uint64_t version = 0;
    assert(rp_obj_u64(rp_obj_get(reply.data, "version"), &version) && version == 1);
    char id[OPPORTUNITIES_MAX_ID + 1];
    const char *str;
    size_t len;
    assert(rp_obj_str(rp_obj_get(reply.data, "id"), &str, &len) && len < sizeof id);
    memcpy(id, str, len);
    id[len] = 0;
    rp_doc_destroy(&doc);
    rp_testservice_args(&args,
                        (const char *[]){"name", "x", "team", "east", "colour", "red", NULL});
    doc = rp_testservice_call(service, true, "opportunities.pipelines.create", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid"));
    assert(s_test_error_names(doc, "stages") && s_test_error_names(doc, "colour"));
    rp_doc_destroy(&doc);

    //  Seen by its team and admins; the default by everyone who reads.
    rp_testservice_args(&args, (const char *[]){"id", id, NULL});
    doc = rp_testservice_call(service, false, "opportunities.pipelines.get", &ann, NULL, &args,
                              &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "team"), "east"));
    rp_doc_destroy(&doc);
    const rp_testservice_actor_t *unseen[] = {&mia, &erp, &none};
    for (size_t i = 0; i < 3; i++) {
        doc = rp_testservice_call(service, false, "opportunities.pipelines.get", unseen[i], NULL,
                                  &args, &reply);
        assert(rp_testservice_error_is(&reply, 404, "not_found"));
        rp_doc_destroy(&doc);
        doc = rp_testservice_call(service, false, "opportunities.lost_reasons.get", unseen[i], NULL,
                                  &args, &reply);
        assert(rp_testservice_error_is(&reply, 404, "not_found"));
        rp_doc_destroy(&doc);
    }
    assert(s_test_items(service, &root) == 2 && s_test_items(service, &ann) == 2);
    assert(s_test_items(service, &mia) == 1);
    doc = rp_testservice_call(service, false, "opportunities.pipelines.list", &erp, NULL, NULL,
                              &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    //  Pages: limit, and the cursor the page gives.
    rp_testservice_args(&args, (const char *[]){"limit", "#1", NULL});
    doc = rp_testservice_call(service, false, "opportunities.pipelines.list", &root, NULL, &args,
                              &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 1);
    char cursor[OPPORTUNITIES_MAX_ID + 1];
    assert(rp_obj_str(rp_obj_get(reply.data, "next_cursor"), &str, &len) && len < sizeof cursor);
    memcpy(cursor, str, len);
    cursor[len] = 0;
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"limit", "#1", "cursor", cursor, NULL});
    doc = rp_testservice_call(service, false, "opportunities.pipelines.list", &root, NULL, &args,
                              &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 1);
    assert(rp_obj_get(reply.data, "next_cursor")->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"limit", "#0", NULL});
    doc = rp_testservice_call(service, false, "opportunities.pipelines.list", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid") && s_test_error_names(doc, "limit"));
    rp_doc_destroy(&doc);

    //  Updates: everyone's now (team nil), version 2; a stale version is
    //  412; the lost reasons are not changed here; unknown ids 404.
    rp_testservice_args(
        &args, (const char *[]){"id", id, "version", "#1", "team", "~", "name", "全国", NULL});
    doc = rp_testservice_call(service, true, "opportunities.pipelines.update", &root, NULL, &args,
                              &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "name"), "全国"));
    assert(rp_obj_u64(rp_obj_get(reply.data, "version"), &version) && version == 2);
    rp_doc_destroy(&doc);
    assert(s_test_items(service, &mia) == 2);
    doc = rp_testservice_call(service, true, "opportunities.pipelines.update", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"id", id, "lost_reasons", "x", NULL});
    doc = rp_testservice_call(service, true, "opportunities.pipelines.update", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid") &&
           s_test_error_names(doc, "lost_reasons"));
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"id", "nope", "name", "x", NULL});
    doc = rp_testservice_call(service, true, "opportunities.pipelines.update", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "opportunities.pipelines.update", &mia, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);

    //  Lost reasons: set whole (version 3), answered as get; duplicates 422.
    rp_packer_reset(&args);
    msgpack_pack_map(&args.pk, 3);
    rp_pack_kv_cstr(&args.pk, "id", id);
    rp_pack_kv_u64(&args.pk, "version", 2);
    rp_pack_cstr(&args.pk, "lost_reasons");
    msgpack_pack_array(&args.pk, 2);
    rp_pack_cstr(&args.pk, "价格太高");
    rp_pack_cstr(&args.pk, "价格太高");
    doc = rp_testservice_call(service, true, "opportunities.lost_reasons.set", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid") &&
           s_test_error_names(doc, "lost_reasons[1]"));
    rp_doc_destroy(&doc);
    args.buffer.size -= strlen("价格太高") + 1;
    rp_pack_cstr(&args.pk, "选型失败");
    doc = rp_testservice_call(service, true, "opportunities.lost_reasons.set", &ann, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "opportunities.lost_reasons.set", &root, NULL, &args,
                              &reply);
    assert(reply.status == 200 && reply.data->via.map.size == 3);
    assert(rp_obj_u64(rp_obj_get(reply.data, "version"), &version) && version == 3);
    assert(rp_obj_streq(&rp_obj_get(reply.data, "lost_reasons")->via.array.ptr[1], "选型失败"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "opportunities.lost_reasons.set", &root, NULL, &args,
                              &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);

    rp_packer_destroy(&args);
    rp_testservice_destroy(&service);
}

void pipelines_test(void)
{
    s_test_checks();
    rp_apply_test_replay("pipelines", opportunities_apply_dbnames, s_test_journal);
    s_test_ops();
}
