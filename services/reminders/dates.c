/*  dates.c — see dates.h. */
#include "dates.h"
#include "apply.h"
#include "reminder.h"
#include "rules.h"

#include "../customers/apply.h"
#include "../customers/customer.h"

#include <rapport/duration.h>
#include <rapport/intl.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define DATES_MAX   100 //  a customer's dates taken, at most
#define SOURCE_MAX  64
#define SUBJECT_MAX 200

static char s_zone[RP_ZONE_MAX + 1] = REMINDER_ZONE_DEFAULT;

void dates_set_zone(const char *zone)
{
    snprintf(s_zone, sizeof s_zone, "%s", zone);
}

//  One date a customer should have a reminder for.
typedef struct {
    char source[SOURCE_MAX + 1]; //  a contact id, or "registered_on"
    int month, day;
    char subject[SUBJECT_MAX + 1];
} wanted_t;

typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    const char *id; //  the customer's
    size_t id_len;
    const msgpack_object *name; //  the customer's
    wanted_t wanted[DATES_MAX];
    size_t count;
} follow_t;

//  "YYYY-MM-DD" into month and day.
static bool s_month_day(const msgpack_object *date, int *month, int *day)
{
    const char *str;
    size_t len;
    if (!rp_obj_str(date, &str, &len) || len != 10 || str[4] != '-' || str[7] != '-')
        return false;
    *month = (str[5] - '0') * 10 + (str[6] - '0');
    *day = (str[8] - '0') * 10 + (str[9] - '0');
    return *month >= 1 && *month <= 12 && *day >= 1 && *day <= 31;
}

static void s_want(follow_t *self, const char *source, size_t source_len,
                   const msgpack_object *date, const char *what, const msgpack_object *name,
                   const msgpack_object *customer)
{
    if (self->count == DATES_MAX || source_len == 0 || source_len > SOURCE_MAX)
        return;
    wanted_t *w = &self->wanted[self->count];
    if (!s_month_day(date, &w->month, &w->day))
        return;
    memcpy(w->source, source, source_len);
    w->source[source_len] = 0;
    const char *n = "", *c = "";
    size_t n_len = 0, c_len = 0;
    rp_obj_str(name, &n, &n_len);
    rp_obj_str(customer, &c, &c_len);
    //  Cut on the whole: subject's 200 bytes are checked as UTF-8 by the
    //  field table, so keep whole names (each ≤ 100 bytes by their tables).
    if (c_len > 90)
        c_len = 0;
    if (n_len > 90)
        n_len = 0;
    if (n_len && c_len)
        snprintf(w->subject, sizeof w->subject, "%s: %.*s (%.*s)", what, (int)n_len, n, (int)c_len,
                 c);
    else
        snprintf(w->subject, sizeof w->subject, "%s: %.*s", what, (int)(n_len ? n_len : c_len),
                 n_len ? n : c);
    self->count++;
}

//  fn for each entry of db under "<customer id> NUL", with the rest of its
//  key (the source), its value and the cursor on it; fn's nonzero stops.
typedef int(each_fn)(follow_t *self, MDB_cursor *c, const char *source, size_t source_len,
                     const MDB_val *value);

static int s_each(follow_t *self, const char *db, each_fn *fn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(self->txn, rp_store_dbi(self->store, db), &c);
    if (rc)
        return rc;
    char prefix[REMINDERS_MAX_ID + 1];
    memcpy(prefix, self->id, self->id_len);
    prefix[self->id_len] = 0;
    size_t len = self->id_len + 1;
    MDB_val k = {len, prefix}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > len && memcmp(k.mv_data, prefix, len) == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((rc = fn(self, c, (const char *)k.mv_data + len, k.mv_size - len, &v)) != 0)
            break;
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  A contact with a birthday.
static int s_want_contact(follow_t *self, MDB_cursor *c, const char *source, size_t source_len,
                          const MDB_val *value)
{
    (void)c;
    rp_doc_t *doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    if (!doc)
        return 0;
    const msgpack_object *contact = rp_doc_root(doc);
    s_want(self, source, source_len, rp_obj_get(contact, "birthday"), "Birthday",
           rp_obj_get(contact, "name"), self->name);
    rp_doc_destroy(&doc);
    return 0;
}

//  "d-" and 16 hex digits of FNV-1a over (customer id, NUL, source).
static void s_derived_id(const char *customer, size_t len, const char *source, char out[19])
{
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++)
        hash = (hash ^ (uint8_t)customer[i]) * 1099511628211ULL;
    hash *= 1099511628211ULL; //  the NUL
    for (const char *p = source; *p; p++)
        hash = (hash ^ (uint8_t)*p) * 1099511628211ULL;
    snprintf(out, 19, "d-%016" PRIx64, hash);
}

