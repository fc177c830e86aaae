/*  record.c — see record.h. */
#include <rapport/record.h>
#include <rapport/money.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp_record_init(rp_record_t *self, const rp_field_t *fields, int count)
{
    assert(count <= RP_RECORD_MAX_FIELDS);
    self->fields = fields;
    self->count = count;
    for (int i = 0; i < count; i++) {
        self->values[i].type = MSGPACK_OBJECT_NIL;
        self->given[i] = false;
        self->owned[i] = NULL;
    }
}

void rp_record_reset(rp_record_t *self)
{
    for (int i = 0; i < self->count; i++)
        free(self->owned[i]);
    rp_record_init(self, self->fields, self->count);
}

int rp_fields_index(const rp_field_t *fields, int count, const char *name, size_t len)
{
    for (int i = 0; i < count; i++)
        if (strlen(fields[i].name) == len && memcmp(fields[i].name, name, len) == 0)
            return i;
    return -1;
}

int rp_record_index(const rp_record_t *self, const char *name, size_t len)
{
    return rp_fields_index(self->fields, self->count, name, len);
}

static void s_unown(rp_record_t *self, int field)
{
    assert(field >= 0 && field < self->count);
    free(self->owned[field]);
    self->owned[field] = NULL;
}

void rp_record_set_obj(rp_record_t *self, int field, const msgpack_object *value)
{
    s_unown(self, field);
    self->values[field] = *value;
    self->given[field] = true;
}

void rp_record_set_str(rp_record_t *self, int field, const char *str, size_t len)
{
    char *copy = malloc(len + 1);
    assert(copy);
    if (len)
        memcpy(copy, str, len);
    copy[len] = 0;
    s_unown(self, field);
    self->owned[field] = copy;
    self->values[field].type = MSGPACK_OBJECT_STR;
    self->values[field].via.str.ptr = copy;
    self->values[field].via.str.size = (uint32_t)len;
    self->given[field] = true;
}

void rp_record_set_u64(rp_record_t *self, int field, uint64_t value)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = value};
    rp_record_set_obj(self, field, &o);
}

void rp_record_set_bool(rp_record_t *self, int field, bool value)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_BOOLEAN, .via.boolean = value};
    rp_record_set_obj(self, field, &o);
}

void rp_record_set_nil(rp_record_t *self, int field)
{
    msgpack_object o = {.type = MSGPACK_OBJECT_NIL};
    rp_record_set_obj(self, field, &o);
}

//  ---------------------------------------------------------------------
//  Deep copies: one block per value, the object arrays first (aligned),
//  then the bytes of strings.

static void s_obj_size(const msgpack_object *o, size_t *objects, size_t *bytes)
{
    if (o->type == MSGPACK_OBJECT_STR || o->type == MSGPACK_OBJECT_BIN ||
        o->type == MSGPACK_OBJECT_EXT)
        *bytes += o->via.str.size; //  str, bin and ext keep size where str does
    else if (o->type == MSGPACK_OBJECT_ARRAY) {
        *objects += o->via.array.size * sizeof(msgpack_object);
        for (uint32_t i = 0; i < o->via.array.size; i++)
            s_obj_size(&o->via.array.ptr[i], objects, bytes);
    } else if (o->type == MSGPACK_OBJECT_MAP) {
        *objects += o->via.map.size * sizeof(msgpack_object_kv);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            s_obj_size(&o->via.map.ptr[i].key, objects, bytes);
            s_obj_size(&o->via.map.ptr[i].val, objects, bytes);
        }
    }
}

static void s_obj_copy(msgpack_object *dst, const msgpack_object *src, char **objects, char **bytes)
{
    *dst = *src;
    if (src->type == MSGPACK_OBJECT_STR || src->type == MSGPACK_OBJECT_BIN) {
        memcpy(*bytes, src->via.str.ptr, src->via.str.size);
        dst->via.str.ptr = *bytes;
        *bytes += src->via.str.size;
    } else if (src->type == MSGPACK_OBJECT_EXT) {
        memcpy(*bytes, src->via.ext.ptr, src->via.ext.size);
        dst->via.ext.ptr = *bytes;
        *bytes += src->via.ext.size;
    } else if (src->type == MSGPACK_OBJECT_ARRAY) {
        msgpack_object *items = (msgpack_object *)*objects;
        *objects += src->via.array.size * sizeof(msgpack_object);
        dst->via.array.ptr = items;
        for (uint32_t i = 0; i < src->via.array.size; i++)
            s_obj_copy(&items[i], &src->via.array.ptr[i], objects, bytes);
    } else if (src->type == MSGPACK_OBJECT_MAP) {
        msgpack_object_kv *kvs = (msgpack_object_kv *)*objects;
        *objects += src->via.map.size * sizeof(msgpack_object_kv);
        dst->via.map.ptr = kvs;
        for (uint32_t i = 0; i < src->via.map.size; i++) {
            s_obj_copy(&kvs[i].key, &src->via.map.ptr[i].key, objects, bytes);
            s_obj_copy(&kvs[i].val, &src->via.map.ptr[i].val, objects, bytes);
        }
    }
}

