/*  lead.c — see lead.h. */
#include "lead.h"
#include "activity.h"
#include "apply.h"
#include "customer.h"
#include "grading.h"
#include "reference.h"
#include "timeline.h"
#include "unmatched.h"

#include <rapport/integrator.h>
#include <rapport/normalize.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define LAST_KEY "lead_last:"

int lead_get(rp_store_t *store, MDB_txn *txn, uint64_t seq, MDB_val *value)
{
    char id[17];
    unmatched_id(id, seq);
    MDB_val key = {16, id};
    return mdb_get(txn, rp_store_dbi(store, "leads"), &key, value);
}

//  The next active sales user of team after the last one, into owner
//  (RP_MAX_ACTOR + 1 bytes); its length, 0 when the team has none.
static size_t s_next_owner(rp_store_t *store, MDB_txn *txn, const char *team, char *owner, int *rc)
{
    char last_key[sizeof LAST_KEY + RP_MAX_ACTOR];
    snprintf(last_key, sizeof last_key, LAST_KEY "%s", team);
    MDB_dbi settings = rp_store_dbi(store, "settings");
    MDB_val lk = {strlen(last_key), last_key}, last = {0, NULL};
    char after[RP_MAX_ACTOR + 1] = "";
    if (mdb_get(txn, settings, &lk, &last) == 0 && last.mv_size <= RP_MAX_ACTOR) {
        memcpy(after, last.mv_data, last.mv_size);
        after[last.mv_size] = 0;
    }
    MDB_cursor *cursor;
    if ((*rc = mdb_cursor_open(txn, rp_store_dbi(store, "users"), &cursor)) != 0)
        return 0;
    char first[RP_MAX_ACTOR + 1] = "";
    size_t found = 0, team_len = strlen(team);
    MDB_val k, v;
    for (int got = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); got == 0 && !found;
         got = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size > RP_MAX_ACTOR)
            continue;
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        const msgpack_object *user = doc ? rp_doc_root(doc) : NULL;
        bool active = false;
        rp_obj_bool(rp_obj_get(user, "active"), &active);
        bool seller = active && rp_obj_streq(rp_obj_get(user, "role"), "sales") &&
                      (team_len == 0 || rp_obj_streq(rp_obj_get(user, "team"), team));
        rp_doc_destroy(&doc);
        if (!seller)
            continue;
        char id[RP_MAX_ACTOR + 1];
        memcpy(id, k.mv_data, k.mv_size);
        id[k.mv_size] = 0;
        if (!first[0])
            memcpy(first, id, k.mv_size + 1);
        if (strcmp(id, after) > 0) { //  the next in turn
            memcpy(owner, id, k.mv_size + 1);
            found = k.mv_size;
        }
    }
    mdb_cursor_close(cursor);
    if (!found && first[0]) { //  round again from the first
        found = strlen(first);
        memcpy(owner, first, found + 1);
    }
    if (found) {
        MDB_val value = {found, owner};
        *rc = mdb_put(txn, settings, &lk, &value, 0);
    }
    return found;
}

//  The customer the lead names: by phone, e-mail or company name.
static size_t s_match(rp_store_t *store, MDB_txn *txn, const rp_record_t *lead, char *out)
{
    const char *str;
    size_t len, found = 0;
    if (rp_record_str(lead, RP_LEAD_PHONE, &str, &len))
        found = reference_phone(store, txn, str, len, out);
    if (!found && rp_record_str(lead, RP_LEAD_EMAIL, &str, &len))
        found = reference_email(store, txn, str, len, out);
    if (!found && rp_record_str(lead, RP_LEAD_COMPANY, &str, &len))
        found = reference_name(store, txn, str, len, out);
    return found;
}

//  A new customer in tier lead for it.
static int s_create(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                    const rp_record_t *lead, const char *owner, const char *team, char *id,
                    size_t *id_len)
{
    int64_t at_ms = 0;
    if (event->time && !rp_time_parse(event->time, event->time_len, &at_ms))
        at_ms = 0;
    snprintf(id, APPLY_MAX_ID + 1, "%012" PRIx64 "%08" PRIx64, (uint64_t)at_ms, seq & 0xffffffffu);
    *id_len = strlen(id);
    rp_record_t record;
    customer_init(&record);
    const char *name, *str;
    size_t name_len, len;
    if (!rp_record_str(lead, RP_LEAD_COMPANY, &name, &name_len))
        rp_record_str(lead, RP_LEAD_NAME, &name, &name_len);
    rp_record_set_str(&record, CUSTOMER_NAME, name, name_len);
    rp_record_set_str(&record, CUSTOMER_TIER, "lead", 4);
    if (owner[0])
        rp_record_set_str(&record, CUSTOMER_OWNER, owner, strlen(owner));
    if (team[0])
        rp_record_set_str(&record, CUSTOMER_TEAM, team, strlen(team));
    grading_t grading;
    grading_load(&grading, store, txn);
    char e164[RP_NORMALIZE_PHONE_MAX];
    if (rp_record_str(lead, RP_LEAD_PHONE, &str, &len) &&
        !rp_normalize_phone(str, len, grading.region, e164))
        rp_record_set_str(&record, CUSTOMER_PHONE, e164, strlen(e164));
    if (rp_record_str(lead, RP_LEAD_EMAIL, &str, &len))
        rp_record_set_str(&record, CUSTOMER_EMAIL, str, len);
    int rc = customers_apply_insert(store, txn, event, id, *id_len, &record);
    if (rc == 0) {
        rp_packer_t line;
        rp_packer_init(&line);
        msgpack_pack_map(&line.pk, 2);
        rp_pack_kv_obj(&line.pk, "name", &record.values[CUSTOMER_NAME]);
        rp_pack_kv_obj(&line.pk, "code", &record.values[CUSTOMER_CODE]);
        char summary[256];
        snprintf(summary, sizeof summary, "created from a lead: %.*s",
                 (int)rp_normalize_cut(name, name_len, 200), name);
        rc = timeline_add(store, txn, seq, event, id, *id_len, summary, &line);
        rp_packer_destroy(&line);
    }
    rp_record_reset(&record);
    return rc;
}

