/*  integrator.c — integrator event types and their data checks (see
    integrator.h). Each type is a record field table checked with
    rp_record_validate; the customer reference, a map, is checked here. */
#include <rapport/integrator.h>
#include <rapport/money.h>
#include <rapport/normalize.h>
#include <rapport/record.h>

#include <assert.h>
#include <stdio.h>
#include <string.h>

const char *const rp_integrator_types[] = {"order.placed",  "order.cancelled", "payment.received",
                                           "lead.captured", "activity.logged", NULL};

//  currency: an ISO 4217 code, kept as given.
static const char *s_currency(const char *in, size_t len, char *out)
{
    if (!rp_money_currency_valid(in, len))
        return "invalid";
    memcpy(out, in, len);
    out[len] = 0;
    return NULL;
}

static const char *const s_kinds[] = {"call", "email", "visit", "meeting", "note", NULL};

#define REQ RP_FIELD_REQUIRED
#define T   RP_INTEGRATOR_MAX_TEXT
#define N   RP_INTEGRATOR_MAX_NOTE

static const rp_field_t s_order_placed[] = {
    {.name = "order_no", .kind = RP_FIELD_TEXT, .max = RP_INTEGRATOR_MAX_ORDER_NO, .flags = REQ},
    {.name = "amount", .kind = RP_FIELD_MONEY, .flags = REQ},
    {.name = "currency", .kind = RP_FIELD_CODE, .max = 3, .flags = REQ, .normalize = s_currency},
    {.name = "quantity", .kind = RP_FIELD_AMOUNT, .flags = REQ},
    {.name = "product", .kind = RP_FIELD_TEXT, .max = T, .flags = REQ},
    {.name = "spec", .kind = RP_FIELD_TEXT, .max = T},
    {.name = "placed_at", .kind = RP_FIELD_TIME, .flags = REQ},
    {.name = "cost", .kind = RP_FIELD_MONEY},
};

static const rp_field_t s_order_cancelled[] = {
    {.name = "order_no", .kind = RP_FIELD_TEXT, .max = RP_INTEGRATOR_MAX_ORDER_NO, .flags = REQ},
    {.name = "cancelled_at", .kind = RP_FIELD_TIME, .flags = REQ},
    {.name = "reason", .kind = RP_FIELD_NOTE, .max = N},
};

static const rp_field_t s_payment_received[] = {
    {.name = "order_no", .kind = RP_FIELD_TEXT, .max = RP_INTEGRATOR_MAX_ORDER_NO},
    {.name = "amount", .kind = RP_FIELD_MONEY, .flags = REQ},
    {.name = "currency", .kind = RP_FIELD_CODE, .max = 3, .flags = REQ, .normalize = s_currency},
    {.name = "received_at", .kind = RP_FIELD_TIME, .flags = REQ},
};

static const rp_field_t s_lead_captured[] = {
    {.name = "name", .kind = RP_FIELD_TEXT, .max = T, .flags = REQ},
    {.name = "company", .kind = RP_FIELD_TEXT, .max = T},
    {.name = "phone", .kind = RP_FIELD_TEXT, .max = RP_INTEGRATOR_MAX_PHONE},
    {.name = "email", .kind = RP_FIELD_EMAIL},
    {.name = "source", .kind = RP_FIELD_TEXT, .max = T, .flags = REQ},
    {.name = "campaign", .kind = RP_FIELD_TEXT, .max = T},
    {.name = "note", .kind = RP_FIELD_NOTE, .max = N},
    {.name = "captured_at", .kind = RP_FIELD_TIME, .flags = REQ},
};

