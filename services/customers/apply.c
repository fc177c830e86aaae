/*  apply.c — customer.created / updated / archived / restored into the
    store, deterministically: times come from the event, ids and values from
    the data the writer computed, generated codes from a counter kept in the
    same transaction. */
#include "apply.h"
#include "customer.h"
#include "activity.h"
#include "assign.h"
#include "contact.h"
#include "grading.h"
#include "lead.h"
#include "merge.h"
#include "order.h"
#include "unmatched.h"
#include <rapport/normalize.h>
#include "query.h"
#include "timeline.h"

#include "../users/apply.h"

#include <rapport/apply.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const customers_apply_dbnames[] = {CUSTOMERS_APPLY_DBNAMES, NULL};

//  ---------------------------------------------------------------------
//  Similarity keys: kind, the normalized value, NUL, then (stored) the id

#define SIMILAR_KEYS 4
#define SIMILAR_MAX  (1 + RP_NORMALIZE_NAME_MAX + 1 + APPLY_MAX_ID)

typedef struct {
    size_t count;
    int fields[SIMILAR_KEYS];
    size_t lens[SIMILAR_KEYS]; //  prefix length, NUL included
    char keys[SIMILAR_KEYS][SIMILAR_MAX];
} similar_t;

static void s_similar_add(similar_t *self, int field, char kind, const char *value, size_t len)
{
    char *key = self->keys[self->count];
    key[0] = kind;
    memcpy(key + 1, value, len);
    key[1 + len] = 0;
    self->fields[self->count] = field;
    self->lens[self->count++] = len + 2;
}

static void s_similar_keys(const rp_record_t *record, similar_t *self)
{
    self->count = 0;
    const char *str;
    size_t len;
    char name[RP_NORMALIZE_NAME_MAX];
    if (rp_record_str(record, CUSTOMER_NAME, &str, &len) && !rp_normalize_name(str, len, name))
        s_similar_add(self, CUSTOMER_NAME, 'n', name, strlen(name));
    static const int phones[] = {CUSTOMER_PHONE, CUSTOMER_MOBILE};
    for (size_t i = 0; i < 2; i++)
        if (rp_record_str(record, phones[i], &str, &len) && len > 0 && len < RP_NORMALIZE_NAME_MAX)
            s_similar_add(self, phones[i], 'p', str, len);
    if (rp_record_str(record, CUSTOMER_EMAIL, &str, &len) && len > 0 && len < RP_NORMALIZE_NAME_MAX)
        s_similar_add(self, CUSTOMER_EMAIL, 'e', str, len);
}

static bool s_similar_has(const similar_t *self, const char *key, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->lens[i] == len && memcmp(self->keys[i], key, len) == 0)
            return true;
    return false;
}

size_t customers_apply_similar(rp_store_t *store, MDB_txn *txn, const rp_record_t *record,
                               size_t max, customers_apply_similar_fn *fn, void *arg)
{
    similar_t keys;
    s_similar_keys(record, &keys);
    size_t calls = 0;
    MDB_cursor *cursor;
    if (mdb_cursor_open(txn, rp_store_dbi(store, "similar"), &cursor))
        return 0;
    for (size_t i = 0; i < keys.count && calls < max; i++) {
        MDB_val k = {keys.lens[i], keys.keys[i]}, v;
        for (int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
             rc == 0 && calls < max && k.mv_size > keys.lens[i] &&
             memcmp(k.mv_data, keys.keys[i], keys.lens[i]) == 0;
             rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
            fn(arg, customer_field_name(keys.fields[i]), (const char *)k.mv_data + keys.lens[i],
               k.mv_size - keys.lens[i]);
            calls++;
        }
    }
    mdb_cursor_close(cursor);
    return calls;
}

int customers_apply_record_get(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                               MDB_val *value)
{
    if (len == 0 || len > APPLY_MAX_ID)
        return MDB_NOTFOUND;
    MDB_val key = {len, (void *)id};
    return mdb_get(txn, rp_store_dbi(store, "customers"), &key, value);
}

int customers_apply_index_get(rp_store_t *store, MDB_txn *txn, const char *index, const char *key,
                              size_t len, MDB_val *id)
{
    if (len == 0 || len > 511) //  LMDB's default key limit
        return MDB_NOTFOUND;
    MDB_val k = {len, (void *)key};
    return mdb_get(txn, rp_store_dbi(store, index), &k, id);
}