void rp_record_set_copy(rp_record_t *self, int field, const msgpack_object *value)
{
    size_t objects = 0, bytes = 0;
    s_obj_size(value, &objects, &bytes);
    if (objects + bytes == 0) {
        rp_record_set_obj(self, field, value); //  a scalar or an empty str
        return;
    }
    char *block = malloc(objects + bytes);
    assert(block);
    char *obj = block, *byte = block + objects;
    msgpack_object copy;
    s_obj_copy(&copy, value, &obj, &byte);
    rp_record_set_obj(self, field, &copy);
    self->owned[field] = block;
}

//  ---------------------------------------------------------------------

void rp_record_from_map(rp_record_t *self, const msgpack_object *map)
{
    if (!rp_obj_is_map(map))
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        int field = kv->key.type == MSGPACK_OBJECT_STR
                        ? rp_record_index(self, kv->key.via.str.ptr, kv->key.via.str.size)
                        : -1;
        if (field >= 0)
            rp_record_set_obj(self, field, &kv->val);
    }
}

bool rp_record_str(const rp_record_t *self, int field, const char **str, size_t *len)
{
    return field >= 0 && field < self->count && rp_obj_str(&self->values[field], str, len);
}

uint64_t rp_record_u64(const rp_record_t *self, int field)
{
    uint64_t value = 0;
    rp_obj_u64(&self->values[field], &value);
    return value;
}

bool rp_record_bool(const rp_record_t *self, int field)
{
    bool value = false;
    rp_obj_bool(&self->values[field], &value);
    return value;
}

void rp_record_overlay(rp_record_t *self, const rp_record_t *changes)
{
    for (int i = 0; i < self->count && i < changes->count; i++)
        if (changes->given[i]) {
            if (changes->owned[i])
                rp_record_set_copy(self, i, &changes->values[i]);
            else
                rp_record_set_obj(self, i, &changes->values[i]);
        }
}

void rp_record_pack(const rp_record_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, (size_t)self->count);
    for (int i = 0; i < self->count; i++)
        rp_pack_kv_obj(pk, self->fields[i].name, &self->values[i]);
}

void rp_record_pack_given(const rp_record_t *self, msgpack_packer *pk)
{
    size_t count = 0;
    for (int i = 0; i < self->count; i++)
        count += self->given[i];
    msgpack_pack_map(pk, count);
    for (int i = 0; i < self->count; i++)
        if (self->given[i])
            rp_pack_kv_obj(pk, self->fields[i].name, &self->values[i]);
}

//  ---------------------------------------------------------------------
//  Versions

static int s_named(const rp_record_t *self, const char *name)
{
    return rp_record_index(self, name, strlen(name));
}

uint64_t rp_record_version(const rp_record_t *self)
{
    int field = s_named(self, "version");
    return field < 0 ? 0 : rp_record_u64(self, field);
}

bool rp_record_stale(const rp_record_t *self, const msgpack_object *data)
{
    uint64_t expected;
    return rp_obj_u64(rp_obj_get(data, "expected_version"), &expected) &&
           expected != rp_record_version(self);
}

void rp_record_stamp(rp_record_t *self, const rp_event_t *event)
{
    int version = s_named(self, "version"), updated = s_named(self, "updated_at"),
        created = s_named(self, "created_at");
    uint64_t next = rp_record_version(self) + 1;
    const char *time = event->time ? event->time : "";
    size_t time_len = event->time ? event->time_len : 0;
    if (version >= 0)
        rp_record_set_u64(self, version, next);
    if (updated >= 0)
        rp_record_set_str(self, updated, time, time_len);
    if (created >= 0 && next == 1)
        rp_record_set_str(self, created, time, time_len);
}

//  ---------------------------------------------------------------------
//  Field errors

