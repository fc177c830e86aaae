/*  customer.c — the customer record's field table (an rp_record,
    rapport/record.h). */
#include "customer.h"

#include <assert.h>
#include <string.h>

static const char *const s_grades[] = {"A", "B", "C", "D", "E", NULL};
static const char *const s_tiers[] = {"lead", "prospect", "transacting", "key", "strategic", NULL};

static const rp_field_t s_fields[CUSTOMER_FIELDS] = {
    [CUSTOMER_ID] = {"id", RP_FIELD_SYSTEM},
    //  a code, once given, stays: it is what people quote
    [CUSTOMER_CODE] = {"code", RP_FIELD_CODE, .max = 32, .flags = RP_FIELD_KEPT},
    [CUSTOMER_NAME] = {"name", RP_FIELD_TEXT, .max = 200, .flags = RP_FIELD_REQUIRED},
    [CUSTOMER_SHORT_NAME] = {"short_name", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_TYPE] = {"type", RP_FIELD_TEXT, .max = 50},
    [CUSTOMER_GRADE] = {"grade", RP_FIELD_ENUM, .values = s_grades},
    [CUSTOMER_TIER] = {"tier", RP_FIELD_ENUM, .values = s_tiers},
    [CUSTOMER_NATURE] = {"nature", RP_FIELD_TEXT, .max = 50},
    [CUSTOMER_OWNER] = {"owner", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_TEAM] = {"team", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_PHONE] = {"phone", RP_FIELD_PHONE},
    [CUSTOMER_MOBILE] = {"mobile", RP_FIELD_PHONE},
    [CUSTOMER_FAX] = {"fax", RP_FIELD_PHONE},
    [CUSTOMER_EMAIL] = {"email", RP_FIELD_EMAIL},
    [CUSTOMER_WEBSITE] = {"website", RP_FIELD_TEXT, .max = 200},
    [CUSTOMER_COUNTRY] = {"country", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_REGION] = {"region", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_ADDRESS] = {"address", RP_FIELD_TEXT, .max = 500},
    [CUSTOMER_POSTCODE] = {"postcode", RP_FIELD_TEXT, .max = 20},
    [CUSTOMER_TAX_ID] = {"tax_id", RP_FIELD_CODE, .max = 50},
    [CUSTOMER_INDUSTRY] = {"industry", RP_FIELD_TEXT, .max = 100},
    [CUSTOMER_REGISTERED_ON] = {"registered_on", RP_FIELD_DATE},
    [CUSTOMER_TAGS] = {"tags", RP_FIELD_TAGS, .max = 50, .items = 50},
    [CUSTOMER_CUSTOM] = {"custom", RP_FIELD_CUSTOM, .max = 500, .items = 50},
    [CUSTOMER_CREDIT_LIMIT] = {"credit_limit", RP_FIELD_AMOUNT},
    [CUSTOMER_VERSION] = {"version", RP_FIELD_SYSTEM},
    [CUSTOMER_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [CUSTOMER_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
    [CUSTOMER_ARCHIVED] = {"archived", RP_FIELD_SYSTEM},
    [CUSTOMER_LAST_CONTACTED_AT] = {"last_contacted_at", RP_FIELD_SYSTEM},
    [CUSTOMER_GRADE_MANUAL] = {"grade_manual", RP_FIELD_SYSTEM},
    [CUSTOMER_TIER_MANUAL] = {"tier_manual", RP_FIELD_SYSTEM},
};

void customer_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, CUSTOMER_FIELDS);
}

const char *customer_field_name(int field)
{
    assert(field >= 0 && field < CUSTOMER_FIELDS);
    return s_fields[field].name;
}

//  ---------------------------------------------------------------------

void customer_test(void)
{
    assert(rp_fields_index(s_fields, CUSTOMER_FIELDS, "short_name", 10) == CUSTOMER_SHORT_NAME);
    assert(rp_fields_index(s_fields, CUSTOMER_FIELDS, "nope", 4) == -1);
    assert(s_fields[CUSTOMER_VERSION].kind == RP_FIELD_SYSTEM);
    assert(s_fields[CUSTOMER_TAX_ID].kind != RP_FIELD_SYSTEM);
    assert(strcmp(customer_field_name(CUSTOMER_TAX_ID), "tax_id") == 0);

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
    rp_record_t c;
    customer_init(&c);
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    const char *skip[] = {"id", NULL};
    int n = rp_record_validate(&c, rp_doc_root(doc), skip, true, "CN", errors, CUSTOMER_MAX_ERRORS);
    assert(n == 2);
    assert(strcmp(errors[0].field, "grade") == 0 && strcmp(errors[0].code, "invalid") == 0);
    assert(strcmp(errors[1].field, "version") == 0 && strcmp(errors[1].code, "read_only") == 0);
    const char *str;
    size_t len;
    assert(rp_record_str(&c, CUSTOMER_MOBILE, &str, &len) && len == 14 &&
           memcmp(str, "+8613800138000", 14) == 0);
    assert(rp_record_str(&c, CUSTOMER_EMAIL, &str, &len) &&
           memcmp(str, "sales@example.cn", 16) == 0);
    assert(c.given[CUSTOMER_NAME] && !c.given[CUSTOMER_PHONE]);

    //  Round trip through the stored form.
    rp_packer_t stored;
    rp_packer_init(&stored);
    rp_record_pack(&c, &stored.pk);
    rp_doc_t *doc2 = rp_doc_new(stored.buffer.data, stored.buffer.size, NULL);
    assert(doc2);
    rp_record_t d;
    customer_init(&d);
    rp_record_from_map(&d, rp_doc_root(doc2));
    assert(rp_record_str(&d, CUSTOMER_NAME, &str, &len) && len == strlen("上海某某贸易有限公司"));
    assert(d.values[CUSTOMER_PHONE].type == MSGPACK_OBJECT_NIL);
    rp_record_reset(&d);
    rp_record_reset(&c);
    rp_doc_destroy(&doc2);
    rp_packer_destroy(&stored);

    //  An update without a name is fine; nil clears, except the name and
    //  the code (a code given on create may be nil: one is generated).
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_cstr(&packer.pk, "name");
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_cstr(&packer.pk, "tax_id", "91310000 X");
    rp_pack_cstr(&packer.pk, "code");
    msgpack_pack_nil(&packer.pk);
    rp_pack_cstr(&packer.pk, "phone");
    msgpack_pack_nil(&packer.pk);
    rp_doc_destroy(&doc);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    n = rp_record_validate(&c, rp_doc_root(doc), NULL, false, "CN", errors, CUSTOMER_MAX_ERRORS);
    assert(n == 3 && strcmp(errors[0].code, "required") == 0);
    assert(strcmp(errors[1].field, "tax_id") == 0);
    assert(strcmp(errors[2].field, "code") == 0 && strcmp(errors[2].code, "required") == 0);
    assert(c.given[CUSTOMER_PHONE] && c.values[CUSTOMER_PHONE].type == MSGPACK_OBJECT_NIL);
    rp_record_reset(&c);
    n = rp_record_validate(&c, rp_doc_root(doc), NULL, true, "CN", errors, CUSTOMER_MAX_ERRORS);
    assert(n == 2 && strcmp(errors[0].field, "name") == 0 &&
           strcmp(errors[1].field, "tax_id") == 0);
    rp_record_reset(&c);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
