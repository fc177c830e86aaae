/*  activity.c — see activity.h. */
#include "activity.h"
#include "apply.h"
#include "page.h"
#include "reference.h"
#include "timeline.h"
#include "unmatched.h"

#include <rapport/integrator.h>
#include <rapport/normalize.h>

#include <assert.h>
#include <stdio.h>
#include <string.h>

static const char *const s_activity_kinds[] = {"visit", "call", "email", "meeting", "note", NULL};

static const rp_field_t s_activity_fields[ACTIVITY_FIELDS] = {
    [ACTIVITY_ID] = {"id", RP_FIELD_SYSTEM},
    [ACTIVITY_CUSTOMER_ID] = {"customer_id", RP_FIELD_SYSTEM},
    [ACTIVITY_KIND] = {"kind", RP_FIELD_ENUM, .values = s_activity_kinds,
                       .flags = RP_FIELD_REQUIRED},
    [ACTIVITY_AT] = {"at", RP_FIELD_TIME},
    [ACTIVITY_SUMMARY] = {"summary", RP_FIELD_NOTE, .max = 2000, .flags = RP_FIELD_REQUIRED},
    [ACTIVITY_OUTCOME] = {"outcome", RP_FIELD_NOTE, .max = 2000},
    [ACTIVITY_NEXT_STEP] = {"next_step", RP_FIELD_NOTE, .max = 500},
    [ACTIVITY_NEXT_STEP_ON] = {"next_step_on", RP_FIELD_DATE},
    [ACTIVITY_CREATED_BY] = {"created_by", RP_FIELD_SYSTEM},
    [ACTIVITY_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [ACTIVITY_DURATION_S] = {"duration_s", RP_FIELD_SYSTEM},
    [ACTIVITY_SOURCE] = {"source", RP_FIELD_SYSTEM},
};

void activity_init(rp_record_t *self)
{
    rp_record_init(self, s_activity_fields, ACTIVITY_FIELDS);
}

bool activity_event(const rp_event_t *event)
{
    return rp_event_is(event, "customer.activity_logged");
}

int activity_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, MDB_val *value)
{
    if (len == 0 || len > ACTIVITY_MAX_ID)
        return MDB_NOTFOUND;
    MDB_val k = {len, (void *)id}, key;
    int rc = mdb_get(txn, rp_store_dbi(store, "activity_ids"), &k, &key);
    return rc ? rc : mdb_get(txn, rp_store_dbi(store, "activities"), &key, value);
}

//  The key of an activity: <customer id> NUL <at (24 bytes)> <activity id>.
static size_t s_activity_key(char *key, const char *customer_id, size_t customer_id_len,
                             const char *at, const char *id, size_t id_len)
{
    char rest[RP_NORMALIZE_TIME_MAX + ACTIVITY_MAX_ID];
    memcpy(rest, at, RP_NORMALIZE_TIME_MAX - 1);
    memcpy(rest + RP_NORMALIZE_TIME_MAX - 1, id, id_len);
    return page_key(key, customer_id, customer_id_len, rest, RP_NORMALIZE_TIME_MAX - 1 + id_len);
}

//  Store the activity under key and point its id there.
static int s_activity_put(rp_store_t *store, MDB_txn *txn, const rp_record_t *record,
                          const char *key, size_t key_len)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(record, &packer.pk);
    MDB_val k = {key_len, (void *)key}, v = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(txn, rp_store_dbi(store, "activities"), &k, &v, 0);
    const char *id;
    size_t id_len;
    if (!rc && rp_record_str(record, ACTIVITY_ID, &id, &id_len)) {
        MDB_val i = {id_len, (void *)id};
        rc = mdb_put(txn, rp_store_dbi(store, "activity_ids"), &i, &k, 0);
    }
    rp_packer_destroy(&packer);
    return rc;
}