static const char *s_message(const char *code)
{
    static const struct {
        const char *code, *message;
    } messages[] = {
        {"required", "a value is required"},
        {"too_long", "the value is too long"},
        {"too_many", "too many items"},
        {"type", "the value has the wrong type"},
        {"unknown", "no such field"},
        {"read_only", "the field is set by the service"},
        {"out_of_range", "the number is out of range"},
        {"invalid_key", "keys are 1..64 of [A-Za-z0-9_-]"},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        if (strcmp(code, messages[i].code) == 0)
            return messages[i].message;
    return "the value is not valid for this field";
}

void rp_field_error_set(rp_field_error_t *error, const char *field, size_t len, const char *code)
{
    len = rp_normalize_cut(field, len, RP_MAX_FIELD);
    memcpy(error->field, field, len);
    error->field[len] = 0;
    error->code = code;
    error->message = s_message(code);
}

static int s_error(rp_field_error_t *errors, int count, int max, const char *field, size_t len,
                   const char *code)
{
    if (count < max)
        rp_field_error_set(&errors[count], field, len, code);
    return count + 1;
}

//  ---------------------------------------------------------------------
//  Validation

static const char *s_enum_check(const char *str, size_t len, const char *const *values)
{
    for (; values && *values; values++)
        if (strlen(*values) == len && memcmp(*values, str, len) == 0)
            return NULL;
    return "invalid";
}

//  A list of phone numbers, each normalized: one owned block holds the
//  array of objects and the strings they point to.
static const char *s_phones(rp_record_t *self, int field, const msgpack_object *value,
                            const char *region)
{
    if (!rp_obj_is_array(value))
        return "type";
    uint32_t count = value->via.array.size;
    if (count > self->fields[field].items)
        return "too_many";
    size_t size = count * (sizeof(msgpack_object) + RP_NORMALIZE_PHONE_MAX);
    msgpack_object *items = malloc(size ? size : 1);
    assert(items);
    char *text = (char *)(items + count);
    for (uint32_t i = 0; i < count; i++) {
        const char *str, *err;
        size_t len;
        char *out = text + i * RP_NORMALIZE_PHONE_MAX;
        if (!rp_obj_str(&value->via.array.ptr[i], &str, &len))
            err = "type";
        else
            err = rp_normalize_phone(str, len, region, out);
        if (err) {
            free(items);
            return err;
        }
        items[i].type = MSGPACK_OBJECT_STR;
        items[i].via.str.ptr = out;
        items[i].via.str.size = (uint32_t)strlen(out);
    }
    msgpack_object list = {.type = MSGPACK_OBJECT_ARRAY};
    list.via.array.size = count;
    list.via.array.ptr = items;
    rp_record_set_obj(self, field, &list);
    self->owned[field] = items;
    return NULL;
}

static const char *s_tags(const rp_field_t *def, const msgpack_object *o)
{
    if (!rp_obj_is_array(o))
        return "type";
    if (o->via.array.size > def->items)
        return "too_many";
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const char *str;
        size_t len;
        if (!rp_obj_str(&o->via.array.ptr[i], &str, &len))
            return "type";
        const char *err = rp_normalize_text(str, len, def->max, 0);
        if (err)
            return err;
    }
    return NULL;
}

static const char *s_custom(const rp_field_t *def, const msgpack_object *o)
{
    if (!rp_obj_is_map(o))
        return "type";
    if (o->via.map.size > def->items)
        return "too_many";
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key, *val = &o->via.map.ptr[i].val;
        const char *str;
        size_t len;
        if (!rp_obj_str(key, &str, &len) || rp_normalize_code(str, len, 64))
            return "invalid_key";
        if (val->type == MSGPACK_OBJECT_STR) {
            if (val->via.str.size > 0 && //  an empty value is allowed here
                rp_normalize_text(val->via.str.ptr, val->via.str.size, def->max, 0))
                return "invalid";
        } else if (val->type != MSGPACK_OBJECT_NIL && val->type != MSGPACK_OBJECT_BOOLEAN &&
                   val->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                   val->type != MSGPACK_OBJECT_NEGATIVE_INTEGER &&
                   val->type != MSGPACK_OBJECT_FLOAT64 && val->type != MSGPACK_OBJECT_FLOAT32)
            return "type";
    }
    return NULL;
}

static const char *s_amount(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64 <= (1ULL << 53) ? NULL : "out_of_range";
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return "out_of_range";
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) {
        double d = o->via.f64;
        return d >= 0 && d <= 9007199254740992.0 ? NULL : "out_of_range"; //  NaN fails too
    }
    return "type";
}

static const char *s_int(const rp_field_t *def, const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64 <= def->max ? NULL : "out_of_range";
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return "out_of_range";
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        return "invalid"; //  a number, but not a whole one
    return "type";
}

//  nil: refused for a required field (and a kept one on update), "" for a
//  blank-allowed text, else it clears the field.
static const char *s_nil(rp_record_t *self, int field, bool create)
{
    int flags = self->fields[field].flags;
    if ((flags & RP_FIELD_REQUIRED) || ((flags & RP_FIELD_KEPT) && !create))
        return "required";
    if (flags & RP_FIELD_BLANK)
        rp_record_set_str(self, field, "", 0);
    else
        rp_record_set_nil(self, field);
    return NULL;
}