//  ---------------------------------------------------------------------
//  One event being applied

typedef struct {
    rp_apply_t base; //  first: a row's fn casts it back (apply.h)
    char *old_bytes; //  a private copy of the stored record (LMDB pages move on put)
    rp_doc_t *old_doc;
    rp_record_t record;
    //  the outcome's details
    const char *conflict_fields[APPLY_MAX_SIMILAR + 2];
    char *conflict_ids[APPLY_MAX_SIMILAR + 2];
    int conflicts;
} apply_t;

static void s_apply_fini(apply_t *self)
{
    rp_record_reset(&self->record);
    rp_doc_destroy(&self->old_doc);
    free(self->old_bytes);
    for (int i = 0; i < self->conflicts; i++)
        free(self->conflict_ids[i]);
}

//  Load the stored record into self->record; MDB_NOTFOUND if there is none.
static int s_load(apply_t *self)
{
    MDB_val value;
    int rc = customers_apply_record_get(self->base.store, self->base.txn, self->base.id,
                                        self->base.id_len, &value);
    if (rc)
        return rc;
    self->old_bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->old_bytes);
    memcpy(self->old_bytes, value.mv_data, value.mv_size);
    self->old_doc = rp_doc_new(self->old_bytes, value.mv_size, NULL);
    if (!self->old_doc)
        return -1; //  a corrupt store: stop the service
    rp_record_from_map(&self->record, rp_doc_root(self->old_doc));
    return 0;
}

static void s_conflict(apply_t *self, const char *field, const char *id, size_t id_len)
{
    if (self->conflicts == APPLY_MAX_SIMILAR + 2)
        return;
    char *copy = malloc(id_len + 1);
    assert(copy);
    memcpy(copy, id, id_len);
    copy[id_len] = 0;
    self->conflict_fields[self->conflicts] = field;
    self->conflict_ids[self->conflicts++] = copy;
}

static void s_similar_conflict(void *arg, const char *field, const char *id, size_t id_len)
{
    s_conflict((apply_t *)arg, field, id, id_len);
}

//  Is field's value taken by another record in index? Records the conflict.
static bool s_taken(apply_t *self, int field, const char *index)
{
    const char *value;
    size_t len;
    MDB_val id;
    if (!rp_record_str(&self->record, field, &value, &len) ||
        customers_apply_index_get(self->base.store, self->base.txn, index, value, len, &id))
        return false;
    if (id.mv_size == self->base.id_len &&
        memcmp(id.mv_data, self->base.id, self->base.id_len) == 0)
        return false; //  ours
    s_conflict(self, customer_field_name(field), id.mv_data, id.mv_size);
    return true;
}

static bool s_duplicates(apply_t *self)
{
    bool code = s_taken(self, CUSTOMER_CODE, "codes");
    bool tax = s_taken(self, CUSTOMER_TAX_ID, "tax_ids");
    return code || tax;
}

//  The writer checked the fields; apply checks them again (with no default
//  phone region: stored numbers are international) so that no event, however
//  it reached the journal, can put a malformed record in the store.
static bool s_valid(const msgpack_object *fields, bool create, rp_record_t *out)
{
    rp_field_error_t errors[4];
    return rp_obj_is_map(fields) &&
           rp_record_validate(out, fields, NULL, create, NULL, errors, 4) == 0;
}

//  The next free generated code: C000001, C000002… skipping codes that
//  clients chose themselves.
static int s_generate_code(apply_t *self)
{
    uint64_t counter = rp_store_meta_u64(self->base.store, self->base.txn, "code_counter");
    char code[32];
    MDB_val id;
    do {
        counter++;
        snprintf(code, sizeof code, "C%06" PRIu64, counter);
    } while (customers_apply_index_get(self->base.store, self->base.txn, "codes", code,
                                       strlen(code), &id) == 0);
    rp_record_set_str(&self->record, CUSTOMER_CODE, code, strlen(code));
    return rp_store_set_meta_u64(self->base.store, self->base.txn, "code_counter", counter);
}

