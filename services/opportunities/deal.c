/*  deal.c — see deal.h. */
#include "deal.h"

#include "../customers/lead.h"

#include <rapport/log.h>
#include "apply.h"
#include "history.h"
#include "opportunity.h"
#include "pipeline.h"
#include "query.h"

#include "../customers/apply.h"
#include "../customers/customer.h"

#include <rapport/normalize.h>
#include <rapport/outcome.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define DEAL_NOTE_MAX 1000

//  One deal being changed by one event.
typedef struct {
    rp_apply_t *base; //  the event's context (id: the deal's)
    char *old_bytes;  //  a private copy of the stored deal (LMDB pages move on put)
    rp_doc_t *old_doc;
    rp_record_t deal;
    pipeline_t pipeline;
} deal_t;

static void s_init(deal_t *self, rp_apply_t *base)
{
    memset(self, 0, offsetof(deal_t, pipeline));
    self->pipeline.doc = NULL;
    self->pipeline.bytes = NULL;
    self->base = base;
    opportunity_init(&self->deal);
}

static void s_fini(deal_t *self)
{
    rp_record_reset(&self->deal);
    pipeline_release(&self->pipeline);
    rp_doc_destroy(&self->old_doc);
    free(self->old_bytes);
}

//  The stored deal into self->deal: 0, MDB_NOTFOUND, or -1 (a corrupt
//  store: stop the service).
static int s_load(deal_t *self)
{
    MDB_val value;
    int rc = rp_apply_get(self->base, "opportunities", self->base->id, self->base->id_len, &value);
    if (rc)
        return rc;
    self->old_bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->old_bytes);
    memcpy(self->old_bytes, value.mv_data, value.mv_size);
    self->old_doc = rp_doc_new(self->old_bytes, value.mv_size, NULL);
    if (!self->old_doc)
        return -1;
    rp_record_from_map(&self->deal, rp_doc_root(self->old_doc));
    return 0;
}

//  The deal's pipeline into self->pipeline: 0, MDB_NOTFOUND or -1.
static int s_pipeline(deal_t *self)
{
    const char *id;
    size_t len;
    pipeline_release(&self->pipeline);
    if (!rp_record_str(&self->deal, OPPORTUNITY_PIPELINE_ID, &id, &len))
        return MDB_NOTFOUND;
    return pipeline_load(self->base->store, self->base->txn, id, len, &self->pipeline);
}

bool deal_customer_ok(rp_store_t *store, MDB_txn *txn, const char *id, size_t len)
{
    customers_apply_held_t held;
    int rc = customers_apply_hold(store, txn, id, len, &held);
    bool archived = true;
    if (rc == 0)
        rp_obj_bool(&held.record.values[CUSTOMER_ARCHIVED], &archived);
    customers_apply_release(&held);
    return rc == 0 && !archived;
}

static bool s_open(const rp_record_t *deal)
{
    return rp_obj_streq(&deal->values[OPPORTUNITY_STATUS], "open");
}

//  Add delta to the open deals counted in (pipeline, stage) of deal.
static int s_count(deal_t *self, const rp_record_t *deal, int delta)
{
    const char *pipeline, *stage;
    size_t pipeline_len, stage_len;
    char key[2 * OPPORTUNITIES_MAX_ID + 2];
    if (!rp_record_str(deal, OPPORTUNITY_PIPELINE_ID, &pipeline, &pipeline_len) ||
        !rp_record_str(deal, OPPORTUNITY_STAGE, &stage, &stage_len))
        return 0;
    size_t len = opportunities_apply_pair(key, pipeline, pipeline_len, stage, stage_len);
    if (!len)
        return 0;
    MDB_val value;
    uint64_t count = 0;
    int rc = rp_apply_get(self->base, "stage_open", key, len, &value);
    if (rc == 0 && value.mv_size == 8)
        count = rp_seq_get(value.mv_data);
    else if (rc && rc != MDB_NOTFOUND)
        return rc;
    count = delta < 0 && count == 0 ? 0 : count + (uint64_t)(int64_t)delta;
    if (count == 0)
        return rp_apply_del(self->base, "stage_open", key, len);
    uint8_t bytes[8];
    rp_seq_put(bytes, count);
    return rp_apply_put(self->base, "stage_open", key, len, bytes, 8);
}

static bool s_same(const msgpack_object *a, const msgpack_object *b)
{
    return msgpack_object_equal(*a, *b);
}