static int s_derive(follow_t *self, const wanted_t *w, const rp_record_t *customer,
                    const char *zone)
{
    rp_record_t fields;
    reminder_init(&fields);
    int64_t due;
    //  2000 is a leap year: every day of the year is in it.
    if (!rp_recurrence_local_ms(zone, 2000, w->month, w->day, 0, 0, 0, &due))
        return 0;
    char text[32];
    rp_time_format(due, text);
    rp_record_set_str(&fields, REMINDER_SUBJECT, w->subject, strlen(w->subject));
    rp_record_set_str(&fields, REMINDER_KIND, "date", 4);
    rp_record_set_str(&fields, REMINDER_DUE_AT, text, strlen(text));
    rp_record_set_str(&fields, REMINDER_TIME_ZONE, zone, strlen(zone));
    rp_record_set_bool(&fields, REMINDER_ALL_DAY, true);
    const char *rrule =
        w->month == 2 && w->day == 29 ? "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1" : "FREQ=YEARLY";
    rp_record_set_str(&fields, REMINDER_RRULE, rrule, strlen(rrule));
    //  The lead time: the team's date rule's, else every team's, else P3D.
    const char *team = "";
    size_t team_len = 0;
    rp_record_str(customer, CUSTOMER_TEAM, &team, &team_len);
    int64_t seconds;
    char lead[RP_DURATION_TEXT] = DATES_LEAD;
    if (rules_date_lead(self->store, self->txn, team, team_len, &seconds))
        rp_duration_format(seconds, lead);
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_array(&p.pk, 2);
    rp_pack_cstr(&p.pk, lead);
    rp_pack_cstr(&p.pk, "PT0S");
    rp_doc_t *before = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(before);
    rp_record_set_copy(&fields, REMINDER_REMIND_BEFORE, rp_doc_root(before));
    static const int copied[][2] = {{CUSTOMER_OWNER, REMINDER_ASSIGNEE},
                                    {CUSTOMER_TEAM, REMINDER_TEAM},
                                    {CUSTOMER_ID, REMINDER_CUSTOMER_ID}};
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        const char *str;
        size_t len;
        if (rp_record_str(customer, copied[i][0], &str, &len))
            rp_record_set_str(&fields, copied[i][1], str, len);
        else
            rp_record_set_nil(&fields, copied[i][1]);
    }
    char id[19];
    s_derived_id(self->id, self->id_len, w->source, id);
    char key[REMINDERS_MAX_ID + 1 + SOURCE_MAX];
    memcpy(key, self->id, self->id_len);
    key[self->id_len] = 0;
    size_t len = strlen(w->source);
    memcpy(key + self->id_len + 1, w->source, len);
    MDB_val k = {self->id_len + 1 + len, key}, v = {18, id}, old;
    MDB_dbi dbi = rp_store_dbi(self->store, DATES_DB);
    if (mdb_get(self->txn, dbi, &k, &old) == MDB_NOTFOUND) //  new, or cancelled by us
        rp_record_set_str(&fields, REMINDER_STATE, "pending", 7);
    int rc =
        reminders_apply_derive(self->store, self->txn, self->seq, self->event, id, 18, &fields);
    rp_doc_destroy(&before);
    rp_packer_destroy(&p);
    rp_record_reset(&fields);
    return rc ? rc : mdb_put(self->txn, dbi, &k, &v, 0);
}