//  A string value of def's kind: checked, and normalized into out (then
//  *normalized is set).
static const char *s_string(const rp_field_t *def, const char *str, size_t len, const char *region,
                            char out[RP_NORMALIZE_MAX], bool *normalized)
{
    int blank = def->flags & RP_FIELD_BLANK ? RP_TEXT_BLANK : 0;
    *normalized = true;
    switch (def->kind) {
    case RP_FIELD_PHONE:
        return rp_normalize_phone(str, len, region, out);
    case RP_FIELD_EMAIL:
        return rp_normalize_email(str, len, out);
    case RP_FIELD_DATE:
        return rp_normalize_date(str, len, out);
    case RP_FIELD_TIME:
        return rp_normalize_time(str, len, out);
    default:
        *normalized = false;
    }
    switch (def->kind) {
    case RP_FIELD_TEXT:
        return rp_normalize_text(str, len, def->max, blank);
    case RP_FIELD_NOTE:
        return rp_normalize_text(str, len, def->max, blank | RP_TEXT_NOTE);
    case RP_FIELD_CODE:
        return rp_normalize_code(str, len, def->max);
    case RP_FIELD_ENUM:
        return s_enum_check(str, len, def->values);
    default:
        return "read_only";
    }
}

//  Check one value; on success store it (normalized) in self.
static const char *s_check(rp_record_t *self, int field, const msgpack_object *value, bool create,
                           const char *region)
{
    const rp_field_t *def = &self->fields[field];
    if (value->type == MSGPACK_OBJECT_NIL)
        return s_nil(self, field, create);
    if (def->kind == RP_FIELD_PHONES)
        return s_phones(self, field, value, region);
    if (def->kind == RP_FIELD_TAGS || def->kind == RP_FIELD_CUSTOM ||
        def->kind == RP_FIELD_AMOUNT || def->kind == RP_FIELD_MONEY || def->kind == RP_FIELD_INT ||
        def->kind == RP_FIELD_VALUE) {
        const char *err = def->kind == RP_FIELD_TAGS     ? s_tags(def, value)
                          : def->kind == RP_FIELD_CUSTOM ? s_custom(def, value)
                          : def->kind == RP_FIELD_MONEY  ? rp_money_check(value)
                          : def->kind == RP_FIELD_INT    ? s_int(def, value)
                          : def->kind == RP_FIELD_VALUE  ? def->check(value)
                                                         : s_amount(value);
        if (!err)
            rp_record_set_obj(self, field, value);
        return err;
    }
    const char *str;
    size_t len;
    if (!rp_obj_str(value, &str, &len))
        return "type";
    char out[RP_NORMALIZE_MAX], more[RP_NORMALIZE_MAX];
    bool normalized;
    const char *err = s_string(def, str, len, region, out, &normalized);
    if (!err && def->normalize) {
        err = def->normalize(normalized ? out : str, normalized ? strlen(out) : len, more);
        if (!err)
            memcpy(out, more, sizeof out);
        normalized = true;
    }
    if (err)
        return err;
    if (normalized)
        rp_record_set_str(self, field, out, strlen(out));
    else
        rp_record_set_obj(self, field, value);
    return NULL;
}

static bool s_skipped(const char *const *skip, const char *key, size_t len)
{
    for (; skip && *skip; skip++)
        if (strlen(*skip) == len && memcmp(*skip, key, len) == 0)
            return true;
    return false;
}

int rp_record_validate(rp_record_t *self, const msgpack_object *args, const char *const *skip,
                       bool create, const char *region, rp_field_error_t *errors, int max)
{
    int count = 0;
    bool seen[RP_RECORD_MAX_FIELDS] = {false}; //  named once is enough, valid or not
    for (uint32_t i = 0; rp_obj_is_map(args) && i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        const char *key = "";
        size_t len = 0;
        bool named = rp_obj_str(&kv->key, &key, &len);
        if (named && s_skipped(skip, key, len))
            continue;
        int field = named ? rp_record_index(self, key, len) : -1;
        if (field >= 0) {
            seen[field] = true;
            key = self->fields[field].name;
        }
        const char *err = field < 0                                     ? "unknown"
                          : self->fields[field].kind == RP_FIELD_SYSTEM ? "read_only"
                                                                        : NULL;
        if (!err)
            err = s_check(self, field, &kv->val, create, region);
        if (err)
            count = s_error(errors, count, max, key, len, err);
    }
    for (int field = 0; create && field < self->count; field++) {
        const rp_field_t *def = &self->fields[field];
        if ((def->flags & RP_FIELD_REQUIRED) && !seen[field])
            count = s_error(errors, count, max, def->name, strlen(def->name), "required");
        else if ((def->flags & RP_FIELD_BLANK) && !self->given[field])
            rp_record_set_str(self, field, "", 0);
    }
    return count < max ? count : max;
}