//  by_customer: the deal under its customer (moved when it changes).
static int s_by_customer(deal_t *self, const rp_record_t *old)
{
    const char *cid;
    size_t cid_len;
    char key[2 * OPPORTUNITIES_MAX_ID + 2];
    size_t len;
    int rc = 0;
    if (old &&
        s_same(&old->values[OPPORTUNITY_CUSTOMER_ID], &self->deal.values[OPPORTUNITY_CUSTOMER_ID]))
        return 0;
    if (old && rp_record_str(old, OPPORTUNITY_CUSTOMER_ID, &cid, &cid_len) &&
        (len = opportunities_apply_pair(key, cid, cid_len, self->base->id, self->base->id_len)))
        rc = rp_apply_del(self->base, "by_customer", key, len);
    if (!rc && rp_record_str(&self->deal, OPPORTUNITY_CUSTOMER_ID, &cid, &cid_len) &&
        (len = opportunities_apply_pair(key, cid, cid_len, self->base->id, self->base->id_len)))
        rc = rp_apply_put(self->base, "by_customer", key, len, "", 0);
    return rc;
}

//  Write self->deal with its indexes moved from old's (NULL: a new deal).
static int s_save(deal_t *self, const rp_record_t *old)
{
    int rc = old && s_open(old) ? s_count(self, old, -1) : 0;
    if (!rc && s_open(&self->deal))
        rc = s_count(self, &self->deal, +1);
    if (!rc)
        rc = s_by_customer(self, old);
    if (rc)
        return rc;
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->deal, &packer.pk);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rc = doc ? deals_query_index_save(self->base->store, self->base->txn, self->base->id,
                                      self->base->id_len, rp_doc_root(doc))
             : -1;
    if (!rc)
        rc = rp_apply_put(self->base, "opportunities", self->base->id, self->base->id_len,
                          packer.buffer.data, packer.buffer.size);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    return rc;
}

static void s_set_time(deal_t *self, int field)
{
    const rp_event_t *event = self->base->event;
    rp_record_set_str(&self->deal, field, event->time ? event->time : "",
                      event->time ? event->time_len : 0);
}

//  The stage rule of deal.h, for the deal now in stage (entered: the
//  stage changed). NULL, or the refusal's code.
static const char *s_move(deal_t *self, const pipeline_stage_t *stage, bool entered)
{
    rp_record_t *deal = &self->deal;
    rp_record_set_str(deal, OPPORTUNITY_STATUS, pipeline_kind_name(stage->kind),
                      strlen(pipeline_kind_name(stage->kind)));
    const char *reason;
    size_t reason_len;
    if (stage->kind == PIPELINE_LOST) {
        if (!rp_record_str(deal, OPPORTUNITY_LOST_REASON, &reason, &reason_len) || !reason_len)
            return "lost_reason_required";
        if (!pipeline_has_reason(&self->pipeline, reason, reason_len))
            return "unknown_lost_reason";
    } else
        rp_record_set_nil(deal, OPPORTUNITY_LOST_REASON);
    if (stage->kind != PIPELINE_OPEN) {
        rp_record_set_u64(deal, OPPORTUNITY_PROBABILITY, stage->probability);
        rp_record_set_bool(deal, OPPORTUNITY_PROBABILITY_MANUAL, false);
        if (entered || deal->values[OPPORTUNITY_CLOSED_AT].type == MSGPACK_OBJECT_NIL)
            s_set_time(self, OPPORTUNITY_CLOSED_AT);
    } else {
        rp_record_set_nil(deal, OPPORTUNITY_CLOSED_AT);
        if (!rp_record_bool(deal, OPPORTUNITY_PROBABILITY_MANUAL))
            rp_record_set_u64(deal, OPPORTUNITY_PROBABILITY, stage->probability);
    }
    if (entered)
        s_set_time(self, OPPORTUNITY_STAGE_ENTERED_AT);
    return NULL;
}

//  Does the change touch what the history records?
static bool s_historic(const rp_record_t *old, const rp_record_t *now)
{
    static const int fields[] = {OPPORTUNITY_STAGE, OPPORTUNITY_AMOUNT, OPPORTUNITY_CURRENCY,
                                 OPPORTUNITY_PROBABILITY, OPPORTUNITY_EXPECTED_CLOSE};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!s_same(&old->values[fields[i]], &now->values[fields[i]]))
            return true;
    return false;
}

