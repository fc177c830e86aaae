/*  customer.c — the customer record's field table, its in-memory form,
    the checks every client value passes before it can reach the journal,
    and the reply that reports the ones that fail. */
#include "customer.h"
#include <rapport/normalize.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    KIND_SYSTEM, //  set by the service only
    KIND_TEXT,   //  UTF-8 string, 1..max bytes, no control characters
    KIND_CODE,   //  1..max of [A-Za-z0-9_-]
    KIND_ENUM,
    KIND_PHONE,
    KIND_EMAIL,
    KIND_DATE,
    KIND_TAGS,   //  array of up to 50 texts of up to max bytes
    KIND_CUSTOM, //  map of up to 50 keys (1..64 bytes) to str/int/float/bool/nil
    KIND_AMOUNT  //  a number ≥ 0
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t max;
    const char *const *values; //  KIND_ENUM
} field_def_t;

static const char *const s_grades[] = {"A", "B", "C", "D", "E", NULL};
static const char *const s_tiers[] = {"lead", "prospect", "transacting", "key", "strategic", NULL};

#define MAX_TAGS   50
#define MAX_CUSTOM 50

static const field_def_t s_fields[CUSTOMER_FIELDS] = {
    [CUSTOMER_ID] = {"id", KIND_SYSTEM, 0, NULL},
    [CUSTOMER_CODE] = {"code", KIND_CODE, 32, NULL},
    [CUSTOMER_NAME] = {"name", KIND_TEXT, 200, NULL},
    [CUSTOMER_SHORT_NAME] = {"short_name", KIND_TEXT, 100, NULL},
    [CUSTOMER_TYPE] = {"type", KIND_TEXT, 50, NULL},
    [CUSTOMER_GRADE] = {"grade", KIND_ENUM, 0, s_grades},
    [CUSTOMER_TIER] = {"tier", KIND_ENUM, 0, s_tiers},
    [CUSTOMER_NATURE] = {"nature", KIND_TEXT, 50, NULL},
    [CUSTOMER_OWNER] = {"owner", KIND_TEXT, 100, NULL},
    [CUSTOMER_TEAM] = {"team", KIND_TEXT, 100, NULL},
    [CUSTOMER_PHONE] = {"phone", KIND_PHONE, 0, NULL},
    [CUSTOMER_MOBILE] = {"mobile", KIND_PHONE, 0, NULL},
    [CUSTOMER_FAX] = {"fax", KIND_PHONE, 0, NULL},
    [CUSTOMER_EMAIL] = {"email", KIND_EMAIL, 0, NULL},
    [CUSTOMER_WEBSITE] = {"website", KIND_TEXT, 200, NULL},
    [CUSTOMER_COUNTRY] = {"country", KIND_TEXT, 100, NULL},
    [CUSTOMER_REGION] = {"region", KIND_TEXT, 100, NULL},
    [CUSTOMER_ADDRESS] = {"address", KIND_TEXT, 500, NULL},
    [CUSTOMER_POSTCODE] = {"postcode", KIND_TEXT, 20, NULL},
    [CUSTOMER_TAX_ID] = {"tax_id", KIND_CODE, 50, NULL},
    [CUSTOMER_INDUSTRY] = {"industry", KIND_TEXT, 100, NULL},
    [CUSTOMER_REGISTERED_ON] = {"registered_on", KIND_DATE, 0, NULL},
    [CUSTOMER_TAGS] = {"tags", KIND_TAGS, 50, NULL},
    [CUSTOMER_CUSTOM] = {"custom", KIND_CUSTOM, 500, NULL},
    [CUSTOMER_CREDIT_LIMIT] = {"credit_limit", KIND_AMOUNT, 0, NULL},
    [CUSTOMER_VERSION] = {"version", KIND_SYSTEM, 0, NULL},
    [CUSTOMER_CREATED_AT] = {"created_at", KIND_SYSTEM, 0, NULL},
    [CUSTOMER_UPDATED_AT] = {"updated_at", KIND_SYSTEM, 0, NULL},
    [CUSTOMER_ARCHIVED] = {"archived", KIND_SYSTEM, 0, NULL},
    [CUSTOMER_LAST_CONTACTED_AT] = {"last_contacted_at", KIND_SYSTEM, 0, NULL},
};

const char *customer_field_name(int field)
{
    assert(field >= 0 && field < CUSTOMER_FIELDS);
    return s_fields[field].name;
}

int customer_field_index(const char *name, size_t len)
{
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        if (strlen(s_fields[i].name) == len && memcmp(s_fields[i].name, name, len) == 0)
            return i;
    return -1;
}

