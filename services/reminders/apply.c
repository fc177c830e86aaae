/*  apply.c — the reminders store's fold: reminder.* through the table,
    each row keeping the reminder's agenda entry in step. */
#include "apply.h"
#include "dates.h"
#include "reminder.h"
#include "rules.h"

#include "../customers/apply.h"
#include "../customers/order.h"
#include "../opportunities/apply.h"
#include "../users/apply.h"
#include "../users/preferences.h"

#include <rapport/log.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NEXT_TRIES 64 //  fired occurrences skipped when looking for the next

//  The records reminders follow (outcomes among them), the reminders,
//  their agenda, the important dates and the follow-up rules (rules.h).
const char *const reminders_apply_dbnames[] = {REMINDERS_APPLY_DBNAMES, NULL};

//  One reminder being changed by one event.
typedef struct {
    rp_apply_t *base; //  the event's context (id: the reminder's)
    char *old_bytes;  //  a private copy of the stored reminder
    rp_doc_t *old_doc;
    rp_record_t r;
} change_t;

static void s_init(change_t *self, rp_apply_t *base)
{
    memset(self, 0, sizeof *self);
    self->base = base;
    reminder_init(&self->r);
}

static void s_fini(change_t *self)
{
    rp_record_reset(&self->r);
    rp_doc_destroy(&self->old_doc);
    free(self->old_bytes);
}

//  The stored reminder into self->r: 0, MDB_NOTFOUND or -1.
static int s_load(change_t *self)
{
    MDB_val value;
    int rc = rp_apply_get(self->base, "reminders", self->base->id, self->base->id_len, &value);
    if (rc)
        return rc;
    self->old_bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->old_bytes);
    memcpy(self->old_bytes, value.mv_data, value.mv_size);
    self->old_doc = rp_doc_new(self->old_bytes, value.mv_size, NULL);
    if (!self->old_doc)
        return -1;
    rp_record_from_map(&self->r, rp_doc_root(self->old_doc));
    return 0;
}

//  The stored reminder the event names, at the version it expects (if it
//  names one): 0 with it in self->r; *refused when the outcome is set
//  instead (404 not_found, 412 version_mismatch); or an LMDB error.
static int s_load_expected(change_t *self, bool *refused)
{
    *refused = true;
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(self->base, 404, "not_found") : rc;
    if (rp_record_stale(&self->r, self->base->event->data))
        return rp_apply_outcome(self->base, 412, "version_mismatch");
    *refused = false;
    return 0;
}

static bool s_time_of(const rp_record_t *r, int field, int64_t *ms)
{
    const char *str;
    size_t len;
    return rp_record_str(r, field, &str, &len) && rp_time_parse(str, len, ms);
}

static void s_set_time(rp_record_t *r, int field, int64_t ms)
{
    char text[32];
    rp_time_format(ms, text);
    rp_record_set_str(r, field, text, strlen(text));
}

static bool s_fired(MDB_txn *txn, MDB_dbi dbi, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    return mdb_get(txn, dbi, &k, &v) == 0;
}

//  The last firing recorded: its fire time and occurrence (false: none).
static bool s_last_fired(const rp_record_t *r, int64_t *fire_ms, int64_t *occurrence_ms)
{
    const msgpack_object *list = &r->values[REMINDER_FIRED];
    if (!rp_obj_is_array(list) || list->via.array.size == 0)
        return false;
    const msgpack_object *last = &list->via.array.ptr[list->via.array.size - 1];
    const char *str;
    size_t len;
    uint64_t occ = 0;
    if (!rp_obj_str(rp_obj_get(last, "fire_at"), &str, &len) || !rp_time_parse(str, len, fire_ms))
        return false;
    if (!rp_obj_u64(rp_obj_get(last, "occurrence_ms"), &occ))
        occ = 0;
    *occurrence_ms = (int64_t)occ;
    return true;
}