//  The customer's last_contacted_at becomes at if at is later.
static int s_activity_contacted(rp_store_t *store, MDB_txn *txn, const char *customer_id,
                                size_t customer_id_len, const char *at)
{
    customers_apply_held_t held;
    int rc = customers_apply_hold(store, txn, customer_id, customer_id_len, &held);
    if (rc)
        return rc;
    const char *last;
    size_t last_len;
    bool changed = false;
    if (!rp_record_str(&held.record, CUSTOMER_LAST_CONTACTED_AT, &last, &last_len) ||
        last_len != RP_NORMALIZE_TIME_MAX - 1 || memcmp(at, last, last_len) > 0) {
        rp_record_set_str(&held.record, CUSTOMER_LAST_CONTACTED_AT, at, RP_NORMALIZE_TIME_MAX - 1);
        changed = true;
    }
    const char *tier;
    size_t tier_len;
    if (rp_record_str(&held.record, CUSTOMER_TIER, &tier, &tier_len) && tier_len == 4 &&
        memcmp(tier, "lead", 4) == 0) { //  contacted: a prospect now
        rp_record_set_str(&held.record, CUSTOMER_TIER, "prospect", 8);
        changed = true;
    }
    if (changed)
        rc = customers_apply_save(store, txn, &held.record, &held.record);
    customers_apply_release(&held);
    return rc;
}

static int s_activity_refuse(int *status, const char **code, int with, const char *why)
{
    *status = with;
    *code = why;
    return 0;
}

int activity_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                   const char **code)
{
    *status = 200;
    *code = NULL;
    const char *customer_id = NULL, *id;
    size_t customer_id_len = 0, id_len;
    MDB_val value;
    rp_obj_str(rp_obj_get(event->data, "id"), &customer_id, &customer_id_len);
    const msgpack_object *given = rp_obj_get(event->data, "activity");
    if (!rp_obj_str(rp_obj_get(event->data, "activity_id"), &id, &id_len) || id_len == 0 ||
        id_len > ACTIVITY_MAX_ID || memchr(id, 0, id_len) || !rp_obj_is_map(given))
        return s_activity_refuse(status, code, 422, "bad_event");
    if (customers_apply_record_get(store, txn, customer_id, customer_id_len, &value))
        return s_activity_refuse(status, code, 404, "not_found");
    if (activity_get(store, txn, id, id_len, &value) == 0)
        return s_activity_refuse(status, code, 409, "exists"); //  never by our writer
    rp_record_t record;
    activity_init(&record);
    rp_field_error_t errors[4];
    char at[RP_NORMALIZE_TIME_MAX];
    bool valid = rp_record_validate(&record, given, NULL, true, NULL, errors, 4) == 0;
    const char *at_given;
    size_t at_len;
    if (valid && rp_record_str(&record, ACTIVITY_AT, &at_given, &at_len))
        memcpy(at, at_given, RP_NORMALIZE_TIME_MAX); //  normalized: 24 bytes and NUL
    else if (valid)                                  //  the default: when the event happened
        valid = event->time && !rp_normalize_time(event->time, event->time_len, at);
    int rc = 0;
    if (valid) {
        const rp_event_t *e = event;
        const char *user = "";
        size_t user_len = 0;
        rp_obj_str(rp_obj_get(e->actor, "user"), &user, &user_len);
        rp_record_set_str(&record, ACTIVITY_ID, id, id_len);
        rp_record_set_str(&record, ACTIVITY_CUSTOMER_ID, customer_id, customer_id_len);
        rp_record_set_str(&record, ACTIVITY_AT, at, RP_NORMALIZE_TIME_MAX - 1);
        rp_record_set_str(&record, ACTIVITY_CREATED_BY, user, user_len);
        rp_record_set_str(&record, ACTIVITY_CREATED_AT, e->time ? e->time : "",
                          e->time ? e->time_len : 0);
        char key[PAGE_MAX_KEY];
        size_t key_len = s_activity_key(key, customer_id, customer_id_len, at, id, id_len);
        rc = s_activity_put(store, txn, &record, key, key_len);
        if (!rc)
            rc = s_activity_contacted(store, txn, customer_id, customer_id_len, at);
    } else {
        s_activity_refuse(status, code, 422, "bad_event");
    }
    rp_record_reset(&record);
    return rc;
}

