/*  record.c — see record.h. Static names carry a rec_ prefix: unit tests
    compile the customers sources as one translation unit. */
#include "record.h"
#include <rapport/normalize.h>

#include <rapport/envelope.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void record_init(record_t *self, const record_field_t *fields, int count)
{
    assert(count <= RECORD_MAX_FIELDS);
    memset(self, 0, sizeof *self);
    self->fields = fields;
    self->count = count;
    for (int i = 0; i < count; i++)
        self->values[i].type = MSGPACK_OBJECT_NIL;
}

void record_reset(record_t *self)
{
    for (int i = 0; i < self->count; i++)
        free(self->owned[i]);
    record_init(self, self->fields, self->count);
}

int record_index(const record_t *self, const char *name, size_t len)
{
    for (int i = 0; i < self->count; i++)
        if (strlen(self->fields[i].name) == len && memcmp(self->fields[i].name, name, len) == 0)
            return i;
    return -1;
}

static void s_rec_unown(record_t *self, int field)
{
    free(self->owned[field]);
    self->owned[field] = NULL;
}

void record_set_obj(record_t *self, int field, const msgpack_object *value)
{
    assert(field >= 0 && field < self->count);
    s_rec_unown(self, field);
    self->values[field] = *value;
    self->given[field] = true;
}

void record_set_str(record_t *self, int field, const char *str, size_t len)
{
    assert(field >= 0 && field < self->count);
    char *copy = malloc(len + 1);
    assert(copy);
    memcpy(copy, str, len);
    copy[len] = 0;
    s_rec_unown(self, field);
    self->owned[field] = copy;
    self->values[field].type = MSGPACK_OBJECT_STR;
    self->values[field].via.str.ptr = copy;
    self->values[field].via.str.size = (uint32_t)len;
    self->given[field] = true;
}

void record_set_u64(record_t *self, int field, uint64_t value)
{
    assert(field >= 0 && field < self->count);
    s_rec_unown(self, field);
    self->values[field].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    self->values[field].via.u64 = value;
    self->given[field] = true;
}

void record_from_map(record_t *self, const msgpack_object *map)
{
    if (!rp_obj_is_map(map))
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        int field = kv->key.type == MSGPACK_OBJECT_STR
                        ? record_index(self, kv->key.via.str.ptr, kv->key.via.str.size)
                        : -1;
        if (field >= 0)
            record_set_obj(self, field, &kv->val);
    }
}

uint64_t record_version(const record_t *self, int field)
{
    uint64_t version = 0;
    rp_obj_u64(&self->values[field], &version);
    return version;
}

bool record_version_expected(const record_t *self, int field, const msgpack_object *data)
{
    uint64_t expected;
    return !rp_obj_u64(rp_obj_get(data, "expected_version"), &expected) ||
           expected == record_version(self, field);
}

void record_stamp(record_t *self, int version_field, int updated_field, const rp_event_t *event)
{
    record_set_u64(self, version_field, record_version(self, version_field) + 1);
    record_set_str(self, updated_field, event->time ? event->time : "",
                   event->time ? event->time_len : 0);
}

bool record_str(const record_t *self, int field, const char **str, size_t *len)
{
    return field >= 0 && field < self->count && rp_obj_str(&self->values[field], str, len);
}

void record_overlay(record_t *self, const record_t *changes)
{
    for (int i = 0; i < self->count && i < changes->count; i++)
        if (changes->given[i])
            record_set_obj(self, i, &changes->values[i]);
}

void record_pack(const record_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, (size_t)self->count);
    for (int i = 0; i < self->count; i++)
        rp_pack_kv_obj(pk, self->fields[i].name, &self->values[i]);
}

void record_pack_given(const record_t *self, msgpack_packer *pk)
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
//  Validation

static const char *s_rec_enum_check(const char *str, size_t len, const char *const *values)
{
    for (; values && *values; values++)
        if (strlen(*values) == len && memcmp(*values, str, len) == 0)
            return NULL;
    return "invalid";
}