bool reminders_apply_next(rp_store_t *store, MDB_txn *txn, const rp_record_t *reminder,
                          const char *id, size_t id_len, int64_t *fire_ms, char *key)
{
    const msgpack_object *state = &reminder->values[REMINDER_STATE];
    if (rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled"))
        return false;
    int64_t last_fire = INT64_MIN, last_occ = 0, until;
    bool any = s_last_fired(reminder, &last_fire, &last_occ);
    if (rp_obj_streq(state, "snoozed") && s_time_of(reminder, REMINDER_SNOOZED_UNTIL, &until)) {
        int64_t occ = any ? last_occ : 0;
        if (!any)
            s_time_of(reminder, REMINDER_DUE_AT, &occ);
        *fire_ms = until;
        snprintf(key, REMINDER_KEY_MAX, "%.*s/%" PRId64 "/snooze-%" PRIu64,
                 (int)(id_len > 64 ? 64 : id_len), id, occ,
                 rp_record_u64(reminder, REMINDER_SNOOZES));
        return true;
    }
    const char *field;
    rp_recurrence_t *series = reminder_series(reminder, &field);
    if (!series)
        return false; //  the writer checked it; a zone gone since: no firing
    int64_t offsets[REMINDER_MAX_OFFSETS];
    size_t count = reminder_offsets(reminder, offsets);
    int64_t lower = any ? last_fire : INT64_MIN / 2, armed, done;
    if (reminder->values[REMINDER_RRULE].type == MSGPACK_OBJECT_STR &&
        s_time_of(reminder, REMINDER_ARMED_AT, &armed) && armed > lower)
        lower = armed;
    bool has_done = s_time_of(reminder, REMINDER_DONE_THROUGH, &done);
    MDB_dbi fired = rp_store_dbi(store, "fired_keys");
    bool found = false;
    char candidate[REMINDER_KEY_MAX];
    for (size_t i = 0; i < count; i++) {
        int64_t from = lower + offsets[i] * 1000, occ;
        if (has_done && from <= done)
            from = done + 1;
        if (from < 0)
            from = 0;
        for (int tries = 0; tries < NEXT_TRIES && rp_recurrence_next(series, from, &occ); tries++) {
            reminder_key(id, id_len, occ, offsets[i], candidate);
            int64_t at = occ - offsets[i] * 1000;
            if (!s_fired(txn, fired, candidate)) {
                if (!found || at < *fire_ms || (at == *fire_ms && strcmp(candidate, key) < 0)) {
                    *fire_ms = at;
                    strcpy(key, candidate);
                }
                found = true;
                break;
            }
            from = occ + 1;
        }
    }
    rp_recurrence_destroy(&series);
    return found;
}

//  Move the reminder's agenda entry to its next firing (none when
//  deleted), and set next_fire_at.
static int s_agenda(change_t *self, bool deleted)
{
    rp_apply_t *base = self->base;
    MDB_val old;
    int rc = rp_apply_get(base, "agenda_of", base->id, base->id_len, &old);
    if (rc == 0) {
        char *copy = malloc(old.mv_size);
        assert(copy);
        memcpy(copy, old.mv_data, old.mv_size);
        rc = rp_apply_del(base, "due", copy, old.mv_size);
        free(copy);
        if (!rc)
            rc = rp_apply_del(base, "agenda_of", base->id, base->id_len);
    }
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    rp_record_set_nil(&self->r, REMINDER_NEXT_FIRE_AT);
    int64_t fire_ms;
    char key[REMINDER_KEY_MAX];
    if (deleted || !reminders_apply_next(base->store, base->txn, &self->r, base->id, base->id_len,
                                         &fire_ms, key))
        return 0;
    uint8_t due[8 + REMINDER_KEY_MAX];
    size_t key_len = strlen(key);
    rp_seq_put(due, (uint64_t)fire_ms);
    memcpy(due + 8, key, key_len);
    rc = rp_apply_put(base, "due", (const char *)due, 8 + key_len, base->id, base->id_len);
    if (!rc)
        rc = rp_apply_put(base, "agenda_of", base->id, base->id_len, due, 8 + key_len);
    s_set_time(&self->r, REMINDER_NEXT_FIRE_AT, fire_ms);
    return rc;
}

int reminders_apply_due(rp_store_t *store, MDB_txn *txn, int64_t until_ms, size_t max,
                        reminders_due_fn *fn, void *arg, size_t *count)
{
    *count = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "due"), &c);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && *count < max;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size <= 8)
            continue; //  cannot happen: every entry has a key
        int64_t fire = (int64_t)rp_seq_get(k.mv_data);
        if (fire > until_ms)
            break;
        (*count)++;
        if (!fn(arg, fire, (const char *)k.mv_data + 8, k.mv_size - 8, v.mv_data, v.mv_size))
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Stamp, move the agenda entry and write self->r.
static int s_save(change_t *self)
{
    rp_record_stamp(&self->r, self->base->event);
    int rc = s_agenda(self, false);
    if (rc)
        return rc;
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->r, &packer.pk);
    rc = rp_apply_put(self->base, "reminders", self->base->id, self->base->id_len,
                      packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

static int s_event_ms(const rp_apply_t *base, int64_t *ms)
{
    const rp_event_t *event = base->event;
    if (!event->time || !rp_time_parse(event->time, event->time_len, ms))
        *ms = 0;
    return 0;
}

//  ---------------------------------------------------------------------
//  The event types

static int s_created(change_t *self)
{
    int rc = s_load(self);
    if (rc != MDB_NOTFOUND)
        return rc ? rc : rp_apply_outcome(self->base, 409, "exists");
    rp_record_reset(&self->r);
    rp_field_error_t errors[4];
    const msgpack_object *record = rp_obj_get(self->base->event->data, "record");
    if (!rp_obj_is_map(record) ||
        rp_record_validate(&self->r, record, NULL, true, NULL, errors, 4) != 0)
        return rp_apply_outcome(self->base, 422, "bad_event");
    const char *field;
    rp_recurrence_t *series = reminder_series(&self->r, &field);
    if (!series)
        return rp_apply_outcome(self->base, 422, "bad_event");
    rp_recurrence_destroy(&series);
    rp_record_set_str(&self->r, REMINDER_ID, self->base->id, self->base->id_len);
    if (self->r.values[REMINDER_KIND].type == MSGPACK_OBJECT_NIL)
        rp_record_set_str(&self->r, REMINDER_KIND, "task", 4);
    rp_record_set_bool(&self->r, REMINDER_ALL_DAY, rp_record_bool(&self->r, REMINDER_ALL_DAY));
    rp_record_set_bool(&self->r, REMINDER_SKIP_MISSED,
                       rp_record_bool(&self->r, REMINDER_SKIP_MISSED));
    rp_record_set_str(&self->r, REMINDER_STATE, "pending", 7);
    rp_record_set_u64(&self->r, REMINDER_SNOOZES, 0);
    int64_t now;
    s_event_ms(self->base, &now);
    s_set_time(&self->r, REMINDER_ARMED_AT, now);
    return s_save(self);
}

//  Overlay changes on self->r; a new time arms it again (fired or
//  snoozed becomes pending). False when the result makes no series.
static bool s_overlay(change_t *self, const rp_record_t *changes)
{
    static const int timing[] = {REMINDER_DUE_AT,        REMINDER_TIME_ZONE, REMINDER_ALL_DAY,
                                 REMINDER_REMIND_BEFORE, REMINDER_RRULE,     REMINDER_EXDATES};
    bool moved = false;
    for (size_t i = 0; i < sizeof timing / sizeof timing[0]; i++)
        moved =
            moved || (changes->given[timing[i]] &&
                      !msgpack_object_equal(changes->values[timing[i]], self->r.values[timing[i]]));
    rp_record_overlay(&self->r, changes);
    const char *field;
    rp_recurrence_t *series = reminder_series(&self->r, &field);
    if (!series)
        return false;
    rp_recurrence_destroy(&series);
    if (moved) {
        int64_t now;
        s_event_ms(self->base, &now);
        s_set_time(&self->r, REMINDER_ARMED_AT, now);
        const msgpack_object *state = &self->r.values[REMINDER_STATE];
        if (rp_obj_streq(state, "fired") || rp_obj_streq(state, "snoozed")) {
            rp_record_set_str(&self->r, REMINDER_STATE, "pending", 7);
            rp_record_set_nil(&self->r, REMINDER_SNOOZED_UNTIL);
        }
    }
    return true;
}

static int s_updated(change_t *self)
{
    const msgpack_object *data = self->base->event->data;
    bool refused;
    int rc = s_load_expected(self, &refused);
    if (rc || refused)
        return rc;
    rp_record_t changes;
    reminder_init(&changes);
    rp_field_error_t errors[4];
    const msgpack_object *fields = rp_obj_get(data, "changes");
    bool valid = rp_obj_is_map(fields) &&
                 rp_record_validate(&changes, fields, NULL, false, NULL, errors, 4) == 0 &&
                 s_overlay(self, &changes);
    rp_record_reset(&changes);
    if (!valid)
        return rp_apply_outcome(self->base, 422, "bad_event");
    return s_save(self);
}

static int s_deleted(change_t *self)
{
    bool refused;
    int rc = s_load_expected(self, &refused);
    if (rc || refused)
        return rc;
    rc = s_agenda(self, true);
    return rc ? rc : rp_apply_del(self->base, "reminders", self->base->id, self->base->id_len);
}

//  {id, until}: the next firing moves to until, the due date does not.
static int s_snoozed(change_t *self)
{
    const msgpack_object *data = self->base->event->data;
    bool refused;
    int rc = s_load_expected(self, &refused);
    if (rc || refused)
        return rc;
    const msgpack_object *state = &self->r.values[REMINDER_STATE];
    if (rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled"))
        return rp_apply_outcome(self->base, 409, "not_active");
    const char *str;
    size_t len;
    int64_t until;
    if (!rp_obj_str(rp_obj_get(data, "until"), &str, &len) || !rp_time_parse(str, len, &until))
        return rp_apply_outcome(self->base, 422, "bad_event");
    rp_record_set_str(&self->r, REMINDER_STATE, "snoozed", 7);
    rp_record_set_u64(&self->r, REMINDER_SNOOZES, rp_record_u64(&self->r, REMINDER_SNOOZES) + 1);
    s_set_time(&self->r, REMINDER_SNOOZED_UNTIL, until);
    return s_save(self);
}

//  {id, occurrence?, all?}: a one-off, or the whole series with all, is
//  done; occurrence: that occurrence (and those before it) of a series.
static int s_done(change_t *self)
{
    const msgpack_object *data = self->base->event->data;
    bool refused;
    int rc = s_load_expected(self, &refused);
    if (rc || refused)
        return rc;
    bool all = false;
    rp_obj_bool(rp_obj_get(data, "all"), &all);
    const char *str;
    size_t len;
    int64_t occurrence;
    bool one = rp_obj_str(rp_obj_get(data, "occurrence"), &str, &len) &&
               rp_time_parse(str, len, &occurrence);
    if (!all && one && self->r.values[REMINDER_RRULE].type == MSGPACK_OBJECT_STR) {
        s_set_time(&self->r, REMINDER_DONE_THROUGH, occurrence);
        rp_record_set_str(&self->r, REMINDER_STATE, "pending", 7);
        rp_record_set_nil(&self->r, REMINDER_SNOOZED_UNTIL);
    } else
        rp_record_set_str(&self->r, REMINDER_STATE, "done", 4);
    return s_save(self);
}

//  {id, reason?}: no more firings; the reminder stays.
static int s_cancelled(change_t *self)
{
    bool refused;
    int rc = s_load_expected(self, &refused);
    if (rc || refused)
        return rc;
    const msgpack_object *state = &self->r.values[REMINDER_STATE];
    if (rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled"))
        return rp_apply_outcome(self->base, 409, "not_active");
    rp_record_set_str(&self->r, REMINDER_STATE, "cancelled", 9);
    rp_record_set_nil(&self->r, REMINDER_SNOOZED_UNTIL);
    return s_save(self);
}

//  {id, key, occurrence, offset, due_at, fired_at, late}: once per key.
static int s_fired_event(change_t *self)
{
    const msgpack_object *data = self->base->event->data;
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? rp_apply_outcome(self->base, 404, "not_found") : rc;
    const char *key, *occ_text, *due_text;
    size_t key_len, occ_len, due_len;
    int64_t occ, due;
    if (!rp_obj_str(rp_obj_get(data, "key"), &key, &key_len) || key_len == 0 ||
        key_len >= REMINDER_KEY_MAX ||
        !rp_obj_str(rp_obj_get(data, "occurrence"), &occ_text, &occ_len) ||
        !rp_time_parse(occ_text, occ_len, &occ) ||
        !rp_obj_str(rp_obj_get(data, "due_at"), &due_text, &due_len) ||
        !rp_time_parse(due_text, due_len, &due) || key_len <= self->base->id_len ||
        memcmp(key, self->base->id, self->base->id_len) != 0 || key[self->base->id_len] != '/')
        return rp_apply_outcome(self->base, 422, "bad_event");
    //  Closed after the clock read its agenda (done, cancelled: the
    //  firing was appended before that came): nothing fires.
    const msgpack_object *state = &self->r.values[REMINDER_STATE];
    if (rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled")) {
        self->base->unchanged = true;
        return rp_apply_outcome(self->base, 409, "not_active");
    }
    MDB_val seen;
    rc = rp_apply_get(self->base, "fired_keys", key, key_len, &seen);
    if (rc == 0) {
        self->base->unchanged = true; //  fired once already: never twice
        return rp_apply_outcome(self->base, 409, "already_fired");
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    uint8_t seq[8];
    rp_seq_put(seq, self->base->seq);
    if ((rc = rp_apply_put(self->base, "fired_keys", key, key_len, seq, 8)) != 0)
        return rc;
    //  fired: the last REMINDER_FIRED_KEPT, oldest first, this one added.
    const msgpack_object *list = &self->r.values[REMINDER_FIRED];
    uint32_t n = rp_obj_is_array(list) ? list->via.array.size : 0;
    uint32_t keep = n >= REMINDER_FIRED_KEPT ? REMINDER_FIRED_KEPT - 1 : n;
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_array(&p.pk, keep + 1);
    for (uint32_t i = n - keep; i < n; i++)
        msgpack_pack_object(&p.pk, list->via.array.ptr[i]);
    bool late = false;
    rp_obj_bool(rp_obj_get(data, "late"), &late);
    char at[32];
    msgpack_pack_map(&p.pk, 5);
    rp_pack_cstr(&p.pk, "key");
    rp_pack_strn(&p.pk, key, key_len);
    rp_time_format(occ, at);
    rp_pack_kv_cstr(&p.pk, "at", at);
    rp_pack_kv_u64(&p.pk, "occurrence_ms", (uint64_t)occ);
    rp_time_format(due, at);
    rp_pack_kv_cstr(&p.pk, "fire_at", at);
    rp_pack_kv_bool(&p.pk, "late", late);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    if (!doc) {
        rp_packer_destroy(&p);
        return -1;
    }
    rp_record_set_copy(&self->r, REMINDER_FIRED, rp_doc_root(doc));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
    rp_record_set_str(&self->r, REMINDER_STATE, "fired", 5);
    rp_record_set_nil(&self->r, REMINDER_SNOOZED_UNTIL);
    return s_save(self);
}

//  ---------------------------------------------------------------------
//  The people reminders are for

//  A string of map into out (size bytes with its NUL); "" when absent.
static void s_copy_str(const msgpack_object *map, const char *key, char *out, size_t size)
{
    const char *str;
    size_t len;
    out[0] = 0;
    if (rp_obj_str(rp_obj_get(map, key), &str, &len) && len < size) {
        memcpy(out, str, len);
        out[len] = 0;
    }
}

void reminders_apply_person(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                            reminders_person_t *person)
{
    memset(person, 0, sizeof *person);
    MDB_val value;
    if (users_apply_record_get(store, txn, user, len, &value) == 0) {
        rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (doc) {
            s_copy_str(rp_doc_root(doc), "team", person->team, sizeof person->team);
            s_copy_str(rp_doc_root(doc), "manager_id", person->manager, sizeof person->manager);
        }
        rp_doc_destroy(&doc);
    }
    MDB_val k = {len, (void *)user};
    if (len && len <= 511 && mdb_get(txn, rp_store_dbi(store, PREFERENCES_DB), &k, &value) == 0) {
        rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (doc)
            s_copy_str(rp_doc_root(doc), "time_zone", person->zone, sizeof person->zone);
        rp_doc_destroy(&doc);
    }
}

//  ---------------------------------------------------------------------
//  Derived reminders

static void s_base(rp_apply_t *base, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                   const rp_event_t *event, const char *id, size_t id_len)
{
    memset(base, 0, sizeof *base);
    base->store = store;
    base->txn = txn;
    base->seq = seq;
    base->event = event;
    base->id = id;
    base->id_len = id_len;
}

int reminders_apply_derive(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                           const char *id, size_t id_len, const rp_record_t *fields)
{
    rp_apply_t base;
    s_base(&base, store, txn, seq, event, id, id_len);
    change_t self;
    s_init(&self, &base);
    int rc = s_load(&self);
    if (rc == MDB_NOTFOUND) {
        rp_record_reset(&self.r);
        rp_record_set_str(&self.r, REMINDER_ID, id, id_len);
        rp_record_set_str(&self.r, REMINDER_KIND, "task", 4);
        rp_record_set_bool(&self.r, REMINDER_ALL_DAY, false);
        rp_record_set_bool(&self.r, REMINDER_SKIP_MISSED, false);
        rp_record_set_u64(&self.r, REMINDER_SNOOZES, 0);
        rp_record_set_str(&self.r, REMINDER_STATE, "pending", 7);
        int64_t now;
        s_event_ms(&base, &now);
        s_set_time(&self.r, REMINDER_ARMED_AT, now);
        rc = 0;
    }
    char state_text[16] = "";
    const char *str;
    size_t len;
    if (rp_record_str(&self.r, REMINDER_STATE, &str, &len) && len < sizeof state_text)
        memcpy(state_text, str, len);
    const msgpack_object *state = &self.r.values[REMINDER_STATE];
    bool closed = rp_obj_streq(state, "done") || rp_obj_streq(state, "cancelled");
    bool reopen = closed && rp_obj_streq(&fields->values[REMINDER_STATE], "pending");
    bool same = true;
    for (int i = 0; same && i < REMINDER_FIELDS; i++)
        same = !fields->given[i] || i == REMINDER_STATE ||
               msgpack_object_equal(fields->values[i], self.r.values[i]);
    if (rc == 0 && same && !reopen)
        ; //  nothing to change: no new version
    else if (rc == 0 && s_overlay(&self, fields)) {
        if (reopen) {
            int64_t now;
            s_event_ms(&base, &now);
            s_set_time(&self.r, REMINDER_ARMED_AT, now);
            rp_record_set_nil(&self.r, REMINDER_SNOOZED_UNTIL);
            rp_record_set_nil(&self.r, REMINDER_DONE_THROUGH);
        } else if (closed) //  the state stays what it was
            rp_record_set_str(&self.r, REMINDER_STATE, state_text, strlen(state_text));
        rc = s_save(&self);
    } else if (rc == 0)
        rp_warn("reminders: derived reminder %.*s makes no series; left as it was", (int)id_len,
                id);
    s_fini(&self);
    return rc;
}

int reminders_apply_close(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                          const char *id, size_t id_len, const char *state)
{
    rp_apply_t base;
    s_base(&base, store, txn, seq, event, id, id_len);
    change_t self;
    s_init(&self, &base);
    int rc = s_load(&self);
    const msgpack_object *now = &self.r.values[REMINDER_STATE];
    if (rc == 0 && !rp_obj_streq(now, "done") && !rp_obj_streq(now, "cancelled")) {
        rp_record_set_str(&self.r, REMINDER_STATE, state, strlen(state));
        rc = s_save(&self);
    }
    s_fini(&self);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

#define CHANGE_ROW(name, call)                                                                     \
    static int name(rp_apply_t *base)                                                              \
    {                                                                                              \
        change_t self;                                                                             \
        s_init(&self, base);                                                                       \
        int rc = call;                                                                             \
        s_fini(&self);                                                                             \
        return rc;                                                                                 \
    }

CHANGE_ROW(s_row_created, s_created(&self))
CHANGE_ROW(s_row_updated, s_updated(&self))
CHANGE_ROW(s_row_deleted, s_deleted(&self))
CHANGE_ROW(s_row_snoozed, s_snoozed(&self))
CHANGE_ROW(s_row_done, s_done(&self))
CHANGE_ROW(s_row_cancelled, s_cancelled(&self))
CHANGE_ROW(s_row_fired, s_fired_event(&self))

static const rp_apply_type_t s_types[] = {
    {"reminder.created", s_row_created}, {"reminder.updated", s_row_updated},
    {"reminder.deleted", s_row_deleted}, {"reminder.snoozed", s_row_snoozed},
    {"reminder.done", s_row_done},       {"reminder.cancelled", s_row_cancelled},
    {"reminder.fired", s_row_fired},     {NULL},
};

static const rp_apply_def_t s_def = {"reminders", "reminder.", REMINDERS_MAX_ID, s_types, NULL};

//  The other domains' events this store folds with their services' own
//  applies: 1 through opportunities' (customer.*, user.*, lead.captured
//  go on from there to the customers fold), 2 through customers', 0 not.
static int s_foreign(const rp_event_t *event)
{
    static const char *const prefixes[] = {"opportunity.", "customer.", "user.", NULL};
    for (size_t i = 0; prefixes[i]; i++) {
        size_t len = strlen(prefixes[i]);
        if (event->type_len > len && memcmp(event->type, prefixes[i], len) == 0)
            return 1;
    }
    if (rp_event_is(event, "lead.captured"))
        return 1;
    if (rp_event_is(event, "activity.logged") || order_event(event))
        return 2;
    return 0;
}

int reminders_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                          const rp_event_t *event)
{
    (void)arg;
    int rc;
    switch (s_foreign(event)) {
    case 1:
        rc = opportunities_apply_event(NULL, store, txn, seq, event);
        if (rc == 0)
            rc = dates_follow(store, txn, seq, event);
        return rc ? rc : rules_apply_follow(store, txn, seq, event);
    case 2:
        rc = customers_apply_event(NULL, store, txn, seq, event);
        return rc ? rc : rules_apply_follow(store, txn, seq, event);
    default:
        break;
    }
    if (event->type_len > 5 && memcmp(event->type, "rule.", 5) == 0) {
        int rc = rules_apply_event(store, txn, seq, event);
        return rc ? rc : dates_follow(store, txn, seq, event); //  a date rule's lead time
    }
    rp_apply_t self;
    memset(&self, 0, sizeof self);
    return rp_apply_run(&s_def, &self, store, txn, seq, event);
}

//  ---------------------------------------------------------------------
//  Self-test

static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data)
{
    rp_apply_test_event(store, reminders_apply_event, seq, type, "reminders", "ann", data);
}

//  reminder.created {id, record: {subject, due_at, time_zone, rrule?,
//  remind_before: [before]?}}.
static void s_test_create(rp_store_t *store, uint64_t seq, const char *id, const char *due,
                          const char *rrule, const char *before)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 4 + (rrule != NULL) + (before != NULL));
    rp_pack_kv_cstr(&data.pk, "subject", "周会");
    rp_pack_kv_cstr(&data.pk, "due_at", due);
    rp_pack_kv_cstr(&data.pk, "time_zone", "Europe/Berlin");
    rp_pack_kv_cstr(&data.pk, "assignee", "ann");
    if (rrule)
        rp_pack_kv_cstr(&data.pk, "rrule", rrule);
    if (before) {
        rp_pack_cstr(&data.pk, "remind_before");
        msgpack_pack_array(&data.pk, 1);
        rp_pack_cstr(&data.pk, before);
    }
    s_test_event(store, seq, "reminder.created", &data);
    rp_packer_destroy(&data);
}

static void s_test_fire(rp_store_t *store, uint64_t seq, const char *id, const char *key,
                        const char *occurrence, const char *due)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 6);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_kv_cstr(&data.pk, "key", key);
    rp_pack_kv_cstr(&data.pk, "occurrence", occurrence);
    rp_pack_kv_u64(&data.pk, "offset", 0);
    rp_pack_kv_cstr(&data.pk, "due_at", due);
    rp_pack_kv_bool(&data.pk, "late", false);
    s_test_event(store, seq, "reminder.fired", &data);
    rp_packer_destroy(&data);
}