bool customer_field_writable(int field)
{
    return field >= 0 && field < CUSTOMER_FIELDS && s_fields[field].kind != KIND_SYSTEM;
}

void customer_init(customer_t *self)
{
    memset(self, 0, sizeof *self);
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        self->values[i].type = MSGPACK_OBJECT_NIL;
}

void customer_reset(customer_t *self)
{
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        free(self->owned[i]);
    customer_init(self);
}

static void s_unown(customer_t *self, int field)
{
    free(self->owned[field]);
    self->owned[field] = NULL;
}

void customer_from_map(customer_t *self, const msgpack_object *map)
{
    if (!rp_obj_is_map(map))
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        int field = customer_field_index(kv->key.via.str.ptr, kv->key.via.str.size);
        if (field >= 0)
            customer_set_obj(self, field, &kv->val);
    }
}

void customer_set_obj(customer_t *self, int field, const msgpack_object *value)
{
    s_unown(self, field);
    self->values[field] = *value;
    self->given[field] = true;
}

void customer_set_str(customer_t *self, int field, const char *str, size_t len)
{
    char *copy = malloc(len + 1);
    assert(copy);
    memcpy(copy, str, len);
    copy[len] = 0;
    s_unown(self, field);
    self->owned[field] = copy;
    self->values[field].type = MSGPACK_OBJECT_STR;
    self->values[field].via.str.ptr = copy;
    self->values[field].via.str.size = (uint32_t)len;
    self->given[field] = true;
}

void customer_set_u64(customer_t *self, int field, uint64_t value)
{
    s_unown(self, field);
    self->values[field].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    self->values[field].via.u64 = value;
    self->given[field] = true;
}

void customer_set_bool(customer_t *self, int field, bool value)
{
    s_unown(self, field);
    self->values[field].type = MSGPACK_OBJECT_BOOLEAN;
    self->values[field].via.boolean = value;
    self->given[field] = true;
}

uint64_t customer_version(const customer_t *self)
{
    uint64_t version = 0;
    rp_obj_u64(&self->values[CUSTOMER_VERSION], &version);
    return version;
}

bool customer_version_expected(const customer_t *self, const msgpack_object *data)
{
    uint64_t expected;
    return !rp_obj_u64(rp_obj_get(data, "expected_version"), &expected) ||
           expected == customer_version(self);
}

void customer_stamp(customer_t *self, const rp_event_t *event)
{
    customer_set_u64(self, CUSTOMER_VERSION, customer_version(self) + 1);
    customer_set_str(self, CUSTOMER_UPDATED_AT, event->time ? event->time : "",
                     event->time ? event->time_len : 0);
}

bool customer_str(const customer_t *self, int field, const char **str, size_t *len)
{
    return rp_obj_str(&self->values[field], str, len);
}

void customer_pack(const customer_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, CUSTOMER_FIELDS);
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        rp_pack_kv_obj(pk, s_fields[i].name, &self->values[i]);
}

void customer_pack_given(const customer_t *self, msgpack_packer *pk)
{
    uint32_t count = 0;
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        count += self->given[i];
    msgpack_pack_map(pk, count);
    for (int i = 0; i < CUSTOMER_FIELDS; i++)
        if (self->given[i])
            rp_pack_kv_obj(pk, s_fields[i].name, &self->values[i]);
}

//  ---------------------------------------------------------------------
//  Validation

static const char *s_tags_check(const msgpack_object *o, size_t max)
{
    if (!rp_obj_is_array(o))
        return "type";
    if (o->via.array.size > MAX_TAGS)
        return "too_many";
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const char *str;
        size_t len;
        if (!rp_obj_str(&o->via.array.ptr[i], &str, &len))
            return "type";
        const char *err = rp_normalize_text(str, len, max, 0);
        if (err)
            return err;
    }
    return NULL;
}

static const char *s_custom_check(const msgpack_object *o, size_t max)
{
    if (!rp_obj_is_map(o))
        return "type";
    if (o->via.map.size > MAX_CUSTOM)
        return "too_many";
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object *key = &o->via.map.ptr[i].key, *val = &o->via.map.ptr[i].val;
        const char *str;
        size_t len;
        if (!rp_obj_str(key, &str, &len) || rp_normalize_code(str, len, 64))
            return "invalid_key";
        if (val->type == MSGPACK_OBJECT_STR) {
            if (rp_normalize_text(val->via.str.ptr, val->via.str.size, max, 0) &&
                val->via.str.size > 0) //  an empty value is allowed here
                return "invalid";
        } else if (val->type != MSGPACK_OBJECT_NIL && val->type != MSGPACK_OBJECT_BOOLEAN &&
                   val->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
                   val->type != MSGPACK_OBJECT_NEGATIVE_INTEGER &&
                   val->type != MSGPACK_OBJECT_FLOAT64 && val->type != MSGPACK_OBJECT_FLOAT32)
            return "type";
    }
    return NULL;
}