//  The matched customer's note of the lead (not a contact).
static int s_note(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                  const rp_record_t *lead, const char *id, size_t id_len)
{
    const char *name = "", *source = "", *note = "";
    size_t name_len = 0, source_len = 0, note_len = 0;
    rp_record_str(lead, RP_LEAD_NAME, &name, &name_len);
    rp_record_str(lead, RP_LEAD_SOURCE, &source, &source_len);
    rp_record_str(lead, RP_LEAD_NOTE, &note, &note_len);
    char summary[1024];
    snprintf(summary, sizeof summary, "lead from %.*s: %.*s%s%.*s",
             (int)rp_normalize_cut(source, source_len, 200), source,
             (int)rp_normalize_cut(name, name_len, 200), name, note_len ? " — " : "",
             (int)rp_normalize_cut(note, note_len, 500), note);
    rp_record_t record;
    activity_init(&record);
    rp_record_set_str(&record, ACTIVITY_KIND, "note", 4);
    rp_record_set_str(&record, ACTIVITY_SUMMARY, summary, strlen(summary));
    rp_record_set_obj(&record, ACTIVITY_AT, &lead->values[RP_LEAD_AT]);
    int rc = activity_add(store, txn, seq, event, id, id_len, &record, "l", false);
    rp_record_reset(&record);
    return rc;
}

//  The owner and team of a stored customer.
static void s_owner_of(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, char *owner,
                       char *team)
{
    customers_apply_held_t held;
    const char *str;
    size_t str_len;
    if (customers_apply_hold(store, txn, id, len, &held) == 0) {
        if (rp_record_str(&held.record, CUSTOMER_OWNER, &str, &str_len) && str_len <= RP_MAX_ACTOR)
            snprintf(owner, RP_MAX_ACTOR + 1, "%.*s", (int)str_len, str);
        if (rp_record_str(&held.record, CUSTOMER_TEAM, &str, &str_len) && str_len <= RP_MAX_ACTOR)
            snprintf(team, RP_MAX_ACTOR + 1, "%.*s", (int)str_len, str);
    }
    customers_apply_release(&held);
}

static int s_record(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_record_t *lead,
                    const char *id, size_t id_len, const char *owner, const char *team,
                    bool matched)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_packer *pk = &packer.pk;
    msgpack_pack_map(pk, 8);
    rp_pack_cstr(pk, "customer_id");
    rp_pack_strn(pk, id, id_len);
    rp_pack_cstr(pk, "owner");
    owner[0] ? rp_pack_cstr(pk, owner) : msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "team");
    team[0] ? rp_pack_cstr(pk, team) : msgpack_pack_nil(pk);
    rp_pack_kv_bool(pk, "matched", matched);
    const char *name = "";
    size_t name_len = 0;
    rp_record_str(lead, RP_LEAD_NAME, &name, &name_len);
    char title[256];
    snprintf(title, sizeof title, "线索: %.*s", (int)rp_normalize_cut(name, name_len, 190), name);
    rp_pack_kv_cstr(pk, "title", title);
    rp_pack_kv_obj(pk, "source", &lead->values[RP_LEAD_SOURCE]);
    rp_pack_kv_obj(pk, "campaign", &lead->values[RP_LEAD_CAMPAIGN]);
    rp_pack_kv_obj(pk, "note", &lead->values[RP_LEAD_NOTE]);
    char key[17];
    unmatched_id(key, seq);
    MDB_val k = {16, key}, v = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(txn, rp_store_dbi(store, "leads"), &k, &v, 0);
    rp_packer_destroy(&packer);
    return rc;
}

int lead_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    rp_record_t lead;
    int rc = 0;
    if (!rp_integrator_read(event->type, event->type_len, event->data, &lead)) {
        rp_record_reset(&lead);
        return 0; //  the journal checked it: not one of ours
    }
    char id[APPLY_MAX_ID + 1], owner[RP_MAX_ACTOR + 1] = "", team[RP_MAX_ACTOR + 1] = "";
    size_t id_len = s_match(store, txn, &lead, id);
    bool matched = id_len > 0;
    if (matched) {
        s_owner_of(store, txn, id, id_len, owner, team);
        rc = s_note(store, txn, seq, event, &lead, id, id_len);
    } else {
        grading_t grading;
        grading_load(&grading, store, txn);
        snprintf(team, sizeof team, "%s", grading.lead_team);
        s_next_owner(store, txn, grading.lead_team, owner, &rc);
        if (rc == 0)
            rc = s_create(store, txn, seq, event, &lead, owner, team, id, &id_len);
    }
    if (rc == 0)
        rc = s_record(store, txn, seq, &lead, id, id_len, owner, team, matched);
    rp_record_reset(&lead);
    return rc;
}

void lead_test(void)
{
    //  Tested through customers_apply_event with users (the system tests
    //  tests/system/test_leads.py) and here for the key.
    char id[17];
    unmatched_id(id, 1);
    assert(strcmp(id, "0000000000000001") == 0);
}