static int s_refuse(deal_t *self, int status, const char *code)
{
    return rp_apply_outcome(self->base, status, code);
}

//  ---------------------------------------------------------------------
//  The event types

static int s_created(deal_t *self)
{
    const msgpack_object *data = self->base->event->data;
    int rc = s_load(self);
    if (rc != MDB_NOTFOUND)
        return rc ? rc : s_refuse(self, 409, "exists"); //  an id reused: never by our writer
    rp_record_reset(&self->deal);
    rp_field_error_t errors[4];
    const msgpack_object *record = rp_obj_get(data, "record");
    if (!rp_obj_is_map(record) ||
        rp_record_validate(&self->deal, record, NULL, true, NULL, errors, 4) != 0)
        return s_refuse(self, 422, "bad_event");
    const char *cid;
    size_t cid_len;
    if (!rp_record_str(&self->deal, OPPORTUNITY_CUSTOMER_ID, &cid, &cid_len) ||
        !deal_customer_ok(self->base->store, self->base->txn, cid, cid_len))
        return s_refuse(self, 422, "unknown_customer");
    if (self->deal.values[OPPORTUNITY_PIPELINE_ID].type == MSGPACK_OBJECT_NIL)
        rp_record_set_str(&self->deal, OPPORTUNITY_PIPELINE_ID, PIPELINE_DEFAULT_ID,
                          strlen(PIPELINE_DEFAULT_ID));
    if ((rc = s_pipeline(self)) != 0)
        return rc == MDB_NOTFOUND ? s_refuse(self, 422, "unknown_pipeline") : rc;
    const char *key;
    size_t key_len;
    const pipeline_stage_t *stage = rp_record_str(&self->deal, OPPORTUNITY_STAGE, &key, &key_len)
                                        ? pipeline_stage(&self->pipeline, key, key_len, NULL)
                                        : pipeline_first_open(&self->pipeline);
    if (!stage)
        return s_refuse(self, 422, "unknown_stage");
    rp_record_set_str(&self->deal, OPPORTUNITY_STAGE, stage->key, stage->key_len);
    if (self->deal.values[OPPORTUNITY_CURRENCY].type == MSGPACK_OBJECT_NIL)
        rp_record_set_str(&self->deal, OPPORTUNITY_CURRENCY, OPPORTUNITY_CURRENCY_DEF, 3);
    rp_record_set_bool(&self->deal, OPPORTUNITY_PROBABILITY_MANUAL,
                       self->deal.values[OPPORTUNITY_PROBABILITY].type != MSGPACK_OBJECT_NIL);
    rp_record_set_str(&self->deal, OPPORTUNITY_ID, self->base->id, self->base->id_len);
    rp_record_set_bool(&self->deal, OPPORTUNITY_ARCHIVED, false);
    const char *err = s_move(self, stage, true);
    if (err)
        return s_refuse(self, 422, err);
    rp_record_stamp(&self->deal, self->base->event); //  version 1
    rc = s_save(self, NULL);
    return rc ? rc : history_append(self->base, &self->deal, NULL, 0, rp_obj_get(data, "note"));
}