static void s_test_one(rp_store_t *store, uint64_t seq, const char *type, const char *id,
                       const char *key, const char *value)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, key ? 2 : 1);
    rp_pack_kv_cstr(&data.pk, "id", id);
    if (key && strcmp(key, "all") == 0)
        rp_pack_kv_bool(&data.pk, key, true);
    else if (key && strcmp(key, "changes") == 0) {
        rp_pack_cstr(&data.pk, key);
        msgpack_pack_map(&data.pk, 1);
        rp_pack_kv_cstr(&data.pk, "due_at", value);
    } else if (key)
        rp_pack_kv_cstr(&data.pk, key, value);
    s_test_event(store, seq, type, &data);
    rp_packer_destroy(&data);
}

//  The journal: a weekly Berlin series with a day's notice, fired, fired
//  again with the same key, snoozed and fired; a one-off moved after it
//  fired, moved back, then done; another one deleted.
static void s_test_journal(rp_store_t *store)
{
    s_test_create(store, 1, "r1", "2026-12-07T09:00:00+01:00", "FREQ=WEEKLY;BYDAY=MO", "P1D");
    s_test_fire(store, 2, "r1", "r1/1796630400000/86400", "2026-12-07T08:00:00Z",
                "2026-12-06T08:00:00Z");
    s_test_fire(store, 3, "r1", "r1/1796630400000/86400", "2026-12-07T08:00:00Z",
                "2026-12-06T08:00:00Z");
    s_test_one(store, 4, "reminder.snoozed", "r1", "until", "2026-12-07T07:00:00Z");
    s_test_create(store, 5, "r2", "2026-12-01T10:00:00Z", NULL, NULL);
    s_test_fire(store, 6, "r2", "r2/1796119200000/0", "2026-12-01T10:00:00Z",
                "2026-12-01T10:00:00Z");
    s_test_one(store, 7, "reminder.updated", "r2", "changes", "2026-12-02T10:00:00Z");
    s_test_one(store, 8, "reminder.updated", "r2", "changes", "2026-12-01T10:00:00Z");
    s_test_create(store, 9, "r3", "2026-12-03T10:00:00Z", NULL, NULL);
    s_test_one(store, 10, "reminder.deleted", "r3", NULL, NULL);
    s_test_one(store, 11, "reminder.snoozed", "r3", "until", "2026-12-07T07:00:00Z");
}