//  ---------------------------------------------------------------------
//  Self-test: every kind, flag and helper on one table.

//  A field's own normalizer: upper-cases, refuses "x".
static const char *s_test_upper(const char *in, size_t len, char *out)
{
    if (len == 1 && in[0] == 'x')
        return "invalid";
    for (size_t i = 0; i < len; i++)
        out[i] = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 'a' + 'A') : in[i];
    out[len] = 0;
    return NULL;
}

static const char *const s_test_kinds[] = {"a", "b", NULL};

enum {
    T_ID,
    T_NAME,
    T_NOTE,
    T_KIND,
    T_PHONES,
    T_EMAIL,
    T_ON,
    T_AT,
    T_CODE,
    T_TAGS,
    T_CUSTOM,
    T_LIMIT,
    T_TEAM,
    T_ZONE,
    T_PHONE,
    T_VERSION,
    T_CREATED_AT,
    T_UPDATED_AT,
    T_FIELDS
};

static const rp_field_t s_test_fields[T_FIELDS] = {
    [T_ID] = {"id", RP_FIELD_SYSTEM},
    [T_NAME] = {"name", RP_FIELD_TEXT, .max = 6, .flags = RP_FIELD_REQUIRED},
    [T_NOTE] = {"note", RP_FIELD_NOTE, .max = 100},
    [T_KIND] = {"kind", RP_FIELD_ENUM, .values = s_test_kinds},
    [T_PHONES] = {"phones", RP_FIELD_PHONES, .items = 2},
    [T_EMAIL] = {"email", RP_FIELD_EMAIL},
    [T_ON] = {"on", RP_FIELD_DATE},
    [T_AT] = {"at", RP_FIELD_TIME},
    [T_CODE] = {"code", RP_FIELD_CODE, .max = 8, .flags = RP_FIELD_KEPT},
    [T_TAGS] = {"tags", RP_FIELD_TAGS, .max = 4, .items = 2},
    [T_CUSTOM] = {"custom", RP_FIELD_CUSTOM, .max = 5, .items = 2},
    [T_LIMIT] = {"limit", RP_FIELD_AMOUNT},
    [T_TEAM] = {"team", RP_FIELD_TEXT, .max = 10, .flags = RP_FIELD_BLANK},
    [T_ZONE] = {"zone", RP_FIELD_TEXT, .max = 20, .normalize = s_test_upper},
    [T_PHONE] = {"phone", RP_FIELD_PHONE},
    [T_VERSION] = {"version", RP_FIELD_SYSTEM},
    [T_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [T_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

static rp_doc_t *s_test_doc(rp_packer_t *packer)
{
    rp_doc_t *doc = rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
    assert(doc);
    rp_packer_reset(packer);
    return doc;
}

//  Validate the packed args into a fresh record: the error count.
static int s_test_validate(rp_record_t *r, rp_packer_t *packer, bool create,
                           rp_field_error_t *errors, int max)
{
    rp_doc_t *doc = s_test_doc(packer);
    rp_record_reset(r);
    int n = rp_record_validate(r, rp_doc_root(doc), NULL, create, "CN", errors, max);
    rp_doc_destroy(&doc); //  r's owned values stay; borrowed ones are not read after
    return n;
}

static void s_test_errors(const rp_field_error_t *errors, int n, const char *const want[][2])
{
    for (int i = 0; i < n; i++) {
        if (strcmp(errors[i].field, want[i][0]) || strcmp(errors[i].code, want[i][1]))
            fprintf(stderr, "error %d: %s %s, want %s %s\n", i, errors[i].field, errors[i].code,
                    want[i][0], want[i][1]);
        assert(strcmp(errors[i].field, want[i][0]) == 0 &&
               strcmp(errors[i].code, want[i][1]) == 0 && errors[i].message[0]);
    }
}

static void s_test_kinds_valid(void)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 13);
    rp_pack_kv_cstr(&packer.pk, "name", "王五");
    rp_pack_kv_cstr(&packer.pk, "note", "line one\nline two");
    rp_pack_kv_cstr(&packer.pk, "kind", "b");
    rp_pack_cstr(&packer.pk, "phones");
    msgpack_pack_array(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "138 0013 8000");
    rp_pack_cstr(&packer.pk, "+1 415 555 0100");
    rp_pack_kv_cstr(&packer.pk, "email", " Wang.Wu@Example.COM");
    rp_pack_kv_cstr(&packer.pk, "on", "1990/05/20");
    rp_pack_kv_cstr(&packer.pk, "at", "2026-11-23T16:00:00+08:00");
    rp_pack_kv_cstr(&packer.pk, "code", "C-0001");
    rp_pack_cstr(&packer.pk, "tags");
    msgpack_pack_array(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "vip");
    rp_pack_cstr(&packer.pk, "东");
    rp_pack_cstr(&packer.pk, "custom");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "seats", "");
    rp_pack_kv_u64(&packer.pk, "floor", 3);
    rp_pack_kv_u64(&packer.pk, "limit", 1ULL << 53);
    rp_pack_kv_cstr(&packer.pk, "zone", "asia/shanghai");
    rp_pack_kv_cstr(&packer.pk, "phone", "010-12345678");
    rp_doc_t *doc = s_test_doc(&packer);
    rp_record_t r;
    rp_record_init(&r, s_test_fields, T_FIELDS);
    rp_field_error_t errors[8];
    assert(rp_record_validate(&r, rp_doc_root(doc), NULL, true, "CN", errors, 8) == 0);
    const char *str;
    size_t len;
    const msgpack_object *phones = &r.values[T_PHONES];
    assert(phones->type == MSGPACK_OBJECT_ARRAY && phones->via.array.size == 2);
    assert(rp_obj_streq(&phones->via.array.ptr[0], "+8613800138000"));
    assert(rp_obj_streq(&phones->via.array.ptr[1], "+14155550100"));
    assert(rp_record_str(&r, T_EMAIL, &str, &len) && len == 19 &&
           memcmp(str, "wang.wu@example.com", 19) == 0);
    assert(rp_record_str(&r, T_ON, &str, &len) && memcmp(str, "1990-05-20", 10) == 0);
    assert(rp_obj_streq(&r.values[T_AT], "2026-11-23T08:00:00.000Z"));
    assert(rp_obj_streq(&r.values[T_ZONE], "ASIA/SHANGHAI"));
    assert(rp_obj_streq(&r.values[T_PHONE], "+861012345678"));
    assert(r.values[T_TAGS].via.array.size == 2 && r.values[T_CUSTOM].via.map.size == 2);
    assert(rp_record_u64(&r, T_LIMIT) == 1ULL << 53);
    //  an absent blank-allowed text is "" on create; system fields stay nil
    assert(rp_record_str(&r, T_TEAM, &str, &len) && len == 0 && r.given[T_TEAM]);
    assert(!r.given[T_ID] && r.values[T_VERSION].type == MSGPACK_OBJECT_NIL);

    //  Packed, decoded, overlaid with changes: the stored form round-trips,
    //  and an overlay keeps nothing of the changes once they are reset.
    rp_packer_t stored;
    rp_packer_init(&stored);
    rp_record_pack(&r, &stored.pk);
    rp_doc_t *doc2 = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc2);
    rp_record_t back;
    rp_record_init(&back, s_test_fields, T_FIELDS);
    rp_record_from_map(&back, rp_doc_root(doc2));
    assert(back.values[T_ID].type == MSGPACK_OBJECT_NIL &&
           back.values[T_PHONES].via.array.size == 2);
    assert(rp_obj_streq(&back.values[T_ZONE], "ASIA/SHANGHAI"));
    rp_record_t changes;
    rp_record_init(&changes, s_test_fields, T_FIELDS);
    msgpack_pack_map(&packer.pk, 5);
    rp_pack_cstr(&packer.pk, "phones");
    msgpack_pack_array(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "13900139000");
    rp_pack_kv_cstr(&packer.pk, "kind", "a");
    rp_pack_cstr(&packer.pk, "note");
    msgpack_pack_nil(&packer.pk);
    rp_pack_cstr(&packer.pk, "team");
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_cstr(&packer.pk, "email", "Li@Example.CN");
    assert(s_test_validate(&changes, &packer, false, errors, 8) == 0);
    rp_record_overlay(&back, &changes);
    rp_record_reset(&changes); //  the document and the copies are gone
    assert(rp_obj_streq(&back.values[T_PHONES].via.array.ptr[0], "+8613900139000"));
    assert(rp_obj_streq(&back.values[T_EMAIL], "li@example.cn"));
    assert(back.values[T_NOTE].type == MSGPACK_OBJECT_NIL &&
           rp_obj_streq(&back.values[T_TEAM], ""));
    assert(rp_record_str(&back, T_NAME, &str, &len) && len == 6);
    rp_packer_reset(&stored);
    rp_record_pack_given(&changes, &stored.pk); //  nothing given after a reset
    assert(stored.buffer.size == 1);
    rp_record_reset(&back);
    rp_record_reset(&r);
    rp_doc_destroy(&doc2);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&stored);
    rp_packer_destroy(&packer);
}