static const rp_field_t s_activity_logged[] = {
    {.name = "phone", .kind = RP_FIELD_TEXT, .max = RP_INTEGRATOR_MAX_PHONE},
    {.name = "email", .kind = RP_FIELD_EMAIL},
    {.name = "kind", .kind = RP_FIELD_ENUM, .values = s_kinds, .flags = REQ},
    {.name = "at", .kind = RP_FIELD_TIME, .flags = REQ},
    {.name = "summary", .kind = RP_FIELD_NOTE, .max = N, .flags = REQ},
    {.name = "by", .kind = RP_FIELD_TEXT, .max = T},
    {.name = "duration_s", .kind = RP_FIELD_INT, .max = RP_INTEGRATOR_MAX_DURATION},
};

#undef REQ
#undef T
#undef N

typedef enum { CUSTOMER_NONE, CUSTOMER_REQUIRED, CUSTOMER_ALTERNATIVE } customer_rule_t;

typedef struct {
    const char *type;
    const rp_field_t *fields;
    int count;
    customer_rule_t customer; //  how data.customer is used
} schema_t;

#define SCHEMA(type, table, rule)                                                                  \
    {                                                                                              \
        type, table, (int)(sizeof table / sizeof table[0]), rule                                   \
    }
static const schema_t s_schemas[] = {
    SCHEMA("order.placed", s_order_placed, CUSTOMER_REQUIRED),
    SCHEMA("order.cancelled", s_order_cancelled, CUSTOMER_NONE),
    SCHEMA("payment.received", s_payment_received, CUSTOMER_REQUIRED),
    SCHEMA("lead.captured", s_lead_captured, CUSTOMER_NONE),
    SCHEMA("activity.logged", s_activity_logged, CUSTOMER_ALTERNATIVE),
};
#undef SCHEMA

static const schema_t *s_schema(const char *type, size_t len)
{
    for (size_t i = 0; i < sizeof s_schemas / sizeof s_schemas[0]; i++)
        if (strlen(s_schemas[i].type) == len && memcmp(s_schemas[i].type, type, len) == 0)
            return &s_schemas[i];
    return NULL;
}

bool rp_integrator_known(const char *type, size_t len)
{
    return type && s_schema(type, len) != NULL;
}

//  ---------------------------------------------------------------------
//  Errors

typedef struct {
    rp_field_error_t *errors;
    int max, count;
} errors_t;

//  One error on "data.<name>[.<sub>]"; message NULL: the code's own.
static void s_error(errors_t *self, const char *name, size_t len, const char *sub, const char *code,
                    const char *message)
{
    if (self->count < self->max) {
        char field[RP_MAX_FIELD * 2 + 16];
        int n = snprintf(field, sizeof field, "data%s%.*s%s%s", name ? "." : "",
                         name ? (int)len : 0, name ? name : "", sub ? "." : "", sub ? sub : "");
        size_t size = n < 0 ? 0 : (size_t)n >= sizeof field ? sizeof field - 1 : (size_t)n;
        rp_field_error_t *error = &self->errors[self->count];
        rp_field_error_set(error, field, size, code);
        if (message)
            error->message = message;
    }
    self->count++;
}

//  ---------------------------------------------------------------------
//  Checks

//  Every str value of a map (and of the maps in it, one level) is UTF-8.
static void s_check_utf8(errors_t *self, const msgpack_object *data)
{
    for (uint32_t i = 0; i < data->via.map.size; i++) {
        const msgpack_object *key = &data->via.map.ptr[i].key, *val = &data->via.map.ptr[i].val;
        const char *name = "";
        size_t len = 0;
        rp_obj_str(key, &name, &len);
        if (!rp_utf8_valid(name, len))
            len = 0;
        bool bad =
            val->type == MSGPACK_OBJECT_STR && !rp_utf8_valid(val->via.str.ptr, val->via.str.size);
        for (uint32_t j = 0; val->type == MSGPACK_OBJECT_MAP && j < val->via.map.size; j++) {
            const msgpack_object *inner = &val->via.map.ptr[j].val;
            if (inner->type == MSGPACK_OBJECT_STR &&
                !rp_utf8_valid(inner->via.str.ptr, inner->via.str.size))
                bad = true;
        }
        if (bad || (key->type == MSGPACK_OBJECT_STR &&
                    !rp_utf8_valid(key->via.str.ptr, key->via.str.size)))
            s_error(self, name, len, NULL, "invalid", "text must be UTF-8");
    }
}