static bool s_wanted(const follow_t *self, const char *source, size_t len)
{
    for (size_t i = 0; i < self->count; i++)
        if (strlen(self->wanted[i].source) == len &&
            memcmp(self->wanted[i].source, source, len) == 0)
            return true;
    return false;
}

//  A derived reminder no longer wanted: cancelled, its entry gone.
static int s_cancel_unwanted(follow_t *self, MDB_cursor *c, const char *source, size_t source_len,
                             const MDB_val *value)
{
    if (s_wanted(self, source, source_len))
        return 0;
    char id[REMINDERS_MAX_ID];
    size_t id_len = value->mv_size < sizeof id ? value->mv_size : sizeof id;
    memcpy(id, value->mv_data, id_len);
    int rc = mdb_cursor_del(c, 0);
    return rc ? rc
              : reminders_apply_close(self->store, self->txn, self->seq, self->event, id, id_len,
                                      "cancelled");
}

static int s_follow(follow_t *self)
{
    customers_apply_held_t held;
    int rc = customers_apply_hold(self->store, self->txn, self->id, self->id_len, &held);
    if (rc && rc != MDB_NOTFOUND) {
        customers_apply_release(&held);
        return rc;
    }
    self->count = 0;
    const char *owner = NULL;
    size_t owner_len = 0;
    bool live = rc == 0 && !rp_record_bool(&held.record, CUSTOMER_ARCHIVED) &&
                rp_record_str(&held.record, CUSTOMER_OWNER, &owner, &owner_len);
    if (live) {
        self->name = &held.record.values[CUSTOMER_NAME]; //  cleared below

        s_want(self, "registered_on", 13, &held.record.values[CUSTOMER_REGISTERED_ON],
               "Anniversary", self->name, NULL);
        rc = s_each(self, "contacts", s_want_contact);
    }
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = s_each(self, DATES_DB, s_cancel_unwanted);
    if (live && rc == 0) {
        reminders_person_t person; //  the owner's zone, else the service's
        reminders_apply_person(self->store, self->txn, owner, owner_len, &person);
        const char *zone = person.zone[0] ? person.zone : s_zone;
        for (size_t i = 0; rc == 0 && i < self->count; i++)
            rc = s_derive(self, &self->wanted[i], &held.record, zone);
    }
    self->name = NULL;
    customers_apply_release(&held);
    return rc;
}

//  The customers whose derived dates are user's (NULL: anyone's), into
//  *list (zlistx of strings): the dates walked, each reminder's assignee
//  read.
static int s_customers_of(rp_store_t *store, MDB_txn *txn, const char *user, size_t len,
                          zlistx_t *list)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, DATES_DB), &c);
    if (rc)
        return rc;
    MDB_dbi reminders = rp_store_dbi(store, "reminders");
    MDB_val k, v, r;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        size_t id_len = strnlen(k.mv_data, k.mv_size);
        const char *last = zlistx_last(list);
        if (last && strlen(last) == id_len && memcmp(last, k.mv_data, id_len) == 0)
            continue; //  this customer is in already
        if (mdb_get(txn, reminders, &v, &r))
            continue;
        rp_doc_t *doc = rp_doc_new(r.mv_data, r.mv_size, NULL);
        const char *str;
        size_t str_len;
        bool theirs =
            !user || (doc && rp_obj_str(rp_obj_get(rp_doc_root(doc), "assignee"), &str, &str_len) &&
                      str_len == len && memcmp(str, user, len) == 0);
        if (theirs && id_len <= REMINDERS_MAX_ID) {
            char *id = zmalloc(id_len + 1);
            memcpy(id, k.mv_data, id_len);
            zlistx_add_end(list, id);
        }
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  A user's new preferred zone moves the dates derived for them (user);
//  a date rule's change, everyone's lead time (NULL).
static int s_follow_all(follow_t *self, const char *user, size_t len)
{
    zlistx_t *list = zlistx_new();
    zlistx_set_destructor(list, (zlistx_destructor_fn *)zstr_free);
    int rc = s_customers_of(self->store, self->txn, user, len, list);
    for (const char *id = zlistx_first(list); rc == 0 && id; id = zlistx_next(list)) {
        self->id = id;
        self->id_len = strlen(id);
        rc = s_follow(self);
    }
    zlistx_destroy(&list);
    return rc;
}