//  A list of phone numbers, each normalized: one owned block holds the
//  array of objects and the strings they point to.
static const char *s_rec_phones(record_t *self, int field, const msgpack_object *value, size_t max,
                                const char *region)
{
    if (!rp_obj_is_array(value))
        return "type";
    uint32_t count = value->via.array.size;
    if (count > max)
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
    record_set_obj(self, field, &list);
    self->owned[field] = items;
    return NULL;
}

//  Check one value; on success store it (normalized) in self.
static const char *s_rec_check(record_t *self, int field, const msgpack_object *value,
                               const char *region)
{
    const record_field_t *def = &self->fields[field];
    if (value->type == MSGPACK_OBJECT_NIL) {
        if (def->required)
            return "required";
        record_set_obj(self, field, value); //  clears the field
        return NULL;
    }
    if (def->kind == RECORD_PHONES)
        return s_rec_phones(self, field, value, def->max, region);
    const char *str;
    size_t len;
    if (!rp_obj_str(value, &str, &len))
        return "type";
    const char *err = NULL;
    char out[RP_NORMALIZE_EMAIL_MAX];
    switch (def->kind) {
    case RECORD_TEXT:
    case RECORD_NOTE:
        err = rp_normalize_text(str, len, def->max, def->kind == RECORD_NOTE ? RP_TEXT_NOTE : 0);
        break;
    case RECORD_ENUM:
        err = s_rec_enum_check(str, len, def->values);
        break;
    case RECORD_EMAIL:
        err = rp_normalize_email(str, len, out);
        break;
    case RECORD_DATE:
        err = rp_normalize_date(str, len, out);
        break;
    case RECORD_TIME:
        err = rp_normalize_time(str, len, out);
        break;
    default:
        err = "read_only";
    }
    if (err)
        return err;
    if (def->kind == RECORD_EMAIL || def->kind == RECORD_DATE || def->kind == RECORD_TIME)
        record_set_str(self, field, out, strlen(out));
    else
        record_set_obj(self, field, value);
    return NULL;
}

static bool s_rec_skipped(const char *const *skip, const char *key, size_t len)
{
    for (; skip && *skip; skip++)
        if (strlen(*skip) == len && memcmp(*skip, key, len) == 0)
            return true;
    return false;
}

static int s_rec_error(customer_error_t *errors, int count, int max, const char *field, size_t len,
                       const char *code)
{
    if (count < max)
        customer_error_set(&errors[count], field, len, code);
    return count + 1;
}

int record_validate(record_t *self, const msgpack_object *args, const char *const *skip,
                    bool create, const char *region, customer_error_t *errors, int max)
{
    int count = 0;
    bool seen[RECORD_MAX_FIELDS] = {false}; //  named once is enough, valid or not
    for (uint32_t i = 0; rp_obj_is_map(args) && i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        const char *key;
        size_t len;
        if (!rp_obj_str(&kv->key, &key, &len) || s_rec_skipped(skip, key, len))
            continue;
        int field = record_index(self, key, len);
        if (field >= 0)
            seen[field] = true;
        const char *err = field < 0                                   ? "unknown"
                          : self->fields[field].kind == RECORD_SYSTEM ? "read_only"
                                                                      : NULL;
        if (!err)
            err = s_rec_check(self, field, &kv->val, region);
        if (err)
            count = s_rec_error(errors, count, max, key, len, err);
    }
    for (int field = 0; create && field < self->count; field++)
        if (self->fields[field].required && !seen[field])
            count = s_rec_error(errors, count, max, self->fields[field].name,
                                strlen(self->fields[field].name), "required");
    return count < max ? count : max;
}

//  ---------------------------------------------------------------------