static const char *s_amount_check(const msgpack_object *o)
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

static const char *s_enum_check(const char *str, size_t len, const char *const *values)
{
    for (; *values; values++)
        if (strlen(*values) == len && memcmp(*values, str, len) == 0)
            return NULL;
    return "invalid";
}

static const char *s_message(const char *code)
{
    if (strcmp(code, "required") == 0)
        return "a value is required";
    if (strcmp(code, "too_long") == 0)
        return "the value is too long";
    if (strcmp(code, "too_many") == 0)
        return "too many items";
    if (strcmp(code, "type") == 0)
        return "the value has the wrong type";
    if (strcmp(code, "unknown") == 0)
        return "no such field";
    if (strcmp(code, "read_only") == 0)
        return "the field is set by the service";
    if (strcmp(code, "out_of_range") == 0)
        return "the number is out of range";
    if (strcmp(code, "invalid_key") == 0)
        return "keys are 1..64 of [A-Za-z0-9_-]";
    return "the value is not valid for this field";
}

//  Check one value; on success store it (normalized) in self.
static const char *s_field_check(customer_t *self, int field, const msgpack_object *value,
                                 const char *region)
{
    const field_def_t *def = &s_fields[field];
    if (value->type == MSGPACK_OBJECT_NIL) {
        customer_set_obj(self, field, value); //  clears the field
        return NULL;
    }
    if (def->kind == KIND_TAGS || def->kind == KIND_CUSTOM || def->kind == KIND_AMOUNT) {
        const char *err = def->kind == KIND_TAGS     ? s_tags_check(value, def->max)
                          : def->kind == KIND_CUSTOM ? s_custom_check(value, def->max)
                                                     : s_amount_check(value);
        if (!err)
            customer_set_obj(self, field, value);
        return err;
    }
    const char *str;
    size_t len;
    if (!rp_obj_str(value, &str, &len))
        return "type";
    const char *err = NULL;
    char out[RP_NORMALIZE_EMAIL_MAX];
    switch (def->kind) {
    case KIND_TEXT:
        err = rp_normalize_text(str, len, def->max, 0);
        break;
    case KIND_CODE:
        err = rp_normalize_code(str, len, def->max);
        break;
    case KIND_ENUM:
        err = s_enum_check(str, len, def->values);
        break;
    case KIND_PHONE:
        err = rp_normalize_phone(str, len, region, out);
        break;
    case KIND_EMAIL:
        err = rp_normalize_email(str, len, out);
        break;
    case KIND_DATE:
        err = rp_normalize_date(str, len, out);
        break;
    default:
        err = "read_only";
    }
    if (err)
        return err;
    if (def->kind == KIND_PHONE || def->kind == KIND_EMAIL || def->kind == KIND_DATE)
        customer_set_str(self, field, out, strlen(out));
    else
        customer_set_obj(self, field, value);
    return NULL;
}

static bool s_skipped(const char *const *skip, const char *key, size_t len)
{
    for (; skip && *skip; skip++)
        if (strlen(*skip) == len && memcmp(*skip, key, len) == 0)
            return true;
    return false;
}

void customer_error_set(customer_error_t *error, const char *field, size_t len, const char *code)
{
    len = rp_normalize_cut(field, len, CUSTOMER_MAX_FIELD);
    memcpy(error->field, field, len);
    error->field[len] = 0;
    error->code = code;
    error->message = s_message(code);
}

static int s_error(customer_error_t *errors, int count, int max, const char *field, size_t len,
                   const char *code)
{
    if (count < max)
        customer_error_set(&errors[count], field, len, code);
    return count + 1;
}

static int s_error_field(customer_error_t *errors, int count, int max, int field, const char *code)
{
    return s_error(errors, count, max, s_fields[field].name, strlen(s_fields[field].name), code);
}