//  The customer.* events that can change a date, a contact, the owner or
//  archiving: the others (activities, grading, matches — the frequent
//  ones) leave every derived date as it is, and are not walked for.
static bool s_moves_dates(const rp_event_t *event)
{
    static const char *const types[] = {"customer.created",         "customer.updated",
                                        "customer.archived",        "customer.restored",
                                        "customer.contact_added",   "customer.contact_updated",
                                        "customer.contact_removed", "customer.assigned",
                                        "customer.merged",          NULL};
    for (size_t i = 0; types[i]; i++)
        if (rp_event_is(event, types[i]))
            return true;
    return false;
}

int dates_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    bool preferences = rp_event_is(event, "user.preferences_set");
    bool rule = event->type_len > 5 && memcmp(event->type, "rule.", 5) == 0 &&
                !rp_event_is(event, "rule.matched") && !rp_event_is(event, "rule.escalated");
    if (!preferences && !rule && !s_moves_dates(event))
        return 0;
    char code[32];
    if (rp_outcome_status(store, txn, seq, code, sizeof code) != 200)
        return 0;
    follow_t *self = calloc(1, sizeof *self);
    assert(self);
    self->store = store;
    self->txn = txn;
    self->seq = seq;
    self->event = event;
    const msgpack_object *data = event->data;
    int rc = 0;
    const char *user;
    size_t len;
    if (rule)
        rc = s_follow_all(self, NULL, 0);
    else if (preferences && rp_obj_str(rp_obj_get(data, "id"), &user, &len))
        rc = s_follow_all(self, user, len);
    else if (preferences)
        rc = 0;
    else if (rp_obj_str(rp_obj_get(data, "id"), &self->id, &self->id_len) &&
             self->id_len <= REMINDERS_MAX_ID)
        rc = s_follow(self);
    //  A merge archives its sources and moves their contacts to id.
    const msgpack_object *from = rp_obj_get(data, "from");
    if (rp_event_is(event, "customer.merged") && rp_obj_is_array(from))
        for (uint32_t i = 0; rc == 0 && i < from->via.array.size; i++)
            if (rp_obj_str(&from->via.array.ptr[i], &self->id, &self->id_len) &&
                self->id_len <= REMINDERS_MAX_ID)
                rc = s_follow(self);
    free(self);
    return rc;
}

//  ---------------------------------------------------------------------
//  Self-test

static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data)
{
    rp_apply_test_event(store, reminders_apply_event, seq, type, "customers", "boss", data);
}

//  customer c1 of owner, registered on 2010-06-01, then a contact with a
//  birthday on 29 February; then moved to bob, the contact removed, and
//  the customer archived.
static void s_test_customer(rp_store_t *store, uint64_t seq, const char *type, const char *field,
                            const char *value)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, field ? 2 : 1);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    if (field && strcmp(field, "record") == 0) {
        rp_pack_cstr(&data.pk, "record");
        msgpack_pack_map(&data.pk, 4);
        rp_pack_kv_cstr(&data.pk, "name", "华东机电");
        rp_pack_kv_cstr(&data.pk, "owner", value);
        rp_pack_kv_cstr(&data.pk, "team", "east");
        rp_pack_kv_cstr(&data.pk, "registered_on", "2010-06-01");
    } else if (field)
        rp_pack_kv_cstr(&data.pk, field, value);
    s_test_event(store, seq, type, &data);
    rp_packer_destroy(&data);
}

static void s_test_contact(rp_store_t *store, uint64_t seq, const char *type, bool with)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, with ? 3 : 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_cstr(&data.pk, "contact_id", "k1");
    if (with) {
        rp_pack_cstr(&data.pk, "contact");
        msgpack_pack_map(&data.pk, 2);
        rp_pack_kv_cstr(&data.pk, "name", "张三");
        rp_pack_kv_cstr(&data.pk, "birthday", "1984-02-29");
    }
    s_test_event(store, seq, type, &data);
    rp_packer_destroy(&data);
}

typedef struct {
    const char *source;
    const char *assignee, *state, *next; //  NULL assignee: no reminder
} test_want_t;