//  Replace old's similarity keys with the record's (each ends with the id).
static int s_save_similar(apply_t *self, const rp_record_t *old)
{
    similar_t was, now;
    was.count = 0;
    if (old)
        s_similar_keys(old, &was);
    s_similar_keys(&self->record, &now);
    int rc = 0;
    char key[SIMILAR_MAX];
    for (size_t i = 0; !rc && i < was.count; i++)
        if (!s_similar_has(&now, was.keys[i], was.lens[i])) {
            memcpy(key, was.keys[i], was.lens[i]);
            memcpy(key + was.lens[i], self->base.id, self->base.id_len);
            rc = rp_apply_del(&self->base, "similar", key, was.lens[i] + self->base.id_len);
        }
    for (size_t i = 0; !rc && i < now.count; i++) {
        memcpy(key, now.keys[i], now.lens[i]);
        memcpy(key + now.lens[i], self->base.id, self->base.id_len);
        rc = rp_apply_put(&self->base, "similar", key, now.lens[i] + self->base.id_len, "", 0);
    }
    return rc;
}

//  Write self->record and its index entries (old_* are the previous values
//  to remove, NULL when none).
static int s_save(apply_t *self, const rp_record_t *old)
{
    static const struct {
        int field;
        const char *index;
    } indexes[] = {{CUSTOMER_CODE, "codes"}, {CUSTOMER_TAX_ID, "tax_ids"}};
    int rc = 0;
    for (size_t i = 0; !rc && i < sizeof indexes / sizeof indexes[0]; i++) {
        const char *was = NULL, *now = NULL;
        size_t was_len = 0, now_len = 0;
        bool had = old && rp_record_str(old, indexes[i].field, &was, &was_len);
        bool has = rp_record_str(&self->record, indexes[i].field, &now, &now_len);
        if (had && has && was_len == now_len && memcmp(was, now, now_len) == 0)
            continue;
        if (had)
            rc = rp_apply_del(&self->base, indexes[i].index, was, was_len);
        if (!rc && has)
            rc = rp_apply_put(&self->base, indexes[i].index, now, now_len, self->base.id,
                              self->base.id_len);
    }
    if (!rc)
        rc = s_save_similar(self, old);
    if (!rc) //  the sort index reads the stored version: before the put
        rc = query_index_save(self->base.store, self->base.txn, self->base.id, self->base.id_len,
                              &self->record);
    if (rc)
        return rc;
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->record, &packer.pk);
    rc = rp_apply_put(&self->base, "customers", self->base.id, self->base.id_len,
                      packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

//  ---------------------------------------------------------------------
//  The four event types

//  A grade given by hand is kept; so is a tier of a buying customer
//  (grading.h). A null clears the flag: orders decide again.
static void s_manual(rp_record_t *record, const rp_record_t *changes)
{
    if (changes->given[CUSTOMER_GRADE])
        rp_record_set_bool(record, CUSTOMER_GRADE_MANUAL,
                           changes->values[CUSTOMER_GRADE].type != MSGPACK_OBJECT_NIL);
    const msgpack_object *tier = &changes->values[CUSTOMER_TIER];
    if (changes->given[CUSTOMER_TIER])
        rp_record_set_bool(record, CUSTOMER_TIER_MANUAL,
                           rp_obj_streq(tier, "transacting") || rp_obj_streq(tier, "key") ||
                               rp_obj_streq(tier, "strategic"));
}

static int s_created(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    if (s_load(self) == 0)
        return rp_apply_outcome(&self->base, 409, "exists"); //  an id reused: never by our writer
    rp_record_reset(&self->record);
    if (!s_valid(rp_obj_get(self->base.event->data, "record"), true, &self->record))
        return rp_apply_outcome(&self->base, 422, "bad_event");
    if (s_duplicates(self))
        return rp_apply_outcome(&self->base, 409, "duplicate");
    bool allow = false;
    rp_obj_bool(rp_obj_get(self->base.event->data, "allow_duplicate"), &allow);
    if (!allow && customers_apply_similar(self->base.store, self->base.txn, &self->record,
                                          APPLY_MAX_SIMILAR, s_similar_conflict, self))
        return rp_apply_outcome(&self->base, 409, "possible_duplicate");
    int rc = 0;
    if (self->record.values[CUSTOMER_CODE].type == MSGPACK_OBJECT_NIL)
        rc = s_generate_code(self);
    if (rc)
        return rc;
    rp_record_set_str(&self->record, CUSTOMER_ID, self->base.id, self->base.id_len);
    s_manual(&self->record, &self->record);
    rp_record_stamp(&self->record, self->base.event); //  version 1, created now
    rp_record_set_bool(&self->record, CUSTOMER_ARCHIVED, false);
    return s_save(self, NULL);
}

static int s_updated(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base; //  its first member
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(&self->base, 404, "not_found") : rc;
    if (rp_record_stale(&self->record, self->base.event->data))
        return rp_apply_outcome(&self->base, 412, "version_mismatch");
    rp_record_t changes;
    customer_init(&changes);
    bool valid = s_valid(rp_obj_get(self->base.event->data, "changes"), false, &changes);
    rp_record_t old = self->record; //  borrowed values only: old_doc owns them
    bool regrade = valid && ((changes.given[CUSTOMER_GRADE] &&
                              changes.values[CUSTOMER_GRADE].type == MSGPACK_OBJECT_NIL) ||
                             (changes.given[CUSTOMER_TIER] &&
                              changes.values[CUSTOMER_TIER].type == MSGPACK_OBJECT_NIL));
    if (valid) {
        rp_record_overlay(&self->record, &changes); //  copies what changes owns
        s_manual(&self->record, &changes);
    }
    rp_record_reset(&changes);
    if (!valid)
        return rp_apply_outcome(&self->base, 422, "bad_event");
    if (s_duplicates(self))
        return rp_apply_outcome(&self->base, 409, "duplicate");
    rp_record_stamp(&self->record, self->base.event);
    rc = s_save(self, &old);
    if (rc == 0 && regrade) //  cleared by hand: the orders say again
        rc = order_regrade(self->base.store, self->base.txn, self->base.event, self->base.id,
                           self->base.id_len);
    return rc;
}

static int s_archive(apply_t *self, bool archived)
{
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(&self->base, 404, "not_found") : rc;
    if (rp_record_stale(&self->record, self->base.event->data))
        return rp_apply_outcome(&self->base, 412, "version_mismatch");
    bool was = false;
    rp_obj_bool(&self->record.values[CUSTOMER_ARCHIVED], &was);
    self->base.unchanged = was == archived;
    if (self->base.unchanged)
        return 0; //  already so: no new version
    rp_record_set_bool(&self->record, CUSTOMER_ARCHIVED, archived);
    rp_record_stamp(&self->record, self->base.event);
    return s_save(self, &self->record); //  indexes unchanged
}

static int s_archived(rp_apply_t *base)
{
    return s_archive((apply_t *)base, true);
}

static int s_restored(rp_apply_t *base)
{
    return s_archive((apply_t *)base, false);
}

//  The relation events, applied by their modules.
static int s_contact(rp_apply_t *base)
{
    return contact_apply(base->store, base->txn, base->event, &base->status, &base->code);
}

static int s_activity(rp_apply_t *base)
{
    return activity_apply(base->store, base->txn, base->event, &base->status, &base->code);
}

static int s_assigned(rp_apply_t *base)
{
    return assign_apply(base->store, base->txn, base->event, &base->status, &base->code);
}

static int s_merged(rp_apply_t *base)
{
    int rc = merge_apply(base->store, base->txn, base->event, &base->status, &base->code);
    if (rc == 0 && base->status == 200) //  the sources' orders counted on the target now
        rc = order_regrade(base->store, base->txn, base->event, base->id, base->id_len);
    return rc;
}

//  ---------------------------------------------------------------------
//  For the relation events

int customers_apply_hold(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                         customers_apply_held_t *held)
{
    held->doc = NULL;
    customer_init(&held->record);
    MDB_val value;
    int rc = customers_apply_record_get(store, txn, id, len, &value);
    if (rc)
        return rc;
    held->doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!held->doc)
        return -1; //  a corrupt store: stop the service
    rp_record_from_map(&held->record, rp_doc_root(held->doc));
    return 0;
}