static int s_updated(deal_t *self)
{
    const msgpack_object *data = self->base->event->data;
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? s_refuse(self, 404, "not_found") : rc;
    if (rp_record_stale(&self->deal, data))
        return s_refuse(self, 412, "version_mismatch");
    rp_record_t changes;
    opportunity_init(&changes);
    rp_field_error_t errors[4];
    const msgpack_object *fields = rp_obj_get(data, "changes");
    bool valid = rp_obj_is_map(fields) &&
                 rp_record_validate(&changes, fields, NULL, false, NULL, errors, 4) == 0;
    rp_record_t old = self->deal; //  borrowed values only: old_doc owns them
    bool customer = changes.given[OPPORTUNITY_CUSTOMER_ID];
    bool pipeline =
        changes.given[OPPORTUNITY_PIPELINE_ID] &&
        !s_same(&changes.values[OPPORTUNITY_PIPELINE_ID], &old.values[OPPORTUNITY_PIPELINE_ID]);
    bool probability = changes.given[OPPORTUNITY_PROBABILITY];
    bool reason = changes.given[OPPORTUNITY_LOST_REASON];
    bool stage_given = changes.given[OPPORTUNITY_STAGE];
    if (valid)
        rp_record_overlay(&self->deal, &changes); //  copies what changes owns
    rp_record_reset(&changes);
    if (!valid)
        return s_refuse(self, 422, "bad_event");
    const char *str;
    size_t len;
    if (customer &&
        !s_same(&old.values[OPPORTUNITY_CUSTOMER_ID],
                &self->deal.values[OPPORTUNITY_CUSTOMER_ID]) &&
        !(rp_record_str(&self->deal, OPPORTUNITY_CUSTOMER_ID, &str, &len) &&
          deal_customer_ok(self->base->store, self->base->txn, str, len)))
        return s_refuse(self, 422, "unknown_customer");
    if ((rc = s_pipeline(self)) != 0)
        return rc == MDB_NOTFOUND ? s_refuse(self, 422, "unknown_pipeline") : rc;
    const pipeline_stage_t *stage = pipeline && !stage_given ? pipeline_first_open(&self->pipeline)
                                    : rp_record_str(&self->deal, OPPORTUNITY_STAGE, &str, &len)
                                        ? pipeline_stage(&self->pipeline, str, len, NULL)
                                        : NULL;
    if (!stage)
        return s_refuse(self, 422, "unknown_stage");
    rp_record_set_str(&self->deal, OPPORTUNITY_STAGE, stage->key, stage->key_len);
    bool entered =
        pipeline || !s_same(&old.values[OPPORTUNITY_STAGE], &self->deal.values[OPPORTUNITY_STAGE]);
    if (probability)
        rp_record_set_bool(&self->deal, OPPORTUNITY_PROBABILITY_MANUAL,
                           self->deal.values[OPPORTUNITY_PROBABILITY].type != MSGPACK_OBJECT_NIL);
    if (entered || probability || reason) {
        const char *err = s_move(self, stage, entered);
        if (err)
            return s_refuse(self, 422, err);
    }
    rp_record_stamp(&self->deal, self->base->event);
    rc = s_save(self, &old);
    if (rc || !s_historic(&old, &self->deal))
        return rc;
    rp_record_str(&old, OPPORTUNITY_STAGE, &str, &len);
    return history_append(self->base, &self->deal, str, len, NULL);
}

static int s_stage_changed(deal_t *self)
{
    const msgpack_object *data = self->base->event->data;
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? s_refuse(self, 404, "not_found") : rc;
    if (rp_record_stale(&self->deal, data))
        return s_refuse(self, 412, "version_mismatch");
    const char *key, *reason, *note;
    size_t key_len, reason_len, note_len;
    const msgpack_object *reason_obj = rp_obj_get(data, "lost_reason");
    const msgpack_object *note_obj = rp_obj_get(data, "note");
    bool has_reason = rp_obj_str(reason_obj, &reason, &reason_len);
    if (!rp_obj_str(rp_obj_get(data, "stage"), &key, &key_len) ||
        (has_reason && rp_normalize_text(reason, reason_len, 100, 0)) ||
        (rp_obj_str(note_obj, &note, &note_len) &&
         rp_normalize_text(note, note_len, DEAL_NOTE_MAX, RP_TEXT_NOTE)))
        return s_refuse(self, 422, "bad_event");
    if ((rc = s_pipeline(self)) != 0)
        return rc == MDB_NOTFOUND ? s_refuse(self, 422, "unknown_pipeline") : rc;
    const pipeline_stage_t *stage = pipeline_stage(&self->pipeline, key, key_len, NULL);
    if (!stage)
        return s_refuse(self, 422, "unknown_stage");
    rp_record_t old = self->deal; //  borrowed values only
    const char *from;
    size_t from_len;
    rp_record_str(&old, OPPORTUNITY_STAGE, &from, &from_len);
    bool entered = from_len != key_len || memcmp(from, key, key_len) != 0;
    if (has_reason)
        rp_record_set_str(&self->deal, OPPORTUNITY_LOST_REASON, reason, reason_len);
    self->base->unchanged = !entered && !(has_reason && stage->kind == PIPELINE_LOST &&
                                          !s_same(&old.values[OPPORTUNITY_LOST_REASON],
                                                  &self->deal.values[OPPORTUNITY_LOST_REASON]));
    if (self->base->unchanged)
        return 0; //  already there: no new version, no history
    rp_record_set_str(&self->deal, OPPORTUNITY_STAGE, stage->key, stage->key_len);
    const char *err = s_move(self, stage, entered);
    if (err)
        return s_refuse(self, 422, err);
    rp_record_stamp(&self->deal, self->base->event);
    rc = s_save(self, &old);
    return rc || !entered ? rc : history_append(self->base, &self->deal, from, from_len, note_obj);
}

