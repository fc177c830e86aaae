/*  query.c — see query.h. */
#include "query.h"
#include "apply.h"
#include "ops.h"
#include "reminder.h"

#include <rapport/normalize.h>
#include <rapport/scope.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A string filter: absent (len 0, str NULL) or the bytes to match.
typedef struct {
    const char *str;
    size_t len;
} filter_t;

typedef struct {
    const rp_scope_t *actor;
    filter_t assignee, state, kind, customer, opportunity, after_id;
    char before[RP_NORMALIZE_TIME_MAX], after[RP_NORMALIZE_TIME_MAX]; //  "" none
    int overdue;                                                      //  -1: no filter, else 0 or 1
    char now[RP_NORMALIZE_TIME_MAX];                                  //  for overdue
    uint64_t limit;
    //  out
    rp_packer_t *items;
    size_t count;
    char next[REMINDERS_MAX_ID + 1];
} list_t;

static bool s_match(const filter_t *filter, const msgpack_object *value)
{
    return !filter->str ||
           (value->type == MSGPACK_OBJECT_STR && value->via.str.size == filter->len &&
            memcmp(value->via.str.ptr, filter->str, filter->len) == 0);
}

//  A one-off not done nor cancelled whose due time is before now (a
//  series is never overdue: its next occurrence comes).
static bool s_overdue(const rp_record_t *r, const char *due, const char *now)
{
    const msgpack_object *state = &r->values[REMINDER_STATE];
    return r->values[REMINDER_RRULE].type != MSGPACK_OBJECT_STR && !rp_obj_streq(state, "done") &&
           !rp_obj_streq(state, "cancelled") && strcmp(due, now) < 0;
}

static bool s_keep(const list_t *list, const rp_record_t *r)
{
    const char *due = "";
    size_t due_len = 0;
    rp_record_str(r, REMINDER_DUE_AT, &due, &due_len);
    char text[RP_NORMALIZE_TIME_MAX] = "";
    snprintf(text, sizeof text, "%.*s", (int)due_len, due);
    return reminders_ops_allowed(list->actor, r, false) &&
           s_match(&list->assignee, &r->values[REMINDER_ASSIGNEE]) &&
           s_match(&list->state, &r->values[REMINDER_STATE]) &&
           s_match(&list->kind, &r->values[REMINDER_KIND]) &&
           s_match(&list->customer, &r->values[REMINDER_CUSTOMER_ID]) &&
           s_match(&list->opportunity, &r->values[REMINDER_OPPORTUNITY_ID]) &&
           (!*list->before || strcmp(text, list->before) < 0) &&
           (!*list->after || strcmp(text, list->after) >= 0) &&
           (list->overdue < 0 || s_overdue(r, text, list->now) == (list->overdue == 1));
}

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "reminders"), &c);
    if (rc)
        return rc;
    MDB_val k = {list->after_id.len, (void *)list->after_id.str}, v;
    rc = mdb_cursor_get(c, &k, &v, list->after_id.str ? MDB_SET_RANGE : MDB_FIRST);
    if (rc == 0 && list->after_id.str && k.mv_size == list->after_id.len &&
        memcmp(k.mv_data, list->after_id.str, k.mv_size) == 0)
        rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    for (; rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        if (!doc)
            continue;
        rp_record_t r;
        reminder_init(&r);
        rp_record_from_map(&r, rp_doc_root(doc));
        bool keep = s_keep(list, &r);
        rp_record_reset(&r);
        rp_doc_destroy(&doc);
        if (!keep)
            continue;
        if (list->count == list->limit) {
            //  one more exists: the page ends at the last id packed
            break;
        }
        msgpack_sbuffer_write(&list->items->buffer, v.mv_data, v.mv_size);
        list->count++;
        snprintf(list->next, sizeof list->next, "%.*s", (int)k.mv_size, (const char *)k.mv_data);
    }
    if (rc == MDB_NOTFOUND)
        list->next[0] = 0; //  the last page
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  An optional string arg into filter: false (with an error) when it is
//  not a string of 1..max bytes.
static bool s_filter(const rp_request_t *req, const char *name, size_t max, filter_t *filter,
                     rp_field_error_t *errors, int *count)
{
    const msgpack_object *o = rp_obj_get(req->args, name);
    memset(filter, 0, sizeof *filter);
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (!rp_obj_str(o, &filter->str, &filter->len) || filter->len == 0 || filter->len > max) {
        rp_field_error_set(&errors[(*count)++], name, strlen(name), "invalid");
        filter->str = NULL;
        return false;
    }
    return true;
}