void record_test(void)
{
    static const char *const kinds[] = {"a", "b", NULL};
    static const record_field_t fields[] = {
        {"id", RECORD_SYSTEM, 0, NULL, false},     {"name", RECORD_TEXT, 6, NULL, true},
        {"note", RECORD_NOTE, 100, NULL, false},   {"kind", RECORD_ENUM, 0, kinds, false},
        {"phones", RECORD_PHONES, 2, NULL, false}, {"email", RECORD_EMAIL, 0, NULL, false},
        {"on", RECORD_DATE, 0, NULL, false},       {"at", RECORD_TIME, 0, NULL, false},
    };
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 7);
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
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    record_t r;
    record_init(&r, fields, 8);
    customer_error_t errors[8];
    assert(record_validate(&r, rp_doc_root(doc), NULL, true, "CN", errors, 8) == 0);
    const char *str;
    size_t len;
    const msgpack_object *phones = &r.values[4];
    assert(phones->type == MSGPACK_OBJECT_ARRAY && phones->via.array.size == 2);
    assert(rp_obj_streq(&phones->via.array.ptr[0], "+8613800138000"));
    assert(rp_obj_streq(&phones->via.array.ptr[1], "+14155550100"));
    assert(record_str(&r, 5, &str, &len) && len == 19 &&
           memcmp(str, "wang.wu@example.com", 19) == 0);
    assert(record_str(&r, 6, &str, &len) && memcmp(str, "1990-05-20", 10) == 0);
    assert(record_str(&r, 7, &str, &len) && memcmp(str, "2026-11-23T08:00:00.000Z", 24) == 0);

    //  Packed, decoded, overlaid with changes: the stored form round-trips.
    rp_packer_t stored;
    rp_packer_init(&stored);
    record_pack(&r, &stored.pk);
    rp_doc_t *doc2 = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc2);
    record_t back;
    record_init(&back, fields, 8);
    record_from_map(&back, rp_doc_root(doc2));
    assert(back.values[0].type == MSGPACK_OBJECT_NIL && back.values[4].via.array.size == 2);
    record_t changes;
    record_init(&changes, fields, 8);
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "phones");
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_cstr(&packer.pk, "kind", "a");
    rp_doc_t *doc3 = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(record_validate(&changes, rp_doc_root(doc3), NULL, false, NULL, errors, 8) == 0);
    record_overlay(&back, &changes);
    assert(back.values[4].type == MSGPACK_OBJECT_NIL && rp_obj_streq(&back.values[3], "a"));
    assert(record_str(&back, 1, &str, &len) && len == 6);
    record_reset(&changes);
    record_reset(&back);
    record_reset(&r);
    rp_doc_destroy(&doc3);
    rp_doc_destroy(&doc2);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&stored);

    //  Every kind of error, each named; on create, the required name.
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 9);
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
    rp_pack_cstr(&packer.pk, "name");
    msgpack_pack_nil(&packer.pk);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    record_init(&r, fields, 8);
    int n = record_validate(&r, rp_doc_root(doc), NULL, true, "CN", errors, 8);
    assert(n == 8);
    static const char *const want[][2] = {
        {"note", "invalid"}, {"kind", "invalid"}, {"phones", "too_many"}, {"email", "invalid"},
        {"on", "invalid"},   {"at", "type"},      {"id", "read_only"},    {"colour", "unknown"}};
    for (int i = 0; i < 8; i++)
        assert(strcmp(errors[i].field, want[i][0]) == 0 && strcmp(errors[i].code, want[i][1]) == 0);
    record_reset(&r);
    rp_doc_destroy(&doc);
    //  A too-long name; a missing one on create.
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "name", "王五王五");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(record_validate(&r, rp_doc_root(doc), NULL, true, "CN", errors, 8) == 1);
    assert(strcmp(errors[0].code, "too_long") == 0);
    record_reset(&r);
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 0);
    rp_doc_destroy(&doc);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(record_validate(&r, rp_doc_root(doc), NULL, true, "CN", errors, 8) == 1);
    assert(strcmp(errors[0].field, "name") == 0 && strcmp(errors[0].code, "required") == 0);
    assert(record_validate(&r, rp_doc_root(doc), NULL, false, "CN", errors, 8) == 0);
    record_reset(&r);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