int customer_validate(customer_t *self, const msgpack_object *args, const char *const *skip,
                      bool create, const char *region, customer_error_t *errors, int max_errors)
{
    int count = 0;
    for (uint32_t i = 0; args && i < args->via.map.size; i++) {
        const msgpack_object_kv *kv = &args->via.map.ptr[i];
        const char *key;
        size_t len;
        if (!rp_obj_str(&kv->key, &key, &len) || s_skipped(skip, key, len))
            continue;
        int field = customer_field_index(key, len);
        if (field < 0) {
            count = s_error(errors, count, max_errors, key, len, "unknown");
            continue;
        }
        if (!customer_field_writable(field)) {
            count = s_error_field(errors, count, max_errors, field, "read_only");
            continue;
        }
        const char *err = s_field_check(self, field, &kv->val, region);
        if (!err && field == CUSTOMER_NAME && kv->val.type == MSGPACK_OBJECT_NIL)
            err = "required";
        if (!err && field == CUSTOMER_CODE && kv->val.type == MSGPACK_OBJECT_NIL && !create)
            err = "required"; //  a code, once given, stays: it is what people quote
        if (err)
            count = s_error_field(errors, count, max_errors, field, err);
    }
    if (create && !self->given[CUSTOMER_NAME])
        count = s_error_field(errors, count, max_errors, CUSTOMER_NAME, "required");
    return count < max_errors ? count : max_errors;
}

//  ---------------------------------------------------------------------

void customer_test(void)
{
    assert(customer_field_index("short_name", 10) == CUSTOMER_SHORT_NAME);
    assert(customer_field_index("nope", 4) == -1);
    assert(!customer_field_writable(CUSTOMER_VERSION));
    assert(customer_field_writable(CUSTOMER_TAX_ID));

    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 6);
    rp_pack_kv_cstr(&packer.pk, "name", "上海某某贸易有限公司");
    rp_pack_kv_cstr(&packer.pk, "mobile", "138 0013 8000");
    rp_pack_kv_cstr(&packer.pk, "email", "Sales@Example.CN");
    rp_pack_kv_cstr(&packer.pk, "grade", "F");
    rp_pack_kv_cstr(&packer.pk, "version", "x");
    rp_pack_kv_u64(&packer.pk, "id", 1);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    customer_t c;
    customer_init(&c);
    customer_error_t errors[CUSTOMER_MAX_ERRORS];
    const char *skip[] = {"id", NULL};
    int n = customer_validate(&c, rp_doc_root(doc), skip, true, "CN", errors, CUSTOMER_MAX_ERRORS);
    assert(n == 2);
    assert(strcmp(errors[0].field, "grade") == 0 && strcmp(errors[0].code, "invalid") == 0);
    assert(strcmp(errors[1].field, "version") == 0 && strcmp(errors[1].code, "read_only") == 0);
    const char *str;
    size_t len;
    assert(customer_str(&c, CUSTOMER_MOBILE, &str, &len) && len == 14 &&
           memcmp(str, "+8613800138000", 14) == 0);
    assert(customer_str(&c, CUSTOMER_EMAIL, &str, &len) &&
           memcmp(str, "sales@example.cn", 16) == 0);
    assert(c.given[CUSTOMER_NAME] && !c.given[CUSTOMER_PHONE]);

    //  Round trip through the stored form.
    rp_packer_t stored;
    rp_packer_init(&stored);
    customer_pack(&c, &stored.pk);
    rp_doc_t *doc2 = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc2);
    customer_t d;
    customer_init(&d);
    customer_from_map(&d, rp_doc_root(doc2));
    assert(customer_str(&d, CUSTOMER_NAME, &str, &len) && len == strlen("上海某某贸易有限公司"));
    assert(d.values[CUSTOMER_PHONE].type == MSGPACK_OBJECT_NIL);
    customer_reset(&d);
    customer_reset(&c);
    rp_doc_destroy(&doc2);
    rp_packer_destroy(&stored);

    //  An update without a name is fine; nil clears, except the name.
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "name");
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_cstr(&packer.pk, "tax_id", "91310000 X");
    rp_doc_destroy(&doc);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    n = customer_validate(&c, rp_doc_root(doc), NULL, false, "CN", errors, CUSTOMER_MAX_ERRORS);
    assert(n == 2 && strcmp(errors[0].code, "required") == 0);
    assert(strcmp(errors[1].field, "tax_id") == 0);
    customer_reset(&c);

    //  Unknown keys are named, cut on a character boundary.
    customer_error_t error;
    const char *long_key =
        "字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段"
        "字段字段";
    customer_error_set(&error, long_key, strlen(long_key), "unknown");
    assert(strlen(error.field) == 63 && rp_utf8_valid(error.field, 63));
    assert(strcmp(error.message, "no such field") == 0);
    customer_reset(&c);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