static void s_test_kinds_invalid(void)
{
    //  Every kind of error, each named, in the order of the keys; a key
    //  that is not a string is unknown too; on create, the required name.
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 17);
    rp_pack_kv_cstr(&packer.pk, "note", "tab\tok but bell \a is not");
    rp_pack_kv_cstr(&packer.pk, "kind", "c");
    rp_pack_cstr(&packer.pk, "phones");
    msgpack_pack_array(&packer.pk, 3);
    for (int i = 0; i < 3; i++)
        rp_pack_cstr(&packer.pk, "13800138000");
    rp_pack_kv_cstr(&packer.pk, "email", "nope");
    rp_pack_kv_cstr(&packer.pk, "on", "2023-02-30");
    rp_pack_kv_u64(&packer.pk, "at", 7);
    rp_pack_kv_cstr(&packer.pk, "id", "x");
    rp_pack_kv_cstr(&packer.pk, "colour", "red");
    rp_pack_kv_cstr(&packer.pk, "code", "a b");
    rp_pack_cstr(&packer.pk, "tags");
    msgpack_pack_array(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "toolong");
    rp_pack_cstr(&packer.pk, "custom");
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_u64(&packer.pk, "bad key", 1);
    msgpack_pack_int(&packer.pk, 5);
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_i64(&packer.pk, "limit", -1);
    rp_pack_kv_cstr(&packer.pk, "zone", "x");
    rp_pack_kv_cstr(&packer.pk, "phone", "12345");
    rp_pack_kv_cstr(&packer.pk, "team", "\x01");
    rp_pack_kv_u64(&packer.pk, "version", 2);
    rp_record_t r;
    rp_record_init(&r, s_test_fields, T_FIELDS);
    rp_field_error_t errors[20];
    static const char *const want[][2] = {
        {"note", "invalid"},       {"kind", "invalid"},       {"phones", "too_many"},
        {"email", "invalid"},      {"on", "invalid"},         {"at", "type"},
        {"id", "read_only"},       {"colour", "unknown"},     {"code", "invalid"},
        {"tags", "too_long"},      {"custom", "invalid_key"}, {"", "unknown"},
        {"limit", "out_of_range"}, {"zone", "invalid"},       {"phone", "invalid"},
        {"team", "invalid"},       {"version", "read_only"},  {"name", "required"}};
    int n = s_test_validate(&r, &packer, true, errors, 20);
    assert(n == 18);
    s_test_errors(errors, n, want);
    //  At most max errors are reported.
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_u64(&packer.pk, "a", 1);
    rp_pack_kv_u64(&packer.pk, "b", 1);
    assert(s_test_validate(&r, &packer, true, errors, 2) == 2);

    //  A too-long name (cut on no boundary: counted in bytes); nil is
    //  refused for the name always and for the code on update; a missing
    //  name only on create.
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "name", "王五王五");
    assert(s_test_validate(&r, &packer, true, errors, 8) == 1);
    assert(strcmp(errors[0].code, "too_long") == 0);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "name");
    msgpack_pack_nil(&packer.pk);
    rp_pack_cstr(&packer.pk, "code");
    msgpack_pack_nil(&packer.pk);
    static const char *const nils[][2] = {{"name", "required"}, {"code", "required"}};
    n = s_test_validate(&r, &packer, false, errors, 8);
    assert(n == 2);
    s_test_errors(errors, n, nils);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "name", "n");
    rp_pack_cstr(&packer.pk, "code");
    msgpack_pack_nil(&packer.pk);
    assert(s_test_validate(&r, &packer, true, errors, 8) == 0 && r.given[T_CODE]);
    msgpack_pack_map(&packer.pk, 0);
    assert(s_test_validate(&r, &packer, true, errors, 8) == 1);
    assert(strcmp(errors[0].field, "name") == 0 && strcmp(errors[0].code, "required") == 0);
    msgpack_pack_map(&packer.pk, 0);
    assert(s_test_validate(&r, &packer, false, errors, 8) == 0 && !r.given[T_TEAM]);
    //  Skipped keys are not looked at.
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "name", "n");
    rp_pack_kv_u64(&packer.pk, "allow", 1);
    rp_doc_t *doc = s_test_doc(&packer);
    static const char *const skip[] = {"allow", NULL};
    assert(rp_record_validate(&r, rp_doc_root(doc), skip, true, NULL, errors, 8) == 0);
    rp_doc_destroy(&doc);
    rp_record_reset(&r);
    rp_packer_destroy(&packer);

    //  Unknown keys are echoed, cut on a character boundary.
    rp_field_error_t error;
    const char *long_key =
        "字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段"
        "字段字段";
    rp_field_error_set(&error, long_key, strlen(long_key), "unknown");
    assert(strlen(error.field) == 63 && rp_utf8_valid(error.field, 63));
    assert(strcmp(error.message, "no such field") == 0);
    rp_field_error_set(&error, "x", 1, "not_a_code_we_know");
    assert(strcmp(error.message, "the value is not valid for this field") == 0);
}