void customers_apply_release(customers_apply_held_t *held)
{
    rp_record_reset(&held->record);
    rp_doc_destroy(&held->doc);
}

int customers_apply_save(rp_store_t *store, MDB_txn *txn, const rp_record_t *old,
                         const rp_record_t *record)
{
    apply_t self;
    memset(&self, 0, sizeof self);
    self.base.store = store;
    self.base.txn = txn;
    self.record = *record; //  borrowed: s_save only reads it, and it is not reset here
    if (!rp_record_str(record, CUSTOMER_ID, &self.base.id, &self.base.id_len) ||
        self.base.id_len == 0 || self.base.id_len > APPLY_MAX_ID)
        return -1;
    return s_save(&self, old);
}

int customers_apply_insert(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, const char *id,
                           size_t len, rp_record_t *record)
{
    apply_t self;
    memset(&self, 0, sizeof self);
    self.base.store = store;
    self.base.txn = txn;
    self.base.event = event;
    self.base.id = id;
    self.base.id_len = len;
    self.record = *record; //  taken: given back below, with what it came to own
    int rc = 0;
    if (self.record.values[CUSTOMER_CODE].type == MSGPACK_OBJECT_NIL)
        rc = s_generate_code(&self);
    rp_record_set_str(&self.record, CUSTOMER_ID, id, len);
    rp_record_stamp(&self.record, event); //  version 1, created now
    rp_record_set_bool(&self.record, CUSTOMER_ARCHIVED, false);
    if (rc == 0)
        rc = s_save(&self, NULL);
    *record = self.record;
    return rc;
}