static void s_time_filter(const rp_request_t *req, const char *name, char out[],
                          rp_field_error_t *errors, int *count)
{
    filter_t f;
    out[0] = 0;
    if (!s_filter(req, name, 64, &f, errors, count) || !f.str)
        return;
    if (rp_normalize_time(f.str, f.len, out)) {
        out[0] = 0;
        rp_field_error_set(&errors[*count], name, strlen(name), "invalid");
        errors[(*count)++].message = "an RFC 3339 time";
    }
}

//  args.limit: absent (def), or 1..max; false (with an error) otherwise.
static bool s_limit(const rp_request_t *req, uint64_t def, uint64_t max, uint64_t *limit,
                    rp_field_error_t *errors, int *count)
{
    const msgpack_object *o = rp_obj_get(req->args, "limit");
    *limit = def;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (!rp_obj_u64(o, limit) || *limit < 1 || *limit > max) {
        rp_field_error_set(&errors[(*count)++], "limit", 5, "out_of_range");
        *limit = def;
        return false;
    }
    return true;
}

void reminders_query_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    rp_packer_t items;
    rp_packer_init(&items);
    list_t list;
    memset(&list, 0, sizeof list);
    list.actor = &actor;
    list.items = &items;
    rp_field_error_t errors[10];
    int count = 0;
    s_filter(req, "assignee", 100, &list.assignee, errors, &count);
    if (list.assignee.str && list.assignee.len == 2 && memcmp(list.assignee.str, "me", 2) == 0) {
        list.assignee.str = actor.user ? actor.user : "";
        list.assignee.len = actor.user_len;
    }
    s_filter(req, "state", 16, &list.state, errors, &count);
    s_filter(req, "kind", 16, &list.kind, errors, &count);
    s_filter(req, "customer_id", 64, &list.customer, errors, &count);
    s_filter(req, "opportunity_id", 64, &list.opportunity, errors, &count);
    s_filter(req, "cursor", REMINDERS_MAX_ID, &list.after_id, errors, &count);
    s_time_filter(req, "due_before", list.before, errors, &count);
    s_time_filter(req, "due_after", list.after, errors, &count);
    s_limit(req, REMINDERS_LIST_DEFAULT, REMINDERS_LIST_MAX, &list.limit, errors, &count);
    const msgpack_object *overdue = rp_obj_get(req->args, "overdue");
    bool flag = false;
    list.overdue = -1;
    if (overdue && overdue->type != MSGPACK_OBJECT_NIL && !rp_obj_bool(overdue, &flag))
        rp_field_error_set(&errors[count++], "overdue", 7, "type");
    else if (overdue && overdue->type != MSGPACK_OBJECT_NIL) {
        char now[32];
        rp_time_now(now);
        list.overdue = flag;
        snprintf(list.now, sizeof list.now, "%.24s", now);
    }
    if (count)
        rp_service_reply_invalid(service, &origin, "some parameters are not valid", errors, count);
    else if (!rp_scope_may_read(&actor))
        rp_service_reply_page(service, &origin, &items, 0, NULL);
    else if (rp_store_read(rp_service_store(service), s_list_read, &list))
        rp_service_reply_error(service, &origin, 500, "store", "the store could not be read");
    else
        rp_service_reply_page(service, &origin, &items, list.count, list.next);
    rp_packer_destroy(&items);
}

//  ---------------------------------------------------------------------
//  Occurrences

typedef struct {
    const rp_scope_t *actor;
    const char *id;
    size_t id_len;
    int64_t from, to;
    uint64_t limit;
    //  out
    bool found;
    rp_packer_t *items;
    size_t count;
} occurrences_t;