typedef struct {
    const char *id;
    const char *state;
    const char *next; //  next_fire_at, NULL: none
} test_want_t;

static int s_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_want_t *want = (const test_want_t *)arg;
    MDB_val k = {strlen(want->id), (void *)want->id}, v;
    assert(mdb_get(txn, rp_store_dbi(store, "reminders"), &k, &v) == 0);
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    assert(rp_obj_streq(rp_obj_get(root, "state"), want->state));
    const msgpack_object *next = rp_obj_get(root, "next_fire_at");
    if (!want->next)
        assert(next->type == MSGPACK_OBJECT_NIL);
    else if (!rp_obj_streq(next, want->next)) {
        fprintf(stderr, "%s: next_fire_at %.*s, want %s\n", want->id,
                next->type == MSGPACK_OBJECT_STR ? (int)next->via.str.size : 3,
                next->type == MSGPACK_OBJECT_STR ? next->via.str.ptr : "nil", want->next);
        assert(false);
    }
    //  The agenda holds exactly this entry for the reminder.
    MDB_val of;
    int rc = mdb_get(txn, rp_store_dbi(store, "agenda_of"), &k, &of);
    assert(want->next ? rc == 0 : rc == MDB_NOTFOUND);
    if (want->next) {
        MDB_val id;
        assert(mdb_get(txn, rp_store_dbi(store, "due"), &of, &id) == 0);
        assert(id.mv_size == k.mv_size && memcmp(id.mv_data, k.mv_data, k.mv_size) == 0);
        int64_t ms;
        assert(rp_time_parse(want->next, strlen(want->next), &ms));
        assert(rp_seq_get(of.mv_data) == (uint64_t)ms);
    }
    rp_doc_destroy(&doc);
    return 0;
}