static void s_test_versions(void)
{
    rp_record_t r;
    rp_record_init(&r, s_test_fields, T_FIELDS);
    rp_event_t event = {.time = "2026-11-23T08:00:00.000Z", .time_len = 24};
    assert(rp_record_version(&r) == 0);
    rp_record_stamp(&r, &event); //  version 1: created now
    assert(rp_record_version(&r) == 1 && rp_obj_streq(&r.values[T_CREATED_AT], event.time));
    assert(rp_obj_streq(&r.values[T_UPDATED_AT], event.time));
    rp_event_t later = {.time = "2026-11-24T08:00:00.000Z", .time_len = 24};
    rp_record_stamp(&r, &later);
    assert(rp_record_version(&r) == 2 && rp_obj_streq(&r.values[T_CREATED_AT], event.time));
    assert(rp_obj_streq(&r.values[T_UPDATED_AT], later.time));
    rp_event_t untimed = {0};
    rp_record_stamp(&r, &untimed);
    assert(rp_record_version(&r) == 3 && rp_obj_streq(&r.values[T_UPDATED_AT], ""));

    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_u64(&packer.pk, "expected_version", 3);
    rp_pack_kv_u64(&packer.pk, "other", 2);
    rp_doc_t *doc = s_test_doc(&packer);
    const msgpack_object *data = rp_doc_root(doc);
    assert(!rp_record_stale(&r, data));
    rp_record_set_u64(&r, T_VERSION, 4);
    assert(rp_record_stale(&r, data));
    assert(!rp_record_stale(&r, rp_obj_get(data, "other"))); //  no expected_version: never stale
    rp_record_set_bool(&r, T_LIMIT, true);
    assert(rp_record_bool(&r, T_LIMIT) && !rp_record_bool(&r, T_NAME));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);

    //  A table without version fields: stamping changes nothing.
    static const rp_field_t bare[] = {{.name = "id", .kind = RP_FIELD_SYSTEM}};
    rp_record_t b;
    rp_record_init(&b, bare, 1);
    rp_record_stamp(&b, &event);
    assert(rp_record_version(&b) == 0 && !b.given[0]);
    rp_record_reset(&b);
    rp_record_reset(&r);
}