static int s_occurrences_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    occurrences_t *q = (occurrences_t *)arg;
    if (q->id_len == 0 || q->id_len > REMINDERS_MAX_ID)
        return 0;
    MDB_val k = {q->id_len, (void *)q->id}, v;
    if (mdb_get(txn, rp_store_dbi(store, "reminders"), &k, &v))
        return 0;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    if (!doc)
        return 0;
    rp_record_t r;
    reminder_init(&r);
    rp_record_from_map(&r, rp_doc_root(doc));
    q->found = reminders_ops_allowed(q->actor, &r, false);
    const char *field;
    rp_recurrence_t *series = q->found ? reminder_series(&r, &field) : NULL;
    int64_t offsets[REMINDER_MAX_OFFSETS], at, from = q->from;
    size_t n = reminder_offsets(&r, offsets);
    MDB_dbi fired = rp_store_dbi(store, "fired_keys");
    while (series && q->count < q->limit && rp_recurrence_next(series, from, &at) && at <= q->to) {
        char text[32], key[REMINDER_KEY_MAX];
        bool any = false;
        msgpack_pack_map(&q->items->pk, 3);
        rp_time_format(at, text);
        rp_pack_kv_cstr(&q->items->pk, "at", text);
        rp_pack_cstr(&q->items->pk, "fire_at");
        msgpack_pack_array(&q->items->pk, (uint32_t)n);
        for (size_t i = 0; i < n; i++) {
            rp_time_format(at - offsets[i] * 1000, text);
            rp_pack_cstr(&q->items->pk, text);
            reminder_key(q->id, q->id_len, at, offsets[i], key);
            MDB_val fk = {strlen(key), key}, fv;
            any = any || mdb_get(txn, fired, &fk, &fv) == 0;
        }
        rp_pack_kv_bool(&q->items->pk, "fired", any);
        q->count++;
        from = at + 1;
    }
    rp_recurrence_destroy(&series);
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    return 0;
}

bool reminders_query_time_arg(const rp_request_t *req, const char *name, int64_t *ms,
                              rp_field_error_t *errors, int *count)
{
    const msgpack_object *o = rp_obj_get(req->args, name);
    const char *str;
    size_t len;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return false;
    if (!rp_obj_str(o, &str, &len) || !rp_time_parse(str, len, ms)) {
        rp_field_error_set(&errors[*count], name, strlen(name), "invalid");
        errors[(*count)++].message = "an RFC 3339 time";
        return false;
    }
    return true;
}

void reminders_query_occurrences(void *arg, rp_service_t *service, rp_origin_t *origin,
                                 const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    rp_packer_t items;
    rp_packer_init(&items);
    occurrences_t q;
    memset(&q, 0, sizeof q);
    q.actor = &actor;
    q.items = &items;
    rp_field_error_t errors[4];
    int count = 0;
    if (!reminders_query_time_arg(req, "from", &q.from, errors, &count) && count == 0) {
        char now[32];
        rp_time_now(now);
        rp_time_parse(now, strlen(now), &q.from);
    }
    if (!reminders_query_time_arg(req, "to", &q.to, errors, &count))
        q.to = q.from + REMINDERS_OCCURRENCES_RANGE;
    s_limit(req, REMINDERS_OCCURRENCES_DEF, REMINDERS_OCCURRENCES_MAX, &q.limit, errors, &count);
    if (count == 0 && q.to < q.from) {
        rp_field_error_set(&errors[count], "to", 2, "out_of_range");
        errors[count++].message = "to is before from";
    }
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &q.id, &q.id_len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else if (count)
        rp_service_reply_invalid(service, &origin, "some parameters are not valid", errors, count);
    else if (rp_store_read(rp_service_store(service), s_occurrences_read, &q))
        rp_service_reply_error(service, &origin, 500, "store", "the store could not be read");
    else if (!q.found)
        rp_service_reply_error(service, &origin, 404, "not_found", "no such reminder");
    else
        rp_service_reply_page(service, &origin, &items, q.count, NULL);
    rp_packer_destroy(&items);
}

//  ---------------------------------------------------------------------
//  The agenda

typedef struct {
    int64_t at;
    size_t offset, size; //  its packed item in the agenda's buffer
    char id[REMINDERS_MAX_ID + 1];
} slot_t;

typedef struct {
    list_t list; //  the filters (s_keep)
    int64_t from, to;
    uint64_t limit;
    rp_packer_t packed;
    slot_t *slots;
    size_t count;
    bool truncated;
} agenda_t;

static int s_slot_cmp(const void *a, const void *b)
{
    const slot_t *x = (const slot_t *)a, *y = (const slot_t *)b;
    if (x->at != y->at)
        return x->at < y->at ? -1 : 1;
    return strcmp(x->id, y->id);
}

static void s_pack_str_of(msgpack_packer *pk, const char *key, const rp_record_t *r, int field)
{
    rp_pack_cstr(pk, key);
    msgpack_pack_object(pk, r->values[field]);
}

