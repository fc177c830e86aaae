/*  opportunity.c — the deal record's field table (an rp_record,
    rapport/record.h), with the checks of its own kinds: the currency and
    the products. */
#include "opportunity.h"

#include <rapport/money.h>

#include <assert.h>
#include <string.h>

#define PRODUCTS_MAX 100

//  ISO 4217: three letters, stored upper case ("cny" is CNY).
static const char *s_currency(const char *in, size_t len, char *out)
{
    for (size_t i = 0; i < len && i < 3; i++)
        out[i] = in[i] >= 'a' && in[i] <= 'z' ? (char)(in[i] - 'a' + 'A') : in[i];
    if (!rp_money_currency_valid(out, len))
        return "invalid";
    out[3] = 0;
    return NULL;
}

static bool s_quantity(const msgpack_object *o)
{
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64 > 0 && o->via.u64 <= 1000000000;
    return (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) &&
           o->via.f64 > 0 && o->via.f64 <= 1e9;
}

//  {name (1..200 bytes, one line), quantity (> 0, ≤ 10^9), unit_price?
//  (money)} and no other key.
static bool s_product(const msgpack_object *o)
{
    if (!rp_obj_is_map(o))
        return false;
    const char *name;
    size_t len;
    const msgpack_object *price = rp_obj_get(o, "unit_price");
    uint32_t known = 2 + (price != NULL);
    return o->via.map.size == known && rp_obj_str(rp_obj_get(o, "name"), &name, &len) &&
           rp_normalize_text(name, len, 200, 0) == NULL && s_quantity(rp_obj_get(o, "quantity")) &&
           (!price || price->type == MSGPACK_OBJECT_NIL || rp_money_check(price) == NULL);
}

static const char *s_products(const msgpack_object *o)
{
    if (!rp_obj_is_array(o))
        return "type";
    if (o->via.array.size > PRODUCTS_MAX)
        return "too_many";
    for (uint32_t i = 0; i < o->via.array.size; i++)
        if (!s_product(&o->via.array.ptr[i]))
            return "invalid";
    return NULL;
}