static void s_test_expect(rp_store_t *store, const char *id, const char *state, const char *next)
{
    test_want_t want = {id, state, next};
    assert(rp_store_read(store, s_test_read, &want) == 0);
}

static int s_test_status(rp_store_t *store, uint64_t seq)
{
    char code[32];
    int status = 0;
    MDB_txn *txn;
    assert(mdb_txn_begin(rp_store_env(store), NULL, MDB_RDONLY, &txn) == 0);
    status = rp_outcome_status(store, txn, seq, code, sizeof code);
    mdb_txn_abort(txn);
    return status;
}

typedef struct {
    int64_t last;
    char ids[8][8];
    size_t n;
} test_walk_t;

static bool s_test_walk_entry(void *arg, int64_t fire_ms, const char *key, size_t key_len,
                              const char *id, size_t id_len)
{
    test_walk_t *walk = (test_walk_t *)arg;
    assert(fire_ms >= walk->last && walk->n < 8 && id_len < 8);
    assert(key_len > id_len && memcmp(key, id, id_len) == 0 && key[id_len] == '/');
    walk->last = fire_ms;
    memcpy(walk->ids[walk->n], id, id_len);
    walk->ids[walk->n++][id_len] = 0;
    return true;
}

//  The agenda walked in order up to until: the ids, comma-separated.
static int s_test_walk_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const char **io = (const char **)arg; //  [until as RFC 3339, expected ids]
    int64_t until;
    assert(rp_time_parse(io[0], strlen(io[0]), &until));
    test_walk_t walk = {0};
    size_t count;
    assert(reminders_apply_due(store, txn, until, 8, s_test_walk_entry, &walk, &count) == 0);
    char got[64] = "";
    for (size_t i = 0; i < walk.n; i++) {
        strcat(got, i ? "," : "");
        strcat(got, walk.ids[i]);
    }
    if (strcmp(got, io[1]) != 0) {
        fprintf(stderr, "agenda to %s: %s, want %s\n", io[0], got, io[1]);
        assert(false);
    }
    assert(count == walk.n);
    return 0;
}