//  ---------------------------------------------------------------------
//  Integrators' activity.logged

int activity_add(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                 const char *customer, size_t len, rp_record_t *record, const char *prefix,
                 bool contacted)
{
    char id[24], at[RP_NORMALIZE_TIME_MAX];
    snprintf(id, 8, "%s", prefix);
    timeline_rest(id + strlen(id), seq);
    const char *str = "";
    size_t str_len = 0;
    rp_record_str(record, ACTIVITY_AT, &str, &str_len);
    snprintf(at, sizeof at, "%.*s", (int)str_len, str);
    rp_record_set_str(record, ACTIVITY_ID, id, strlen(id));
    rp_record_set_str(record, ACTIVITY_CUSTOMER_ID, customer, len);
    rp_record_set_str(record, ACTIVITY_CREATED_AT, event->time ? event->time : "",
                      event->time ? event->time_len : 0);
    rp_record_set_str(record, ACTIVITY_SOURCE, event->source, event->source_len);
    char key[PAGE_MAX_KEY];
    size_t key_len = strlen(at) == RP_NORMALIZE_TIME_MAX - 1
                         ? s_activity_key(key, customer, len, at, id, strlen(id))
                         : 0;
    if (!key_len)
        return 0; //  checked on the way in: not one of ours
    int rc = s_activity_put(store, txn, record, key, key_len);
    if (rc == 0 && contacted)
        rc = s_activity_contacted(store, txn, customer, len, at);
    if (rc)
        return rc;
    //  The timeline's entry, as for customer.activity_logged.
    rp_packer_t line;
    rp_packer_init(&line);
    msgpack_pack_map(&line.pk, 3);
    rp_pack_kv_cstr(&line.pk, "activity_id", id);
    rp_pack_kv_obj(&line.pk, "kind", &record->values[ACTIVITY_KIND]);
    rp_pack_kv_cstr(&line.pk, "at", at);
    const char *kind = "", *summary = "";
    size_t kind_len = 0, summary_len = 0;
    rp_record_str(record, ACTIVITY_KIND, &kind, &kind_len);
    rp_record_str(record, ACTIVITY_SUMMARY, &summary, &summary_len);
    char text[256];
    snprintf(text, sizeof text, "%.*s: %.*s", (int)kind_len, kind,
             (int)rp_normalize_cut(summary, summary_len, 200), summary);
    for (char *c = text; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' '; //  one line
    rc = timeline_add(store, txn, seq, event, customer, len, text, &line);
    rp_packer_destroy(&line);
    return rc;
}

int activity_apply_to(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                      const msgpack_object *data, const char *customer, size_t len)
{
    rp_record_t given, record;
    if (!rp_integrator_read("activity.logged", 15, data, &given)) {
        rp_record_reset(&given);
        return 0; //  the journal checked it: not one of ours
    }
    activity_init(&record);
    static const struct {
        int from, to;
    } copy[] = {{RP_LOGGED_KIND, ACTIVITY_KIND},
                {RP_LOGGED_SUMMARY, ACTIVITY_SUMMARY},
                {RP_LOGGED_AT, ACTIVITY_AT},
                {RP_LOGGED_BY, ACTIVITY_CREATED_BY},
                {RP_LOGGED_DURATION, ACTIVITY_DURATION_S}};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        rp_record_set_copy(&record, copy[i].to, &given.values[copy[i].from]);
    int rc = activity_add(store, txn, seq, event, customer, len, &record, "i", true);
    rp_record_reset(&record);
    rp_record_reset(&given);
    return rc;
}

size_t activity_logged_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *data,
                                char *out)
{
    const char *str;
    size_t len = reference_customer(store, txn, data, out), str_len;
    if (!len && rp_obj_str(rp_obj_get(data, "phone"), &str, &str_len))
        len = reference_phone(store, txn, str, str_len, out);
    if (!len && rp_obj_str(rp_obj_get(data, "email"), &str, &str_len))
        len = reference_email(store, txn, str, str_len, out);
    return len;
}