//  Keep the earliest limit occurrences: the slots are a bounded set that
//  is sorted and cut when full, so a busy range costs memory in limit.
static void s_agenda_add(void *arg, int64_t at, const rp_record_t *r, const char *id, size_t id_len,
                         bool fired, bool done)
{
    agenda_t *self = (agenda_t *)arg;
    size_t cap = 2 * self->limit;
    if (self->count == cap) {
        qsort(self->slots, self->count, sizeof *self->slots, s_slot_cmp);
        self->count = self->limit;
        self->truncated = true;
    }
    if (self->truncated && at > self->slots[self->limit - 1].at)
        return;
    slot_t *slot = &self->slots[self->count++];
    slot->at = at;
    snprintf(slot->id, sizeof slot->id, "%.*s", (int)id_len, id);
    slot->offset = self->packed.buffer.size;
    msgpack_packer *pk = &self->packed.pk;
    char text[32];
    rp_time_format(at, text);
    msgpack_pack_map(pk, 11);
    rp_pack_kv_cstr(pk, "at", text);
    rp_pack_cstr(pk, "reminder_id");
    rp_pack_strn(pk, id, id_len);
    s_pack_str_of(pk, "subject", r, REMINDER_SUBJECT);
    s_pack_str_of(pk, "kind", r, REMINDER_KIND);
    s_pack_str_of(pk, "assignee", r, REMINDER_ASSIGNEE);
    s_pack_str_of(pk, "customer_id", r, REMINDER_CUSTOMER_ID);
    s_pack_str_of(pk, "opportunity_id", r, REMINDER_OPPORTUNITY_ID);
    rp_pack_kv_bool(pk, "all_day", rp_record_bool(r, REMINDER_ALL_DAY));
    s_pack_str_of(pk, "state", r, REMINDER_STATE);
    rp_pack_kv_bool(pk, "fired", fired);
    rp_pack_kv_bool(pk, "done", done);
    slot->size = self->packed.buffer.size - slot->offset;
}

void reminders_query_expand(MDB_txn *txn, MDB_dbi fired, const rp_record_t *r, const char *id,
                            size_t id_len, int64_t from, int64_t to, uint64_t max,
                            reminders_occurrence_fn *fn, void *arg)
{
    const char *field;
    rp_recurrence_t *series = reminder_series(r, &field);
    int64_t offsets[REMINDER_MAX_OFFSETS], at, through = INT64_MIN;
    size_t n = reminder_offsets(r, offsets);
    const char *str;
    size_t len;
    if (rp_record_str(r, REMINDER_DONE_THROUGH, &str, &len))
        rp_time_parse(str, len, &through);
    bool all_done = rp_obj_streq(&r->values[REMINDER_STATE], "done");
    for (uint64_t i = 0; series && i < max && rp_recurrence_next(series, from, &at) && at <= to;
         i++) {
        bool any = false;
        for (size_t j = 0; j < n && !any; j++) {
            char key[REMINDER_KEY_MAX];
            reminder_key(id, id_len, at, offsets[j], key);
            MDB_val fk = {strlen(key), key}, fv;
            any = mdb_get(txn, fired, &fk, &fv) == 0;
        }
        fn(arg, at, r, id, id_len, any, all_done || at <= through);
        from = at + 1;
    }
    rp_recurrence_destroy(&series);
}

int reminders_query_each(rp_store_t *store, MDB_txn *txn, reminders_each_fn *fn, void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "reminders"), &c);
    if (rc)
        return rc;
    MDB_dbi fired = rp_store_dbi(store, "fired_keys");
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        if (!doc)
            continue;
        rp_record_t r;
        reminder_init(&r);
        rp_record_from_map(&r, rp_doc_root(doc));
        fn(arg, txn, fired, &r, k.mv_data, k.mv_size);
        rp_record_reset(&r);
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static void s_agenda_each(void *arg, MDB_txn *txn, MDB_dbi fired, const rp_record_t *r,
                          const char *id, size_t id_len)
{
    agenda_t *self = (agenda_t *)arg;
    if (s_keep(&self->list, r) && !rp_obj_streq(&r->values[REMINDER_STATE], "cancelled"))
        reminders_query_expand(txn, fired, r, id, id_len, self->from, self->to, self->limit,
                               s_agenda_add, self);
}

static int s_agenda_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    return reminders_query_each(store, txn, s_agenda_each, arg);
}