static void s_test_walk(rp_store_t *store, const char *until, const char *ids)
{
    const char *io[2] = {until, ids};
    assert(rp_store_read(store, s_test_walk_read, io) == 0);
}

//  The agenda across reminders: one entry each, in fire order.
static void s_test_agenda(void)
{
    char dir[] = "/tmp/rp-reminders-agenda-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, reminders_apply_dbnames);
    assert(store);
    s_test_create(store, 1, "a", "2026-12-10T10:00:00Z", NULL, NULL);
    s_test_create(store, 2, "b", "2026-12-09T10:00:00Z", NULL, "PT1H");
    s_test_create(store, 3, "c", "2026-12-07T09:00:00+01:00", "FREQ=DAILY", NULL);
    s_test_walk(store, "2026-12-31T00:00:00Z", "c,b,a");
    s_test_walk(store, "2026-12-09T09:00:00Z", "c,b");
    s_test_walk(store, "2026-12-07T07:59:59Z", "");
    //  c fired: its next day is after b's; b moved after a.
    s_test_fire(store, 4, "c", "c/1796630400000/0", "2026-12-07T08:00:00Z", "2026-12-07T08:00:00Z");
    s_test_walk(store, "2026-12-08T08:00:00Z", "c");
    s_test_one(store, 5, "reminder.updated", "b", "changes", "2026-12-11T10:00:00Z");
    s_test_walk(store, "2026-12-11T23:00:00Z", "c,a,b");
    s_test_one(store, 6, "reminder.deleted", "a", NULL, NULL);
    s_test_one(store, 7, "reminder.done", "c", "all", NULL);
    s_test_walk(store, "2027-12-31T00:00:00Z", "b");
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

static void s_test_rules(void)
{
    char dir[] = "/tmp/rp-reminders-rules-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, reminders_apply_dbnames);
    assert(store);
    s_test_create(store, 1, "r1", "2026-12-07T09:00:00+01:00", "FREQ=WEEKLY;BYDAY=MO", "P1D");
    //  09:00 Berlin on Monday 7 December, a day before.
    s_test_expect(store, "r1", "pending", "2026-12-06T08:00:00.000Z");
    s_test_fire(store, 2, "r1", "r1/1796630400000/86400", "2026-12-07T08:00:00Z",
                "2026-12-06T08:00:00Z");
    assert(s_test_status(store, 2) == 200);
    s_test_expect(store, "r1", "fired", "2026-12-13T08:00:00.000Z");
    //  The same key again: refused, nothing moves.
    s_test_fire(store, 3, "r1", "r1/1796630400000/86400", "2026-12-07T08:00:00Z",
                "2026-12-06T08:00:00Z");
    assert(s_test_status(store, 3) == 409);
    s_test_expect(store, "r1", "fired", "2026-12-13T08:00:00.000Z");
    s_test_one(store, 4, "reminder.snoozed", "r1", "until", "2026-12-07T07:00:00Z");
    s_test_expect(store, "r1", "snoozed", "2026-12-07T07:00:00.000Z");
    s_test_fire(store, 5, "r1", "r1/1796630400000/snooze-1", "2026-12-07T08:00:00Z",
                "2026-12-07T07:00:00Z");
    s_test_expect(store, "r1", "fired", "2026-12-13T08:00:00.000Z");
    s_test_one(store, 6, "reminder.done", "r1", "occurrence", "2026-12-14T08:00:00Z");
    s_test_expect(store, "r1", "pending", "2026-12-20T08:00:00.000Z");
    s_test_one(store, 7, "reminder.done", "r1", "all", NULL);
    s_test_expect(store, "r1", "done", NULL);
    //  A firing read from the agenda before the done: refused, still done.
    s_test_fire(store, 70, "r1", "r1/1797235200000/86400", "2026-12-14T08:00:00Z",
                "2026-12-13T08:00:00Z");
    assert(s_test_status(store, 70) == 409);
    s_test_expect(store, "r1", "done", NULL);

    //  A one-off: fired, moved later (armed again), moved back (not twice).
    s_test_create(store, 8, "r2", "2026-12-01T10:00:00Z", NULL, NULL);
    s_test_expect(store, "r2", "pending", "2026-12-01T10:00:00.000Z");
    s_test_fire(store, 9, "r2", "r2/1796119200000/0", "2026-12-01T10:00:00Z",
                "2026-12-01T10:00:00Z");
    s_test_expect(store, "r2", "fired", NULL);
    s_test_one(store, 10, "reminder.updated", "r2", "changes", "2026-12-02T10:00:00Z");
    s_test_expect(store, "r2", "pending", "2026-12-02T10:00:00.000Z");
    s_test_one(store, 11, "reminder.updated", "r2", "changes", "2026-12-01T10:00:00Z");
    s_test_expect(store, "r2", "pending", NULL);

    //  Deleted: gone with its agenda entry; a later event is 404.
    s_test_create(store, 12, "r3", "2026-12-03T10:00:00Z", NULL, NULL);
    s_test_one(store, 13, "reminder.deleted", "r3", NULL, NULL);
    assert(s_test_status(store, 13) == 200);
    s_test_one(store, 14, "reminder.snoozed", "r3", "until", "2026-12-07T07:00:00Z");
    assert(s_test_status(store, 14) == 404);
    s_test_one(store, 15, "reminder.exploded", "r2", NULL, NULL);
    assert(s_test_status(store, 15) == 422);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

void reminders_apply_test(void)
{
    s_test_rules();
    s_test_agenda();
    rp_apply_test_replay("reminders", reminders_apply_dbnames, s_test_journal);
}