static int s_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    const test_want_t *want = (const test_want_t *)arg;
    char id[19];
    s_derived_id("c1", 2, want->source, id);
    MDB_val k = {18, id}, v;
    int rc = mdb_get(txn, rp_store_dbi(store, "reminders"), &k, &v);
    if (!want->assignee) {
        assert(rc == MDB_NOTFOUND);
        return 0;
    }
    assert(rc == 0);
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    assert(doc);
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(rp_obj_get(r, "kind"), "date"));
    assert(rp_obj_streq(rp_obj_get(r, "customer_id"), "c1"));
    assert(rp_obj_streq(rp_obj_get(r, "assignee"), want->assignee));
    assert(rp_obj_streq(rp_obj_get(r, "state"), want->state));
    const msgpack_object *next = rp_obj_get(r, "next_fire_at");
    if (want->next && !rp_obj_streq(next, want->next)) {
        fprintf(stderr, "%s: next %.*s, want %s\n", want->source, (int)next->via.str.size,
                next->via.str.ptr, want->next);
        assert(false);
    }
    if (!want->next)
        assert(next->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_test_expect(rp_store_t *store, const char *source, const char *assignee,
                          const char *state, const char *next)
{
    test_want_t want = {source, assignee, state, next};
    assert(rp_store_read(store, s_test_read, &want) == 0);
}

static void s_test_journal(rp_store_t *store)
{
    s_test_customer(store, 1, "customer.created", "record", "ann");
    s_test_contact(store, 2, "customer.contact_added", true);
    s_test_customer(store, 3, "customer.assigned", "owner", "bob");
    s_test_contact(store, 4, "customer.contact_removed", false);
    s_test_customer(store, 5, "customer.archived", NULL, NULL);
}

void dates_test(void)
{
    char dir[] = "/tmp/rp-reminders-dates-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, reminders_apply_dbnames);
    assert(store);
    //  Events are at 2026-11-23T08:00:SS (rp_apply_test_event): the next
    //  anniversary is 1 June 2027, midnight in Shanghai, three days before.
    s_test_customer(store, 1, "customer.created", "record", "ann");
    s_test_expect(store, "registered_on", "ann", "pending", "2027-05-28T16:00:00.000Z");
    s_test_expect(store, "k1", NULL, NULL, NULL);
    //  29 February: in 2027 the last day of February; 2028 is a leap year.
    s_test_contact(store, 2, "customer.contact_added", true);
    s_test_expect(store, "k1", "ann", "pending", "2027-02-24T16:00:00.000Z");
    s_test_customer(store, 3, "customer.assigned", "owner", "bob");
    s_test_expect(store, "k1", "bob", "pending", "2027-02-24T16:00:00.000Z");
    s_test_expect(store, "registered_on", "bob", "pending", "2027-05-28T16:00:00.000Z");
    s_test_contact(store, 4, "customer.contact_removed", false);
    s_test_expect(store, "k1", "bob", "cancelled", NULL);
    s_test_expect(store, "registered_on", "bob", "pending", "2027-05-28T16:00:00.000Z");
    s_test_customer(store, 5, "customer.archived", NULL, NULL);
    s_test_expect(store, "registered_on", "bob", "cancelled", NULL);
    //  Restored: the anniversary opens again.
    s_test_customer(store, 6, "customer.restored", NULL, NULL);
    s_test_expect(store, "registered_on", "bob", "pending", "2027-05-28T16:00:00.000Z");
    //  Cancelled by bob: it follows the customer, closed, until its date
    //  is taken away and given again.
    char id[19];
    s_derived_id("c1", 2, "registered_on", id);
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_apply_test_event(store, reminders_apply_event, 7, "reminder.cancelled", "reminders", "bob",
                        &data);
    rp_packer_destroy(&data);
    s_test_expect(store, "registered_on", "bob", "cancelled", NULL);
    s_test_customer(store, 8, "customer.assigned", "owner", "ann");
    s_test_expect(store, "registered_on", "ann", "cancelled", NULL);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
    rp_apply_test_replay("reminders-dates", reminders_apply_dbnames, s_test_journal);
}