static void s_agenda_reply(rp_service_t *service, rp_origin_t **origin_p, agenda_t *self)
{
    qsort(self->slots, self->count, sizeof *self->slots, s_slot_cmp);
    size_t count = self->count < self->limit ? self->count : self->limit;
    self->truncated = self->truncated || self->count > self->limit;
    rp_packer_t out;
    rp_packer_init(&out);
    rp_reply_pack(&out.pk, rp_origin_id(*origin_p), 200, 0, 1);
    rp_pack_cstr(&out.pk, "data");
    msgpack_pack_map(&out.pk, 3);
    rp_pack_cstr(&out.pk, "items");
    msgpack_pack_array(&out.pk, (uint32_t)count);
    for (size_t i = 0; i < count; i++)
        msgpack_sbuffer_write(&out.buffer, self->packed.buffer.data + self->slots[i].offset,
                              self->slots[i].size);
    rp_pack_cstr(&out.pk, "next_cursor");
    msgpack_pack_nil(&out.pk);
    rp_pack_kv_bool(&out.pk, "truncated", self->truncated);
    rp_service_reply(service, origin_p, out.buffer.data, out.buffer.size);
    rp_packer_destroy(&out);
}

void reminders_query_agenda(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    agenda_t *self = calloc(1, sizeof *self);
    assert(self);
    self->list.actor = &actor;
    self->list.overdue = -1;
    rp_field_error_t errors[10];
    int count = 0;
    s_filter(req, "assignee", 100, &self->list.assignee, errors, &count);
    if (self->list.assignee.str && self->list.assignee.len == 2 &&
        memcmp(self->list.assignee.str, "me", 2) == 0) {
        self->list.assignee.str = actor.user ? actor.user : "";
        self->list.assignee.len = actor.user_len;
    }
    s_filter(req, "kind", 16, &self->list.kind, errors, &count);
    s_filter(req, "customer_id", 64, &self->list.customer, errors, &count);
    s_filter(req, "opportunity_id", 64, &self->list.opportunity, errors, &count);
    s_limit(req, REMINDERS_AGENDA_DEF, REMINDERS_AGENDA_MAX, &self->limit, errors, &count);
    bool from = reminders_query_time_arg(req, "from", &self->from, errors, &count);
    bool to = reminders_query_time_arg(req, "to", &self->to, errors, &count);
    if (!from && count < 10)
        rp_field_error_set(&errors[count++], "from", 4, "required");
    if (!to && count < 10)
        rp_field_error_set(&errors[count++], "to", 2, "required");
    if (count == 0 && (self->to < self->from || self->to - self->from > REMINDERS_AGENDA_RANGE)) {
        rp_field_error_set(&errors[count], "to", 2, "out_of_range");
        errors[count++].message = "to must be after from, within 92 days";
    }
    if (count)
        rp_service_reply_invalid(service, &origin, "some parameters are not valid", errors, count);
    else {
        rp_packer_init(&self->packed);
        self->slots = malloc(2 * self->limit * sizeof *self->slots);
        assert(self->slots);
        if (rp_scope_may_read(&actor) &&
            rp_store_read(rp_service_store(service), s_agenda_read, self))
            rp_service_reply_error(service, &origin, 500, "store", "the store could not be read");
        else
            s_agenda_reply(service, &origin, self);
        free(self->slots);
        rp_packer_destroy(&self->packed);
    }
    free(self);
}

//  ---------------------------------------------------------------------

void reminders_query_test(void)
{
    filter_t f = {"ann", 3}, none = {NULL, 0};
    msgpack_object ann = {.type = MSGPACK_OBJECT_STR, .via.str = {3, "ann"}};
    msgpack_object bob = {.type = MSGPACK_OBJECT_STR, .via.str = {3, "bob"}};
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert(s_match(&f, &ann) && !s_match(&f, &bob) && !s_match(&f, &nil));
    assert(s_match(&none, &nil) && s_match(&none, &bob));
    //  Overdue: a one-off before now, not done; never a series.
    rp_record_t r;
    reminder_init(&r);
    rp_record_set_str(&r, REMINDER_STATE, "fired", 5);
    const char *now = "2026-12-03T10:00:00.000Z";
    assert(s_overdue(&r, "2026-12-03T09:59:59.999Z", now));
    assert(!s_overdue(&r, "2026-12-03T10:00:00.000Z", now));
    rp_record_set_str(&r, REMINDER_STATE, "done", 4);
    assert(!s_overdue(&r, "2026-12-01T00:00:00.000Z", now));
    rp_record_set_str(&r, REMINDER_STATE, "pending", 7);
    rp_record_set_str(&r, REMINDER_RRULE, "FREQ=DAILY", 10);
    assert(!s_overdue(&r, "2026-12-01T00:00:00.000Z", now));
    rp_record_reset(&r);
}