static bool s_is_nil(const msgpack_object *o)
{
    return !o || o->type == MSGPACK_OBJECT_NIL;
}

//  customer: {id} | {code} | {tax_id}, one key of 1..64 of [A-Za-z0-9_-].
static void s_check_customer(errors_t *self, const msgpack_object *customer)
{
    static const char *const keys[] = {"id", "code", "tax_id", NULL};
    const char *message = "a customer reference is {id}, {code} or {tax_id}";
    if (!rp_obj_is_map(customer))
        return s_error(self, "customer", 8, NULL, "type", message);
    int named = 0, before = self->count;
    for (uint32_t i = 0; i < customer->via.map.size; i++) {
        const msgpack_object_kv *kv = &customer->via.map.ptr[i];
        const char *key = "", *str;
        size_t len = 0, slen;
        bool known = false;
        if (rp_obj_str(&kv->key, &key, &len))
            for (int k = 0; keys[k]; k++)
                known |= strlen(keys[k]) == len && memcmp(keys[k], key, len) == 0;
        char sub[RP_MAX_FIELD + 1];
        size_t cut = rp_normalize_cut(key, len, RP_MAX_FIELD);
        memcpy(sub, key, cut);
        sub[cut] = 0;
        if (!known) {
            s_error(self, "customer", 8, sub, "unknown", message);
            continue;
        }
        if (s_is_nil(&kv->val))
            continue;
        named++;
        const char *err = !rp_obj_str(&kv->val, &str, &slen)
                              ? "type"
                              : rp_normalize_code(str, slen, RP_INTEGRATOR_MAX_REF);
        if (err)
            s_error(self, "customer", 8, sub, err,
                    strcmp(err, "type") == 0 ? NULL : "1..64 of [A-Za-z0-9_-]");
    }
    if (named != 1 && self->count == before)
        s_error(self, "customer", 8, NULL, named ? "invalid" : "required",
                named ? "name one of id, code, tax_id, not several" : message);
}

int rp_integrator_check(const char *type, size_t type_len, const msgpack_object *data,
                        rp_field_error_t *errors, int max)
{
    errors_t out = {errors, max, 0};
    const schema_t *schema = type ? s_schema(type, type_len) : NULL;
    if (!schema) {
        if (max > 0) {
            rp_field_error_set(&errors[0], "type", 4, "unknown_type");
            errors[0].message = "not an integrator event type (docs/events.md)";
        }
        return max > 0 ? 1 : 0;
    }
    if (!rp_obj_is_map(data)) {
        s_error(&out, NULL, 0, NULL, "type", "data must be a map");
        return out.count < max ? out.count : max;
    }
    s_check_utf8(&out, data);
    if (out.count)
        return out.count < max ? out.count : max;

    const msgpack_object *customer = rp_obj_get(data, "customer");
    static const char *const skip[] = {"customer", NULL};
    rp_record_t record;
    rp_record_init(&record, schema->fields, schema->count);
    rp_field_error_t found[RP_INTEGRATOR_MAX_ERRORS];
    int n = rp_record_validate(&record, data, schema->customer == CUSTOMER_NONE ? NULL : skip, true,
                               NULL, found, RP_INTEGRATOR_MAX_ERRORS);
    for (int i = 0; i < n; i++) {
        const char *message = NULL;
        if (strcmp(found[i].field, "currency") == 0 && strcmp(found[i].code, "required") != 0)
            message = "an ISO 4217 code of three capitals (CNY, USD)";
        else if (strcmp(found[i].code, "invalid") == 0 && strstr(found[i].field, "_at") &&
                 !strcmp(found[i].field + strlen(found[i].field) - 3, "_at"))
            message = "an RFC 3339 time (2026-11-23T16:05:00+08:00)";
        else if (strcmp(found[i].field, "at") == 0 && strcmp(found[i].code, "invalid") == 0)
            message = "an RFC 3339 time (2026-11-23T16:05:00+08:00)";
        else if (strcmp(found[i].code, "invalid") == 0 &&
                 (strcmp(found[i].field, "amount") == 0 || strcmp(found[i].field, "cost") == 0))
            message = "an amount has at most two decimals";
        else if (strcmp(found[i].field, "kind") == 0 && strcmp(found[i].code, "invalid") == 0)
            message = "one of call, email, visit, meeting, note";
        s_error(&out, found[i].field, strlen(found[i].field), NULL, found[i].code,
                message ? message : found[i].message);
    }
    if (schema->customer == CUSTOMER_REQUIRED) {
        if (s_is_nil(customer))
            s_error(&out, "customer", 8, NULL, "required",
                    "a customer reference {id}, {code} or {tax_id} is required");
        else
            s_check_customer(&out, customer);
    } else if (schema->customer == CUSTOMER_ALTERNATIVE) {
        if (!s_is_nil(customer))
            s_check_customer(&out, customer);
        else if (s_is_nil(rp_obj_get(data, "phone")) && s_is_nil(rp_obj_get(data, "email")))
            s_error(&out, "customer", 8, NULL, "required",
                    "one of customer, phone or email is required");
    }
    rp_record_reset(&record);
    return out.count < max ? out.count : max;
}