//  Every event applied with outcome 200 leaves a timeline entry, unless
//  it changed nothing; a refusal's details are {fields, ids} of the
//  conflicting records (empty lists when there are none).
static int s_finish(rp_apply_t *base)
{
    apply_t *self = (apply_t *)base;
    if (base->status == 200 && !base->unchanged)
        return timeline_apply(base->store, base->txn, base->seq, base->event);
    if (!base->code)
        return 0;
    msgpack_packer *pk = &base->details.pk;
    msgpack_pack_map(pk, 2);
    rp_pack_cstr(pk, "fields");
    msgpack_pack_array(pk, (size_t)self->conflicts);
    for (int i = 0; i < self->conflicts; i++)
        rp_pack_cstr(pk, self->conflict_fields[i]);
    rp_pack_cstr(pk, "ids");
    msgpack_pack_array(pk, (size_t)self->conflicts);
    for (int i = 0; i < self->conflicts; i++)
        rp_pack_cstr(pk, self->conflict_ids[i]);
    return 0;
}

static const rp_apply_type_t s_types[] = {
    {"customer.created", s_created},
    {"customer.updated", s_updated},
    {"customer.archived", s_archived},
    {"customer.restored", s_restored},
    {"customer.contact_added", s_contact},
    {"customer.contact_updated", s_contact},
    {"customer.contact_removed", s_contact},
    {"customer.activity_logged", s_activity},
    {"customer.assigned", s_assigned},
    {"customer.merged", s_merged},
    {"customer.event_matched", unmatched_apply_matched},
    {"customer.grading_set", grading_apply_set},
    {"customer.regraded", order_apply_regraded},
    {NULL},
};

static const rp_apply_def_t s_def = {"customers", "customer.", APPLY_MAX_ID, s_types, s_finish};

int customers_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                          const rp_event_t *event)
{
    (void)arg;
    if (order_event(event))
        return order_apply(store, txn, seq, event);
    if (rp_event_is(event, "activity.logged"))
        return activity_apply_logged(store, txn, seq, event);
    if (rp_event_is(event, "lead.captured"))
        return lead_apply(store, txn, seq, event);
    if (event->type_len > 5 && memcmp(event->type, "user.", 5) == 0)
        return users_apply_event(NULL, store, txn, seq, event);
    apply_t self;
    memset(&self, 0, sizeof self);
    customer_init(&self.record);
    int rc = rp_apply_run(&s_def, &self.base, store, txn, seq, event);
    s_apply_fini(&self);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test: the same events on two stores give byte-identical stores, and
//  every conflict is an outcome, not an error.

void customers_apply_test_event(rp_store_t *store, uint64_t seq, const char *type, const char *user,
                                rp_packer_t *data)
{
    rp_apply_test_event(store, customers_apply_event, seq, type, "customers", user, data);
}

//  Apply one event given as (type, data packed by the caller) at seq.
static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data)
{
    customers_apply_test_event(store, seq, type, NULL, data);
}