//  The number kinds: money (two decimals), bounded integers, and a
//  field with its own check.
static const char *s_test_pair(const msgpack_object *o)
{
    return rp_obj_is_array(o) && o->via.array.size == 2 ? NULL : "invalid";
}

static void s_test_numbers(void)
{
    static const rp_field_t fields[] = {
        {.name = "price", .kind = RP_FIELD_MONEY},
        {.name = "share", .kind = RP_FIELD_INT, .max = 100},
        {.name = "pair", .kind = RP_FIELD_VALUE, .check = s_test_pair}};
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_t r;
    rp_record_init(&r, fields, 3);
    rp_field_error_t errors[4];
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_cstr(&packer.pk, "price");
    msgpack_pack_double(&packer.pk, 12.5);
    rp_pack_kv_u64(&packer.pk, "share", 100);
    rp_pack_cstr(&packer.pk, "pair");
    msgpack_pack_array(&packer.pk, 2);
    msgpack_pack_int(&packer.pk, 1);
    msgpack_pack_int(&packer.pk, 2);
    rp_doc_t *doc = s_test_doc(&packer);
    assert(rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors, 4) == 0);
    assert(r.values[0].via.f64 == 12.5 && r.values[1].via.u64 == 100);
    assert(r.values[2].via.array.size == 2);
    rp_doc_destroy(&doc);
    rp_record_reset(&r);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_cstr(&packer.pk, "price");
    msgpack_pack_double(&packer.pk, 0.125);
    rp_pack_kv_u64(&packer.pk, "share", 101);
    rp_pack_kv_cstr(&packer.pk, "pair", "x");
    doc = s_test_doc(&packer);
    assert(rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors, 4) == 3);
    s_test_errors(errors, 3,
                  (const char *const[][2]){
                      {"price", "invalid"}, {"share", "out_of_range"}, {"pair", "invalid"}});
    rp_doc_destroy(&doc);
    rp_record_reset(&r);
    rp_packer_destroy(&packer);
}

void rp_record_test(void)
{
    s_test_numbers();
    assert(rp_fields_index(s_test_fields, T_FIELDS, "custom", 6) == T_CUSTOM);
    assert(rp_fields_index(s_test_fields, T_FIELDS, "nope", 4) == -1);
    s_test_kinds_valid();
    s_test_kinds_invalid();
    s_test_versions();
}