int activity_apply_logged(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    char customer[APPLY_MAX_ID + 1];
    size_t len = activity_logged_customer(store, txn, event->data, customer);
    if (!len)
        return unmatched_put(store, txn, seq, event, "unknown_customer");
    return activity_apply_to(store, txn, seq, event, event->data, customer, len);
}

int activity_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len,
                  const char *to, size_t to_len)
{
    page_keys_t keys;
    int rc = page_keys(txn, rp_store_dbi(store, "activities"), from, from_len, &keys);
    for (size_t i = 0; rc == 0 && i < keys.count; i++) {
        MDB_val value;
        rc = mdb_get(txn, rp_store_dbi(store, "activities"), &keys.keys[i], &value);
        rp_doc_t *doc = rc ? NULL : rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (!rc && !doc)
            rc = -1;
        if (rc)
            break;
        rp_record_t record;
        activity_init(&record);
        rp_record_from_map(&record, rp_doc_root(doc));
        rp_record_set_str(&record, ACTIVITY_CUSTOMER_ID, to, to_len);
        char key[PAGE_MAX_KEY];
        size_t key_len =
            page_key(key, to, to_len, (const char *)keys.keys[i].mv_data + from_len + 1,
                     keys.keys[i].mv_size - from_len - 1);
        rc = key_len ? s_activity_put(store, txn, &record, key, key_len) : -1;
        if (!rc)
            rc = mdb_del(txn, rp_store_dbi(store, "activities"), &keys.keys[i], NULL);
        rp_record_reset(&record);
        rp_doc_destroy(&doc);
    }
    page_keys_free(&keys);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test: the record's rules (the event flow is in merge_test).

void activity_test(void)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 6);
    rp_pack_kv_cstr(&packer.pk, "kind", "visit");
    rp_pack_kv_cstr(&packer.pk, "at", "2026-11-23T15:30:00+08:00");
    rp_pack_kv_cstr(&packer.pk, "summary", "拜访张经理，介绍新品");
    rp_pack_kv_cstr(&packer.pk, "outcome", "有意向，需报价");
    rp_pack_kv_cstr(&packer.pk, "next_step", "发送报价单");
    rp_pack_kv_cstr(&packer.pk, "next_step_on", "2026/11/30");
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_record_t activity;
    activity_init(&activity);
    rp_field_error_t errors[ACTIVITY_FIELDS];
    assert(rp_record_validate(&activity, rp_doc_root(doc), NULL, true, "CN", errors,
                              ACTIVITY_FIELDS) == 0);
    assert(rp_obj_streq(&activity.values[ACTIVITY_AT], "2026-11-23T07:30:00.000Z"));
    assert(rp_obj_streq(&activity.values[ACTIVITY_NEXT_STEP_ON], "2026-11-30"));
    rp_record_reset(&activity);
    rp_doc_destroy(&doc);

    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "kind", "lunch");
    rp_pack_kv_cstr(&packer.pk, "at", "yesterday");
    rp_pack_kv_cstr(&packer.pk, "created_by", "me");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    int n =
        rp_record_validate(&activity, rp_doc_root(doc), NULL, true, "CN", errors, ACTIVITY_FIELDS);
    assert(n == 4);
    assert(strcmp(errors[0].field, "kind") == 0 && strcmp(errors[1].field, "at") == 0);
    assert(strcmp(errors[2].code, "read_only") == 0 && strcmp(errors[3].field, "summary") == 0);
    rp_record_reset(&activity);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);

    char key[PAGE_MAX_KEY];
    size_t len = s_activity_key(key, "c1", 2, "2026-11-23T07:30:00.000Z", "a9", 2);
    assert(len == 2 + 1 + 24 + 2 && memcmp(key + 3, "2026-11-23T07:30:00.000Za9", 26) == 0);
}