static const rp_field_t s_fields[OPPORTUNITY_FIELDS] = {
    [OPPORTUNITY_ID] = {"id", RP_FIELD_SYSTEM},
    [OPPORTUNITY_CUSTOMER_ID] = {"customer_id", RP_FIELD_CODE, .max = 64,
                                 .flags = RP_FIELD_REQUIRED},
    [OPPORTUNITY_TITLE] = {"title", RP_FIELD_TEXT, .max = 200, .flags = RP_FIELD_REQUIRED},
    [OPPORTUNITY_PIPELINE_ID] = {"pipeline_id", RP_FIELD_CODE, .max = 64, .flags = RP_FIELD_KEPT},
    [OPPORTUNITY_STAGE] = {"stage", RP_FIELD_CODE, .max = 64, .flags = RP_FIELD_KEPT},
    [OPPORTUNITY_AMOUNT] = {"amount", RP_FIELD_MONEY},
    [OPPORTUNITY_CURRENCY] = {"currency", RP_FIELD_TEXT, .max = 3, .flags = RP_FIELD_KEPT,
                              .normalize = s_currency},
    [OPPORTUNITY_PROBABILITY] = {"probability", RP_FIELD_INT, .max = 100},
    [OPPORTUNITY_PROBABILITY_MANUAL] = {"probability_manual", RP_FIELD_SYSTEM},
    [OPPORTUNITY_EXPECTED_CLOSE] = {"expected_close", RP_FIELD_DATE},
    [OPPORTUNITY_BUDGET] = {"budget", RP_FIELD_MONEY},
    [OPPORTUNITY_PRODUCTS] = {"products", RP_FIELD_VALUE, .check = s_products},
    [OPPORTUNITY_QUOTE_NO] = {"quote_no", RP_FIELD_TEXT, .max = 64},
    [OPPORTUNITY_COMPETITORS] = {"competitors", RP_FIELD_TAGS, .max = 100, .items = 20},
    [OPPORTUNITY_SOURCE] = {"source", RP_FIELD_TEXT, .max = 64},
    [OPPORTUNITY_OWNER] = {"owner", RP_FIELD_TEXT, .max = 100},
    [OPPORTUNITY_TEAM] = {"team", RP_FIELD_TEXT, .max = 100},
    [OPPORTUNITY_LOST_REASON] = {"lost_reason", RP_FIELD_TEXT, .max = 100},
    [OPPORTUNITY_STATUS] = {"status", RP_FIELD_SYSTEM},
    [OPPORTUNITY_STAGE_ENTERED_AT] = {"stage_entered_at", RP_FIELD_SYSTEM},
    [OPPORTUNITY_CLOSED_AT] = {"closed_at", RP_FIELD_SYSTEM},
    [OPPORTUNITY_TAGS] = {"tags", RP_FIELD_TAGS, .max = 50, .items = 50},
    [OPPORTUNITY_CUSTOM] = {"custom", RP_FIELD_CUSTOM, .max = 500, .items = 50},
    [OPPORTUNITY_ARCHIVED] = {"archived", RP_FIELD_SYSTEM},
    [OPPORTUNITY_VERSION] = {"version", RP_FIELD_SYSTEM},
    [OPPORTUNITY_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [OPPORTUNITY_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void opportunity_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, OPPORTUNITY_FIELDS);
}

const char *opportunity_field_name(int field)
{
    assert(field >= 0 && field < OPPORTUNITY_FIELDS);
    return s_fields[field].name;
}

//  ---------------------------------------------------------------------

void opportunity_test(void)
{
    assert(strcmp(opportunity_field_name(OPPORTUNITY_EXPECTED_CLOSE), "expected_close") == 0);
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 6);
    rp_pack_kv_cstr(&p.pk, "customer_id", "c1");
    rp_pack_kv_cstr(&p.pk, "title", "华东区扩容");
    rp_pack_kv_cstr(&p.pk, "currency", "usd");
    rp_pack_cstr(&p.pk, "amount");
    msgpack_pack_double(&p.pk, 1234.5);
    rp_pack_kv_u64(&p.pk, "probability", 35);
    rp_pack_cstr(&p.pk, "products");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_map(&p.pk, 3);
    rp_pack_kv_cstr(&p.pk, "name", "服务器");
    rp_pack_kv_u64(&p.pk, "quantity", 2);
    rp_pack_cstr(&p.pk, "unit_price");
    msgpack_pack_double(&p.pk, 617.25);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    rp_record_t deal;
    opportunity_init(&deal);
    rp_field_error_t errors[OPPORTUNITY_MAX_ERRORS];
    assert(rp_record_validate(&deal, rp_doc_root(doc), NULL, true, NULL, errors,
                              OPPORTUNITY_MAX_ERRORS) == 0);
    assert(rp_obj_streq(&deal.values[OPPORTUNITY_CURRENCY], "USD"));
    rp_record_reset(&deal);
    rp_doc_destroy(&doc);

    //  Bad values, each named.
    rp_packer_reset(&p);
    msgpack_pack_map(&p.pk, 6);
    rp_pack_kv_cstr(&p.pk, "title", "x");
    rp_pack_kv_cstr(&p.pk, "currency", "US");
    rp_pack_cstr(&p.pk, "amount");
    msgpack_pack_double(&p.pk, 0.005);
    rp_pack_kv_u64(&p.pk, "probability", 101);
    rp_pack_cstr(&p.pk, "products");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_map(&p.pk, 1);
    rp_pack_kv_cstr(&p.pk, "name", "no quantity");
    rp_pack_kv_cstr(&p.pk, "status", "won");
    doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    opportunity_init(&deal);
    int n = rp_record_validate(&deal, rp_doc_root(doc), NULL, true, NULL, errors,
                               OPPORTUNITY_MAX_ERRORS);
    static const char *const want[][2] = {
        {"currency", "invalid"}, {"amount", "invalid"},   {"probability", "out_of_range"},
        {"products", "invalid"}, {"status", "read_only"}, {"customer_id", "required"}};
    assert(n == 6);
    for (int i = 0; i < n; i++)
        assert(strcmp(errors[i].field, want[i][0]) == 0 && strcmp(errors[i].code, want[i][1]) == 0);
    rp_record_reset(&deal);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
}