bool rp_integrator_read(const char *type, size_t type_len, const msgpack_object *data,
                        rp_record_t *record)
{
    const schema_t *schema = type ? s_schema(type, type_len) : NULL;
    rp_record_init(record, schema ? schema->fields : NULL, schema ? schema->count : 0);
    rp_field_error_t errors[1];
    if (!schema || rp_integrator_check(type, type_len, data, errors, 1))
        return false;
    static const char *const skip[] = {"customer", NULL};
    return rp_record_validate(record, data, schema->customer == CUSTOMER_NONE ? NULL : skip, true,
                              NULL, errors, 1) == 0;
}

bool rp_integrator_customer(const msgpack_object *data, const char **key, const char **value,
                            size_t *len)
{
    static const char *const keys[] = {"id", "code", "tax_id", NULL};
    const msgpack_object *customer = rp_obj_get(data, "customer");
    for (int k = 0; keys[k]; k++)
        if (rp_obj_str(rp_obj_get(customer, keys[k]), value, len) && *len > 0) {
            *key = keys[k];
            return true;
        }
    return false;
}

//  ---------------------------------------------------------------------
//  Self-test

static rp_doc_t *s_test_json(const char *pairs[][2], size_t n, rp_packer_t *packer);

//  Check data and compare the errors with want ({field, code}…, NULL-ended).
static void s_test_expect(const char *type, const msgpack_object *data, const char *const want[][2])
{
    rp_field_error_t errors[RP_INTEGRATOR_MAX_ERRORS];
    int n = rp_integrator_check(type, strlen(type), data, errors, RP_INTEGRATOR_MAX_ERRORS);
    int expected = 0;
    while (want && want[expected][0])
        expected++;
    if (n != expected) {
        for (int i = 0; i < n; i++)
            fprintf(stderr, "  %s: %s %s (%s)\n", type, errors[i].field, errors[i].code,
                    errors[i].message);
    }
    assert(n == expected);
    for (int i = 0; i < n; i++) {
        assert(strcmp(errors[i].field, want[i][0]) == 0);
        assert(strcmp(errors[i].code, want[i][1]) == 0);
        assert(errors[i].message && *errors[i].message);
    }
}

