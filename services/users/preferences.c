/*  preferences.c — see preferences.h. */
#include "preferences.h"
#include "user.h"

#include <rapport/intl.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  The settings, in the order events and answers carry them.
static const int s_settings[] = {PREFERENCES_TIME_ZONE, PREFERENCES_LOCALE, PREFERENCES_CURRENCY};
#define SETTINGS (sizeof s_settings / sizeof s_settings[0])

static const char *s_zone(const char *in, size_t len, char *out)
{
    return rp_intl_zone(in, len, out) ? NULL : "invalid";
}

static const char *s_langtag(const char *in, size_t len, char *out)
{
    return rp_intl_langtag(in, len, out) ? NULL : "invalid";
}

static const char *s_currency(const char *in, size_t len, char *out)
{
    return rp_intl_currency(in, len, out) ? NULL : "invalid";
}

static const rp_field_t s_fields[PREFERENCES_FIELDS] = {
    [PREFERENCES_ID] = {"id", RP_FIELD_SYSTEM},
    [PREFERENCES_TIME_ZONE] = {"time_zone", RP_FIELD_TEXT, .max = RP_ZONE_MAX, .normalize = s_zone},
    [PREFERENCES_LOCALE] = {"locale", RP_FIELD_TEXT, .max = RP_LANGTAG_MAX, .normalize = s_langtag},
    [PREFERENCES_CURRENCY] = {"currency", RP_FIELD_TEXT, .max = 3, .normalize = s_currency},
    [PREFERENCES_VERSION] = {"version", RP_FIELD_SYSTEM},
    [PREFERENCES_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [PREFERENCES_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void preferences_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, PREFERENCES_FIELDS);
}

//  The field errors' messages, worded for people (the codes are rp_record's).
static void s_messages(rp_field_error_t *errors, int count)
{
    for (int i = 0; i < count; i++) {
        if (strcmp(errors[i].code, "invalid") != 0)
            continue;
        if (strcmp(errors[i].field, "time_zone") == 0)
            errors[i].message = "not a time zone of the IANA tz database (e.g. Asia/Shanghai)";
        else if (strcmp(errors[i].field, "locale") == 0)
            errors[i].message = "not a well-formed BCP 47 language tag (e.g. zh-CN)";
        else if (strcmp(errors[i].field, "currency") == 0)
            errors[i].message = "not an active ISO 4217 currency code (e.g. CNY)";
    }
}

int preferences_validate(rp_record_t *self, const msgpack_object *given,
                         rp_field_error_t errors[PREFERENCES_FIELDS])
{
    preferences_init(self);
    int count = rp_record_validate(self, given, NULL, false, NULL, errors, PREFERENCES_FIELDS);
    s_messages(errors, count);
    return count;
}

void preferences_pack_settings(const rp_record_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, SETTINGS);
    for (size_t i = 0; i < SETTINGS; i++) {
        rp_pack_cstr(pk, s_fields[s_settings[i]].name);
        msgpack_pack_object(pk, self->values[s_settings[i]]);
    }
}

void preferences_pack_unset(msgpack_packer *pk, const char *id, size_t len)
{
    rp_record_t record;
    preferences_init(&record);
    rp_record_set_str(&record, PREFERENCES_ID, id, len);
    rp_record_set_u64(&record, PREFERENCES_VERSION, 0);
    rp_record_pack(&record, pk);
    rp_record_reset(&record);
}

//  ---------------------------------------------------------------------
//  Apply: user.preferences_set {id, preferences: {…}, expected_version?}

//  A setting as the event gives it: a string of up to the field's max
//  bytes, or nil. Anything else is not an event our writer makes.
static bool s_setting_ok(const msgpack_object *value, size_t max)
{
    return !value || value->type == MSGPACK_OBJECT_NIL ||
           (value->type == MSGPACK_OBJECT_STR && value->via.str.size > 0 &&
            value->via.str.size <= max);
}

