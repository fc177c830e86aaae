/*  report.c — see report.h. */
#include "report.h"
#include "ops.h"
#include "query.h"
#include "reminder.h"

#include <rapport/scope.h>

#include <assert.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t planned, done, overdue, upcoming;
} tally_t;

typedef struct {
    const rp_scope_t *actor;
    int64_t from, to, now;
    bool by_team;
    zhashx_t *groups; //  key → tally_t
    tally_t total;
} visits_t;

static void s_count(tally_t *tally, bool done, bool past)
{
    tally->planned++;
    if (done)
        tally->done++;
    else if (past)
        tally->overdue++;
    else
        tally->upcoming++;
}

static void s_occurrence(void *arg, int64_t at, const rp_record_t *r, const char *id, size_t id_len,
                         bool fired, bool done)
{
    (void)id;
    (void)id_len;
    (void)fired;
    visits_t *self = (visits_t *)arg;
    const char *str = "";
    size_t len = 0;
    rp_record_str(r, self->by_team ? REMINDER_TEAM : REMINDER_ASSIGNEE, &str, &len);
    char key[101];
    snprintf(key, sizeof key, "%.*s", (int)(len < 100 ? len : 100), str);
    tally_t *tally = (tally_t *)zhashx_lookup(self->groups, key);
    if (!tally) {
        tally = calloc(1, sizeof *tally);
        assert(tally);
        zhashx_insert(self->groups, key, tally);
    }
    s_count(tally, done, at < self->now);
    s_count(&self->total, done, at < self->now);
}

static void s_each(void *arg, MDB_txn *txn, MDB_dbi fired, const rp_record_t *r, const char *id,
                   size_t id_len)
{
    visits_t *self = (visits_t *)arg;
    if (rp_obj_streq(&r->values[REMINDER_KIND], "visit") &&
        !rp_obj_streq(&r->values[REMINDER_STATE], "cancelled") &&
        reminders_ops_allowed(self->actor, r, false))
        reminders_query_expand(txn, fired, r, id, id_len, self->from, self->to, REPORT_PER_VISIT,
                               s_occurrence, self);
}

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    return reminders_query_each(store, txn, s_each, arg);
}

static void s_pack_tally(msgpack_packer *pk, const char *key, const tally_t *tally)
{
    msgpack_pack_map(pk, key ? 5 : 4);
    if (key)
        rp_pack_kv_cstr(pk, "key", key);
    rp_pack_kv_u64(pk, "planned", tally->planned);
    rp_pack_kv_u64(pk, "done", tally->done);
    rp_pack_kv_u64(pk, "overdue", tally->overdue);
    rp_pack_kv_u64(pk, "upcoming", tally->upcoming);
}

static void s_reply(rp_service_t *service, rp_origin_t **origin_p, visits_t *self)
{
    rp_packer_t out;
    rp_packer_init(&out);
    msgpack_packer *pk = &out.pk;
    rp_reply_pack(pk, rp_origin_id(*origin_p), 200, 0, 1);
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 5);
    char text[32];
    rp_time_format(self->from, text);
    rp_pack_kv_cstr(pk, "from", text);
    rp_time_format(self->to, text);
    rp_pack_kv_cstr(pk, "to", text);
    rp_pack_kv_cstr(pk, "by", self->by_team ? "team" : "owner");
    rp_pack_cstr(pk, "items");
    zlistx_t *keys = zhashx_keys(self->groups);
    zlistx_set_comparator(keys, (zlistx_comparator_fn *)strcmp);
    zlistx_sort(keys);
    msgpack_pack_array(pk, (uint32_t)zlistx_size(keys));
    for (const char *key = zlistx_first(keys); key; key = zlistx_next(keys))
        s_pack_tally(pk, key, zhashx_lookup(self->groups, key));
    zlistx_destroy(&keys);
    rp_pack_cstr(pk, "total");
    s_pack_tally(pk, NULL, &self->total);
    rp_service_reply(service, origin_p, out.buffer.data, out.buffer.size);
    rp_packer_destroy(&out);
}

void reminders_report_visits(void *arg, rp_service_t *service, rp_origin_t *origin,
                             const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    visits_t self;
    memset(&self, 0, sizeof self);
    self.actor = &actor;
    self.now = zclock_time();
    rp_field_error_t errors[4];
    int count = 0;
    bool from = reminders_query_time_arg(req, "from", &self.from, errors, &count);
    bool to = reminders_query_time_arg(req, "to", &self.to, errors, &count);
    if (!from && count < 4)
        rp_field_error_set(&errors[count++], "from", 4, "required");
    if (!to && count < 4)
        rp_field_error_set(&errors[count++], "to", 2, "required");
    if (count == 0 && (self.to < self.from || self.to - self.from > REPORT_RANGE_MAX)) {
        rp_field_error_set(&errors[count], "to", 2, "out_of_range");
        errors[count++].message = "to must be after from, within 366 days";
    }
    const msgpack_object *by = rp_obj_get(req->args, "by");
    self.by_team = rp_obj_streq(by, "team");
    if (by && by->type != MSGPACK_OBJECT_NIL && !self.by_team && !rp_obj_streq(by, "owner") &&
        count < 4) {
        rp_field_error_set(&errors[count], "by", 2, "invalid");
        errors[count++].message = "owner or team";
    }
    if (count) {
        rp_service_reply_invalid(service, &origin, "some parameters are not valid", errors, count);
        return;
    }
    self.groups = zhashx_new();
    zhashx_set_destructor(self.groups, (zhashx_destructor_fn *)zstr_free);
    if (rp_scope_may_read(&actor) && rp_store_read(rp_service_store(service), s_read, &self))
        rp_service_reply_error(service, &origin, 500, "store", "the store could not be read");
    else
        s_reply(service, &origin, &self);
    zhashx_destroy(&self.groups);
}

void reminders_report_test(void)
{
    tally_t t = {0};
    s_count(&t, true, true);
    s_count(&t, false, true);
    s_count(&t, false, false);
    assert(t.planned == 3 && t.done == 1 && t.overdue == 1 && t.upcoming == 1);
}