//  A map packed from a small builder: each value is "s:<text>", "i:<n>",
//  "f:<double>", "n:" (nil), "c:<key>=<value>" (a customer map), or
//  "b:" (a str of invalid UTF-8).
static rp_doc_t *s_test_json(const char *pairs[][2], size_t n, rp_packer_t *packer)
{
    rp_packer_reset(packer);
    msgpack_packer *pk = &packer->pk;
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < n; i++) {
        rp_pack_cstr(pk, pairs[i][0]);
        const char *v = pairs[i][1];
        if (v[0] == 's')
            rp_pack_cstr(pk, v + 2);
        else if (v[0] == 'i')
            msgpack_pack_int64(pk, strtoll(v + 2, NULL, 10));
        else if (v[0] == 'f')
            msgpack_pack_double(pk, strtod(v + 2, NULL));
        else if (v[0] == 'n')
            msgpack_pack_nil(pk);
        else if (v[0] == 'b')
            msgpack_pack_str_with_body(pk, "\xff\xfe", 2);
        else if (v[0] == 'c') {
            const char *eq = strchr(v + 2, '=');
            assert(eq);
            msgpack_pack_map(pk, 1);
            rp_pack_strn(pk, v + 2, (size_t)(eq - v - 2));
            rp_pack_cstr(pk, eq + 1);
        } else if (v[0] == 'm') { //  a map of two references
            msgpack_pack_map(pk, 2);
            rp_pack_kv_cstr(pk, "id", "c1");
            rp_pack_kv_cstr(pk, "code", "K3-001");
        }
    }
    return rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
}

static void s_test_case(const char *type, const char *pairs[][2], size_t n,
                        const char *const want[][2])
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_doc_t *doc = s_test_json(pairs, n, &packer);
    if (!doc) { //  invalid UTF-8: check the raw unpacked object
        msgpack_unpacked unpacked;
        msgpack_unpacked_init(&unpacked);
        size_t off = 0;
        int rc = msgpack_unpack_next(&unpacked, packer.buffer.data, packer.buffer.size, &off);
        assert(rc == MSGPACK_UNPACK_SUCCESS);
        s_test_expect(type, &unpacked.data, want);
        msgpack_unpacked_destroy(&unpacked);
    } else {
        s_test_expect(type, rp_doc_root(doc), want);
        rp_doc_destroy(&doc);
    }
    rp_packer_destroy(&packer);
}

void rp_integrator_test_order(msgpack_packer *pk, const char *order_no, uint64_t amount)
{
    rp_integrator_test_order_of(pk, order_no, "K3-001", amount);
}

void rp_integrator_test_order_of(msgpack_packer *pk, const char *order_no, const char *code,
                                 uint64_t amount)
{
    msgpack_pack_map(pk, 7);
    rp_pack_kv_cstr(pk, "order_no", order_no);
    rp_pack_cstr(pk, "customer");
    msgpack_pack_map(pk, 1);
    rp_pack_kv_cstr(pk, "code", code);
    rp_pack_kv_u64(pk, "amount", amount);
    rp_pack_kv_cstr(pk, "currency", "CNY");
    rp_pack_kv_u64(pk, "quantity", 1);
    rp_pack_kv_cstr(pk, "product", "电缆");
    rp_pack_kv_cstr(pk, "placed_at", "2026-11-23T08:00:00Z");
}

#define CASE(type, pairs, want) s_test_case(type, pairs, sizeof pairs / sizeof pairs[0], want)