int preferences_apply(rp_apply_t *apply)
{
    const msgpack_object *given = rp_obj_get(apply->event->data, "preferences");
    if (!rp_obj_is_map(given))
        return rp_apply_outcome(apply, 422, "invalid");
    for (size_t i = 0; i < SETTINGS; i++)
        if (!s_setting_ok(rp_obj_get(given, s_fields[s_settings[i]].name),
                          s_fields[s_settings[i]].max))
            return rp_apply_outcome(apply, 422, "invalid");

    //  The stored record, copied: LMDB's pages move on put.
    MDB_val value;
    int rc = rp_apply_get(apply, PREFERENCES_DB, apply->id, apply->id_len, &value);
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    void *old_bytes = NULL;
    rp_doc_t *old_doc = NULL;
    rp_record_t old, record;
    preferences_init(&old);
    preferences_init(&record);
    if (rc == 0) {
        old_bytes = malloc(value.mv_size ? value.mv_size : 1);
        assert(old_bytes);
        memcpy(old_bytes, value.mv_data, value.mv_size);
        old_doc = rp_doc_new(old_bytes, value.mv_size, NULL);
        if (!old_doc) {
            free(old_bytes);
            return -1; //  a corrupt store: stop the service
        }
        rp_record_from_map(&old, rp_doc_root(old_doc));
    }
    if (rp_record_stale(&old, apply->event->data)) {
        rc = rp_apply_outcome(apply, 412, "version_mismatch");
    } else {
        rp_record_set_str(&record, PREFERENCES_ID, apply->id, apply->id_len);
        for (size_t i = 0; i < SETTINGS; i++) {
            const msgpack_object *v = rp_obj_get(given, s_fields[s_settings[i]].name);
            if (v && v->type == MSGPACK_OBJECT_STR)
                rp_record_set_obj(&record, s_settings[i], v);
        }
        rp_record_set_obj(&record, PREFERENCES_VERSION, &old.values[PREFERENCES_VERSION]);
        rp_record_set_obj(&record, PREFERENCES_CREATED_AT, &old.values[PREFERENCES_CREATED_AT]);
        rp_record_stamp(&record, apply->event);
        rp_packer_t packer;
        rp_packer_init(&packer);
        rp_record_pack(&record, &packer.pk);
        rc = rp_apply_put(apply, PREFERENCES_DB, apply->id, apply->id_len, packer.buffer.data,
                          packer.buffer.size);
        rp_packer_destroy(&packer);
    }
    rp_record_reset(&record);
    rp_record_reset(&old);
    rp_doc_destroy(&old_doc);
    free(old_bytes);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test: the field checks (the ops and apply are proven end to end
//  by tests/system/test_preferences.py, and apply's determinism by the
//  users apply replay).

static int s_test_validate(const char *zone, const char *locale, const char *currency,
                           rp_record_t *record, rp_field_error_t *errors)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "time_zone", zone);
    rp_pack_kv_cstr(&packer.pk, "locale", locale);
    rp_pack_kv_cstr(&packer.pk, "currency", currency);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    int count = preferences_validate(record, rp_doc_root(doc), errors);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    return count;
}

void preferences_test(void)
{
    rp_record_t record;
    rp_field_error_t errors[PREFERENCES_FIELDS];
    assert(s_test_validate("Asia/Shanghai", "ZH-hans-cn", "cny", &record, errors) == 0);
    const char *str;
    size_t len;
    assert(rp_record_str(&record, PREFERENCES_LOCALE, &str, &len) && len == 10 &&
           memcmp(str, "zh-Hans-CN", 10) == 0);
    assert(rp_record_str(&record, PREFERENCES_CURRENCY, &str, &len) && len == 3 &&
           memcmp(str, "CNY", 3) == 0);
    rp_record_reset(&record);

    assert(s_test_validate("Mars/Olympus", "en_US", "XXX", &record, errors) == 3);
    for (int i = 0; i < 3; i++)
        assert(strcmp(errors[i].code, "invalid") == 0 && strstr(errors[i].message, "e.g."));
    rp_record_reset(&record);
}