static int s_archive(deal_t *self, bool archived)
{
    int rc = s_load(self);
    if (rc)
        return rc == MDB_NOTFOUND ? s_refuse(self, 404, "not_found") : rc;
    if (rp_record_stale(&self->deal, self->base->event->data))
        return s_refuse(self, 412, "version_mismatch");
    self->base->unchanged = rp_record_bool(&self->deal, OPPORTUNITY_ARCHIVED) == archived;
    if (self->base->unchanged)
        return 0;
    rp_record_t old = self->deal;
    rp_record_set_bool(&self->deal, OPPORTUNITY_ARCHIVED, archived);
    rp_record_stamp(&self->deal, self->base->event);
    return s_save(self, &old);
}

//  Each row: one deal_t around the event's context.
#define DEAL_ROW(name, call)                                                                       \
    int name(rp_apply_t *base)                                                                     \
    {                                                                                              \
        deal_t self;                                                                               \
        s_init(&self, base);                                                                       \
        int rc = call;                                                                             \
        s_fini(&self);                                                                             \
        return rc;                                                                                 \
    }

DEAL_ROW(deal_apply_created, s_created(&self))
DEAL_ROW(deal_apply_updated, s_updated(&self))
DEAL_ROW(deal_apply_stage_changed, s_stage_changed(&self))
DEAL_ROW(deal_apply_archived, s_archive(&self, true))
DEAL_ROW(deal_apply_restored, s_archive(&self, false))

//  ---------------------------------------------------------------------
//  Following the customers

//  Did the customers apply accept the event at seq (outcome status 200)?
static bool s_accepted(rp_store_t *store, MDB_txn *txn, uint64_t seq)
{
    char code[2];
    return rp_outcome_status(store, txn, seq, code, sizeof code) == 200;
}

//  The ids of a customer's deals (a list of heap strings; free with
//  s_ids_free), read before any of them changes by_customer.
typedef struct {
    char **ids;
    size_t count, size;
} ids_t;

static void s_ids_free(ids_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        free(self->ids[i]);
    free(self->ids);
    memset(self, 0, sizeof *self);
}

static int s_customer_deals(rp_store_t *store, MDB_txn *txn, const char *cid, size_t cid_len,
                            ids_t *out)
{
    char prefix[OPPORTUNITIES_MAX_ID + 1];
    if (cid_len == 0 || cid_len > OPPORTUNITIES_MAX_ID)
        return 0;
    memcpy(prefix, cid, cid_len);
    prefix[cid_len] = 0;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "by_customer"), &c);
    if (rc)
        return rc;
    MDB_val k = {cid_len + 1, prefix}, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > cid_len + 1 && memcmp(k.mv_data, prefix, cid_len + 1) == 0;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (out->count == out->size) {
            out->size = out->size ? 2 * out->size : 16;
            out->ids = realloc(out->ids, out->size * sizeof *out->ids);
            assert(out->ids);
        }
        out->ids[out->count++] =
            strndup((const char *)k.mv_data + cid_len + 1, k.mv_size - cid_len - 1);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  One deal of a customer changed by a customer.* event: moved to the
//  customer to (merge), or given owner and team (assign, open deals only).
typedef struct {
    const msgpack_object *to, *owner, *team;
} follow_t;

static int s_follow_deal(rp_apply_t *ctx, const char *id, const follow_t *follow)
{
    ctx->id = id;
    ctx->id_len = strlen(id);
    deal_t self;
    s_init(&self, ctx);
    int rc = s_load(&self);
    if (rc == MDB_NOTFOUND)
        rc = 0; //  a stale index entry: cannot happen, tolerate it
    else if (rc == 0 && (follow->to || s_open(&self.deal))) {
        rp_record_t old = self.deal;
        if (follow->to)
            rp_record_set_obj(&self.deal, OPPORTUNITY_CUSTOMER_ID, follow->to);
        if (follow->owner)
            rp_record_set_obj(&self.deal, OPPORTUNITY_OWNER, follow->owner);
        if (follow->team && follow->team->type == MSGPACK_OBJECT_STR)
            rp_record_set_obj(&self.deal, OPPORTUNITY_TEAM, follow->team);
        rp_record_stamp(&self.deal, ctx->event);
        rc = s_save(&self, &old);
    }
    s_fini(&self);
    return rc;
}