void rp_integrator_test(void)
{
    static const char *const none[][2] = {{NULL, NULL}};
    for (int i = 0; rp_integrator_types[i]; i++)
        assert(rp_integrator_known(rp_integrator_types[i], strlen(rp_integrator_types[i])));
    assert(!rp_integrator_known("order.placedx", 13));
    assert(!rp_integrator_known("order.place", 11));
    assert(!rp_integrator_known("customer.created", 16));
    assert(!rp_integrator_known(NULL, 0));

    //  Valid events of each type.
    const char *placed[][2] = {{"order_no", "s:SO-2026/0001"},
                               {"customer", "c:code=K3-001"},
                               {"amount", "f:1234.5"},
                               {"currency", "s:CNY"},
                               {"quantity", "i:12"},
                               {"product", "s:电缆 YJV 3x95"},
                               {"spec", "s:3x95mm²"},
                               {"placed_at", "s:2026-11-23T16:05:00+08:00"},
                               {"cost", "i:900"}};
    CASE("order.placed", placed, none);
    const char *cancelled[][2] = {{"order_no", "s:SO-1"},
                                  {"cancelled_at", "s:2026-11-24T08:00:00Z"},
                                  {"reason", "s:customer changed\nits mind"}};
    CASE("order.cancelled", cancelled, none);
    const char *paid[][2] = {{"customer", "c:tax_id=91310000MA1FL0001X"},
                             {"amount", "i:500"},
                             {"currency", "s:USD"},
                             {"received_at", "s:2026-11-25T00:00:00Z"},
                             {"order_no", "n:"}};
    CASE("payment.received", paid, none);
    const char *lead[][2] = {
        {"name", "s:王小明"},         {"company", "s:上海某某电气有限公司"},
        {"phone", "s:138-0013-8000"}, {"email", "s:Wang@Example.com"},
        {"source", "s:website"},      {"captured_at", "s:2026-11-23T08:00:00.123Z"}};
    CASE("lead.captured", lead, none);
    const char *call[][2] = {{"phone", "s:+8613800138000"},    {"kind", "s:call"},
                             {"at", "s:2026-11-23T08:00:00Z"}, {"summary", "s:asked for a quote"},
                             {"duration_s", "i:300"},          {"by", "s:u-17"}};
    CASE("activity.logged", call, none);
    const char *visit[][2] = {{"customer", "c:id=c_01HX"},
                              {"kind", "s:visit"},
                              {"at", "s:2026-11-23T08:00:00Z"},
                              {"summary", "s:plant visit"}};
    CASE("activity.logged", visit, none);

    //  Read back normalized: the time in UTC, the reference's key.
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_doc_t *doc = s_test_json(placed, sizeof placed / sizeof placed[0], &packer);
    rp_record_t record;
    assert(rp_integrator_read("order.placed", 12, rp_doc_root(doc), &record));
    const char *str, *key;
    size_t len;
    assert(rp_record_str(&record, RP_ORDER_PLACED_AT, &str, &len));
    assert(len == 24 && memcmp(str, "2026-11-23T08:05:00.000Z", len) == 0);
    assert(rp_record_str(&record, RP_ORDER_NO, &str, &len) && len == 12);
    assert(rp_integrator_customer(rp_doc_root(doc), &key, &str, &len));
    assert(strcmp(key, "code") == 0 && len == 6 && memcmp(str, "K3-001", 6) == 0);
    rp_record_reset(&record);
    assert(!rp_integrator_read("order.cancelled", 15, rp_doc_root(doc), &record));
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);

    //  Unknown type; data not a map.
    static const char *const unknown_type[][2] = {{"type", "unknown_type"}, {NULL, NULL}};
    CASE("order.shipped", placed, unknown_type);
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    static const char *const not_map[][2] = {{"data", "type"}, {NULL, NULL}};
    s_test_expect("order.placed", &nil, not_map);

    //  Everything missing.
    static const char *const empty_placed[][2] = {
        {"data.order_no", "required"}, {"data.amount", "required"},
        {"data.currency", "required"}, {"data.quantity", "required"},
        {"data.product", "required"},  {"data.placed_at", "required"},
        {"data.customer", "required"}, {NULL, NULL}};
    const char *nothing[][2] = {{"order_no", "n:"}};
    CASE("order.placed", nothing, empty_placed);

    //  Bad values: money, currency, time, unknown key, customer forms.
    const char *bad[][2] = {
        {"order_no", "s:SO-1"},       {"customer", "m:"},   {"amount", "f:1.005"},
        {"currency", "s:cny"},        {"quantity", "i:-1"}, {"product", "s:cable"},
        {"placed_at", "s:yesterday"}, {"cost", "s:12"},     {"colour", "s:red"}};
    static const char *const bad_placed[][2] = {{"data.amount", "invalid"},
                                                {"data.currency", "invalid"},
                                                {"data.quantity", "out_of_range"},
                                                {"data.placed_at", "invalid"},
                                                {"data.cost", "type"},
                                                {"data.colour", "unknown"},
                                                {"data.customer", "invalid"},
                                                {NULL, NULL}};
    CASE("order.placed", bad, bad_placed);
    const char *bad_ref[][2] = {{"customer", "c:name=ACME"},
                                {"amount", "i:1"},
                                {"currency", "s:CNY"},
                                {"received_at", "s:2026-11-25T00:00:00Z"}};
    static const char *const bad_ref_want[][2] = {{"data.customer.name", "unknown"}, {NULL, NULL}};
    CASE("payment.received", bad_ref, bad_ref_want);
    const char *bad_code[][2] = {{"customer", "c:code=has space"},
                                 {"amount", "i:1"},
                                 {"currency", "s:CNY"},
                                 {"received_at", "s:2026-11-25T00:00:00Z"}};
    static const char *const bad_code_want[][2] = {{"data.customer.code", "invalid"}, {NULL, NULL}};
    CASE("payment.received", bad_code, bad_code_want);
    const char *big[][2] = {{"customer", "i:7"},
                            {"amount", "f:1e14"},
                            {"currency", "s:CNY"},
                            {"received_at", "s:2026-11-25T00:00:00Z"}};
    static const char *const big_want[][2] = {
        {"data.amount", "out_of_range"}, {"data.customer", "type"}, {NULL, NULL}};
    CASE("payment.received", big, big_want);

    //  activity.logged: one of customer, phone, email; kind; duration.
    const char *nobody[][2] = {{"kind", "s:fax"},
                               {"at", "s:2026-11-23T08:00:00Z"},
                               {"summary", "s:x"},
                               {"duration_s", "i:700000"}};
    static const char *const nobody_want[][2] = {{"data.kind", "invalid"},
                                                 {"data.duration_s", "out_of_range"},
                                                 {"data.customer", "required"},
                                                 {NULL, NULL}};
    CASE("activity.logged", nobody, nobody_want);

    //  Invalid UTF-8 (data that did not come through rp_doc_new).
    const char *binary[][2] = {
        {"name", "b:"}, {"source", "s:web"}, {"captured_at", "s:2026-11-23T08:00:00Z"}};
    static const char *const binary_want[][2] = {{"data.name", "invalid"}, {NULL, NULL}};
    CASE("lead.captured", binary, binary_want);

    //  Too long: a product of 201 bytes; a field name echoed is cut.
    char product[RP_INTEGRATOR_MAX_TEXT + 4] = "s:";
    memset(product + 2, 'p', RP_INTEGRATOR_MAX_TEXT + 1);
    product[RP_INTEGRATOR_MAX_TEXT + 3] = 0;
    const char *longer[][2] = {
        {"order_no", "s:SO-1"}, {"cancelled_at", "s:2026-11-24T08:00:00Z"}, {"reason", product}};
    static const char *const none_long[][2] = {{NULL, NULL}}; //  a reason may have 4,000
    CASE("order.cancelled", longer, none_long);
    const char *long_product[][2] = {{"order_no", "s:SO-1"},
                                     {"customer", "c:id=c1"},
                                     {"amount", "i:1"},
                                     {"currency", "s:CNY"},
                                     {"quantity", "f:2.5"},
                                     {"product", product},
                                     {"placed_at", "s:2026-11-23T08:00:00Z"}};
    static const char *const long_want[][2] = {{"data.product", "too_long"}, {NULL, NULL}};
    CASE("order.placed", long_product, long_want);

    //  At most max errors are written.
    rp_packer_init(&packer);
    doc = s_test_json(nothing, 1, &packer);
    rp_field_error_t two[2];
    int n = rp_integrator_check("order.placed", 12, rp_doc_root(doc), two, 2);
    assert(n == 2);
    assert(strcmp(two[0].field, "data.order_no") == 0);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