//  {id, record: {name, [k: v]…}} from NULL-terminated key/value strings.
static void s_test_created(rp_packer_t *data, const char *id, const char *const *kv)
{
    size_t pairs = 0;
    while (kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&data->pk, 2);
    rp_pack_kv_cstr(&data->pk, "id", id);
    rp_pack_cstr(&data->pk, "record");
    msgpack_pack_map(&data->pk, pairs);
    for (size_t i = 0; i < pairs; i++)
        rp_pack_kv_cstr(&data->pk, kv[i * 2], kv[i * 2 + 1]);
}

typedef struct {
    uint64_t seq;
    int status;
    char code[32];
    char field[32];
    size_t conflicts;
} test_outcome_t;

static int s_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_outcome_t *o = (test_outcome_t *)arg;
    MDB_val value;
    if (rp_outcome_get(store, txn, o->seq, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t status;
    assert(rp_obj_u64(rp_obj_get(root, "status"), &status));
    o->status = (int)status;
    const char *str;
    size_t len;
    if (rp_obj_str(rp_obj_get(root, "code"), &str, &len) && len < sizeof o->code)
        memcpy(o->code, str, len);
    const msgpack_object *ids = rp_obj_get(rp_obj_get(root, "details"), "ids");
    o->conflicts = rp_obj_is_array(ids) ? ids->via.array.size : 0;
    rp_doc_destroy(&doc);
    return 0;
}

static test_outcome_t s_test_outcome(rp_store_t *store, uint64_t seq)
{
    test_outcome_t o = {seq, 0, "", "", 0};
    rp_store_read(store, s_test_outcome_read, &o);
    return o;
}

//  The record's field as a string into out ("" when absent); its version.
typedef struct {
    const char *id;
    int field;
    char out[64];
    uint64_t version;
} test_field_t;

static int s_test_field_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_field_t *f = (test_field_t *)arg;
    MDB_val value;
    f->out[0] = 0;
    if (customers_apply_record_get(store, txn, f->id, strlen(f->id), &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    rp_record_t record;
    customer_init(&record);
    rp_record_from_map(&record, rp_doc_root(doc));
    const char *str;
    size_t len;
    if (rp_record_str(&record, f->field, &str, &len) && len < sizeof f->out) {
        memcpy(f->out, str, len);
        f->out[len] = 0;
    }
    rp_obj_u64(&record.values[CUSTOMER_VERSION], &f->version);
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static test_field_t s_test_field(rp_store_t *store, const char *id, int field)
{
    test_field_t f = {id, field, "", 0};
    rp_store_read(store, s_test_field_read, &f);
    return f;
}

static int s_test_index_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const char **kv = (const char **)arg; //  {index, key, expected id or NULL}
    MDB_val id;
    int rc = customers_apply_index_get(store, txn, kv[0], kv[1], strlen(kv[1]), &id);
    if (kv[2])
        assert(rc == 0 && id.mv_size == strlen(kv[2]) &&
               memcmp(id.mv_data, kv[2], id.mv_size) == 0);
    else
        assert(rc == MDB_NOTFOUND);
    return 0;
}

static void s_test_index(rp_store_t *store, const char *index, const char *key, const char *id)
{
    const char *kv[3] = {index, key, id};
    rp_store_read(store, s_test_index_read, kv);
}

//  The same journal, event by event.
static void s_test_journal(rp_store_t *store)
{
    rp_packer_t data;
    rp_packer_init(&data);
    s_test_created(&data, "a1", (const char *[]){"name", "甲公司", "tax_id", "T1", NULL});
    s_test_event(store, 1, "customer.created", &data);
    assert(s_test_outcome(store, 1).status == 200);
    assert(strcmp(s_test_field(store, "a1", CUSTOMER_CODE).out, "C000001") == 0);
    assert(strcmp(s_test_field(store, "a1", CUSTOMER_CREATED_AT).out, "2026-11-23T08:00:01.000Z") ==
           0);

    s_test_created(&data, "a2", (const char *[]){"name", "乙公司", "tax_id", "T1", NULL});
    s_test_event(store, 2, "customer.created", &data);
    test_outcome_t o = s_test_outcome(store, 2);
    assert(o.status == 409 && strcmp(o.code, "duplicate") == 0 && o.conflicts == 1);
    assert(s_test_field(store, "a2", CUSTOMER_NAME).out[0] == 0);

    s_test_created(&data, "a3", (const char *[]){"name", "丙", "code", "C000002", NULL});
    s_test_event(store, 3, "customer.created", &data);
    s_test_created(&data, "a4", (const char *[]){"name", "丁", "mobile", "+8613800138000", NULL});
    s_test_event(store, 4, "customer.created", &data);
    assert(strcmp(s_test_field(store, "a4", CUSTOMER_CODE).out, "C000003") == 0);

    //  Update: the tax id moves, the old index entry goes.
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "a1");
    rp_pack_kv_u64(&data.pk, "expected_version", 1);
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "grade", "B");
    rp_pack_kv_cstr(&data.pk, "tax_id", "T9");
    s_test_event(store, 5, "customer.updated", &data);
    assert(s_test_outcome(store, 5).status == 200);
    test_field_t f = s_test_field(store, "a1", CUSTOMER_GRADE);
    assert(strcmp(f.out, "B") == 0 && f.version == 2);
    s_test_index(store, "tax_ids", "T1", NULL);
    s_test_index(store, "tax_ids", "T9", "a1");
    s_test_index(store, "codes", "C000001", "a1");

    //  The same expected version again: stale.
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "a1");
    rp_pack_kv_u64(&data.pk, "expected_version", 1);
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 0);
    s_test_event(store, 6, "customer.updated", &data);
    assert(s_test_outcome(store, 6).status == 412);

    //  T1 is free again.
    s_test_created(&data, "a5", (const char *[]){"name", "戊", "tax_id", "T1", NULL});
    s_test_event(store, 7, "customer.created", &data);
    assert(s_test_outcome(store, 7).status == 200);

    //  Archive twice: one new version.
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "a1");
    s_test_event(store, 8, "customer.archived", &data);
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "a1");
    s_test_event(store, 9, "customer.archived", &data);
    assert(s_test_field(store, "a1", CUSTOMER_VERSION).version == 3);
    assert(strcmp(s_test_field(store, "a1", CUSTOMER_UPDATED_AT).out, "2026-11-23T08:00:08.000Z") ==
           0);

    //  Missing record; malformed data (a national number, no name); a type
    //  of another service (no outcome).
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "zz");
    s_test_event(store, 10, "customer.restored", &data);
    assert(s_test_outcome(store, 10).status == 404);
    s_test_created(&data, "a6", (const char *[]){"name", "己", "mobile", "13800138000", NULL});
    s_test_event(store, 11, "customer.created", &data);
    assert(s_test_outcome(store, 11).status == 422);
    s_test_created(&data, "a7", (const char *[]){"short_name", "庚", NULL});
    s_test_event(store, 12, "customer.created", &data);
    assert(s_test_outcome(store, 12).status == 422);
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "a1");
    s_test_event(store, 13, "order.placed", &data);
    assert(s_test_outcome(store, 13).status == 0);

    //  Likely duplicates: same normalized name ("甲公司" ~ "甲 有限公司"), or
    //  same mobile as a phone; refused unless allowed.
    s_test_created(&data, "a8", (const char *[]){"name", "甲 有限公司", NULL});
    s_test_event(store, 14, "customer.created", &data);
    o = s_test_outcome(store, 14);
    assert(o.status == 409 && strcmp(o.code, "possible_duplicate") == 0 && o.conflicts == 1);
    s_test_created(&data, "a9", (const char *[]){"name", "新", "phone", "+8613800138000", NULL});
    s_test_event(store, 15, "customer.created", &data);
    assert(s_test_outcome(store, 15).status == 409);
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "a9");
    rp_pack_kv_bool(&data.pk, "allow_duplicate", true);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "name", "新");
    rp_pack_kv_cstr(&data.pk, "phone", "+8613800138000");
    s_test_event(store, 16, "customer.created", &data);
    assert(s_test_outcome(store, 16).status == 200);
    //  a4 changes its mobile: the old number no longer matches.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "a4");
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "mobile", "+8613900000000");
    s_test_event(store, 17, "customer.updated", &data);
    s_test_created(&data, "a10",
                   (const char *[]){"name", "旧号", "mobile", "+8613800138000", NULL});
    s_test_event(store, 18, "customer.created", &data);
    o = s_test_outcome(store, 18);
    assert(o.status == 409 && o.conflicts == 1); //  only a9's phone now
    rp_packer_destroy(&data);
}

void customers_apply_test(void)
{
    rp_apply_test_replay("customers", customers_apply_dbnames, s_test_journal);
}