static int s_follow(rp_apply_t *ctx, const msgpack_object *cid, const follow_t *follow)
{
    const char *str;
    size_t len;
    ids_t ids = {0};
    int rc =
        rp_obj_str(cid, &str, &len) ? s_customer_deals(ctx->store, ctx->txn, str, len, &ids) : 0;
    for (size_t i = 0; !rc && i < ids.count; i++)
        rc = s_follow_deal(ctx, ids.ids[i], follow);
    s_ids_free(&ids);
    return rc;
}

int deal_apply_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    bool merged = rp_event_is(event, "customer.merged");
    bool with = false;
    rp_obj_bool(rp_obj_get(event->data, "with_opportunities"), &with);
    bool assigned = rp_event_is(event, "customer.assigned") && with;
    if ((!merged && !assigned) || !s_accepted(store, txn, seq))
        return 0;
    rp_apply_t ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.store = store;
    ctx.txn = txn;
    ctx.seq = seq;
    ctx.event = event;
    const msgpack_object *id = rp_obj_get(event->data, "id");
    if (assigned) {
        follow_t follow = {NULL, rp_obj_get(event->data, "owner"), rp_obj_get(event->data, "team")};
        return follow.owner && follow.owner->type == MSGPACK_OBJECT_STR
                   ? s_follow(&ctx, id, &follow)
                   : 0;
    }
    const msgpack_object *from = rp_obj_get(event->data, "from");
    follow_t follow = {id, NULL, NULL};
    int rc = 0;
    for (uint32_t i = 0; !rc && rp_obj_is_array(from) && i < from->via.array.size; i++)
        rc = s_follow(&ctx, &from->via.array.ptr[i], &follow);
    return rc;
}

//  ---------------------------------------------------------------------
//  A lead's first deal

int deal_apply_lead(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    MDB_val value;
    if (lead_get(store, txn, seq, &value))
        return 0; //  not a lead the customers fold took
    rp_doc_t *lead = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!lead)
        return -1;
    const msgpack_object *root = rp_doc_root(lead);
    int64_t at_ms = 0;
    if (!event->time || !rp_time_parse(event->time, event->time_len, &at_ms))
        at_ms = 0;
    char id[OPPORTUNITIES_MAX_ID + 1];
    snprintf(id, sizeof id, "%012" PRIx64 "%08" PRIx64, (uint64_t)at_ms,
             (seq & 0x7fffffffu) | 0x80000000u); //  not the lead customer's id
    const msgpack_object *source = rp_obj_get(root, "source");
    const char *str;
    size_t len;
    bool short_source = rp_obj_str(source, &str, &len) && len <= 64;
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 5);
    rp_pack_kv_obj(&data.pk, "customer_id", rp_obj_get(root, "customer_id"));
    rp_pack_kv_obj(&data.pk, "title", rp_obj_get(root, "title"));
    rp_pack_kv_obj(&data.pk, "owner", rp_obj_get(root, "owner"));
    rp_pack_kv_obj(&data.pk, "team", rp_obj_get(root, "team"));
    rp_pack_kv_obj(&data.pk, "source", short_source ? source : NULL);
    rp_doc_t *doc = rp_doc_new(data.buffer.data, data.buffer.size, NULL);
    rp_event_t created = *event;
    created.type = "opportunity.created";
    created.type_len = strlen(created.type);
    created.data = doc ? rp_doc_root(doc) : NULL;
    rp_apply_t base;
    memset(&base, 0, sizeof base);
    base.store = store;
    base.txn = txn;
    base.seq = seq;
    base.event = &created;
    base.id = id;
    base.id_len = strlen(id);
    base.status = 200;
    rp_packer_init(&base.details);
    rp_packer_init(&base.extra);
    int rc = doc ? deal_apply_created(&base) : -1;
    if (rc == 0 && base.status != 200)
        rp_warn("opportunities: the lead at seq %" PRIu64 " made no deal (%d %s)", seq, base.status,
                base.code ? base.code : "");
    rp_packer_destroy(&base.details);
    rp_packer_destroy(&base.extra);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&data);
    rp_doc_destroy(&lead);
    return rc;
}
