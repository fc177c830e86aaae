/*  order.c — see order.h. */
#include "order.h"
#include "apply.h"
#include "customer.h"
#include "grading.h"
#include "page.h"
#include "reference.h"
#include "stats.h"
#include "timeline.h"
#include "unmatched.h"

#include <rapport/integrator.h>
#include <rapport/log.h>
#include <rapport/money.h>
#include <rapport/normalize.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

//  The stored order: a record of these fields, in this order.
typedef enum {
    O_NO,
    O_CUSTOMER_ID,
    O_STATUS,
    O_AMOUNT,
    O_CURRENCY,
    O_QUANTITY,
    O_PRODUCT,
    O_SPEC,
    O_PLACED_AT,
    O_COST,
    O_CANCELLED_AT,
    O_REASON,
    O_SEQ,
    O_SOURCE,
    O_EVENT_ID,
    O_FIELDS
} order_field_t;

static const rp_field_t s_fields[O_FIELDS] = {
    [O_NO] = {"order_no", RP_FIELD_SYSTEM},
    [O_CUSTOMER_ID] = {"customer_id", RP_FIELD_SYSTEM},
    [O_STATUS] = {"status", RP_FIELD_SYSTEM},
    [O_AMOUNT] = {"amount", RP_FIELD_SYSTEM},
    [O_CURRENCY] = {"currency", RP_FIELD_SYSTEM},
    [O_QUANTITY] = {"quantity", RP_FIELD_SYSTEM},
    [O_PRODUCT] = {"product", RP_FIELD_SYSTEM},
    [O_SPEC] = {"spec", RP_FIELD_SYSTEM},
    [O_PLACED_AT] = {"placed_at", RP_FIELD_SYSTEM},
    [O_COST] = {"cost", RP_FIELD_SYSTEM},
    [O_CANCELLED_AT] = {"cancelled_at", RP_FIELD_SYSTEM},
    [O_REASON] = {"reason", RP_FIELD_SYSTEM},
    [O_SEQ] = {"seq", RP_FIELD_SYSTEM},
    [O_SOURCE] = {"source", RP_FIELD_SYSTEM},
    [O_EVENT_ID] = {"event_id", RP_FIELD_SYSTEM},
};

#define STATUS_PLACED    "placed"
#define STATUS_CANCELLED "cancelled"
#define STATUS_UNMATCHED "unmatched"

bool order_event(const rp_event_t *event)
{
    return rp_event_is(event, "order.placed") || rp_event_is(event, "order.cancelled") ||
           rp_event_is(event, "payment.received");
}

//  ---------------------------------------------------------------------
//  One event being applied

typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    rp_record_t data; //  the event's data, read as the journal checked it
    rp_record_t order;
    rp_doc_t *order_doc; //  the stored order order borrows from
    char customer[APPLY_MAX_ID + 1];
    size_t customer_len;
    rp_packer_t line; //  the timeline entry's data: pairs, counted in pairs
    size_t pairs;
    char summary[256];
} fold_t;

static void s_fold_init(fold_t *self, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                        const rp_event_t *event)
{
    memset(self, 0, sizeof *self);
    self->store = store;
    self->txn = txn;
    self->seq = seq;
    self->event = event;
    rp_record_init(&self->order, s_fields, O_FIELDS);
    rp_packer_init(&self->line);
}

static void s_fold_fini(fold_t *self)
{
    rp_record_reset(&self->data);
    rp_record_reset(&self->order);
    rp_doc_destroy(&self->order_doc);
    rp_packer_destroy(&self->line);
}

static int64_t s_cents(const msgpack_object *o)
{
    int64_t cents = 0;
    rp_money_cents(o, &cents);
    return cents;
}

//  A quantity (a number 0..2^53) in hundredths.
static int64_t s_hundredths(const msgpack_object *o)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 < (uint64_t)INT64_MAX / 100)
        return (int64_t)o->via.u64 * 100;
    if (o->type == MSGPACK_OBJECT_FLOAT64 && o->via.f64 >= 0 && o->via.f64 < 9e16)
        return (int64_t)(o->via.f64 * 100 + 0.5);
    return 0;
}

//  Resolve data.customer to a stored customer's id into self->customer.
static bool s_resolve(fold_t *self)
{
    self->customer_len =
        reference_customer(self->store, self->txn, self->event->data, self->customer);
    return self->customer_len > 0;
}

static void s_line_str(fold_t *self, const char *key, const msgpack_object *value)
{
    rp_pack_kv_obj(&self->line.pk, key, value);
    self->pairs++;
}

//  ---------------------------------------------------------------------
//  The stored order

int order_get(rp_store_t *store, MDB_txn *txn, const char *order_no, size_t len, MDB_val *value)
{
    if (len == 0 || len > RP_INTEGRATOR_MAX_ORDER_NO)
        return MDB_NOTFOUND;
    MDB_val key = {len, (void *)order_no};
    return mdb_get(txn, rp_store_dbi(store, "orders"), &key, value);
}

//  Load the stored order of order_no into self->order; MDB_NOTFOUND if none.
static int s_order_load(fold_t *self, const char *order_no, size_t len)
{
    MDB_val value;
    int rc = order_get(self->store, self->txn, order_no, len, &value);
    if (rc)
        return rc;
    self->order_doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!self->order_doc)
        return -1;
    rp_record_from_map(&self->order, rp_doc_root(self->order_doc));
    return 0;
}

static bool s_status_is(const rp_record_t *order, const char *status)
{
    return rp_obj_streq(&order->values[O_STATUS], status);
}

//  "<customer> NUL <placed_at><order_no>" of the order; 0 when it has no customer.
static size_t s_listing_key(const rp_record_t *order, char key[PAGE_MAX_KEY])
{
    const char *customer, *at, *no;
    size_t customer_len, at_len, no_len;
    char rest[PAGE_MAX_REST];
    if (!rp_record_str(order, O_CUSTOMER_ID, &customer, &customer_len) ||
        !rp_record_str(order, O_PLACED_AT, &at, &at_len) ||
        !rp_record_str(order, O_NO, &no, &no_len) || at_len + no_len > PAGE_MAX_REST)
        return 0;
    memcpy(rest, at, at_len);
    memcpy(rest + at_len, no, no_len);
    return page_key(key, customer, customer_len, rest, at_len + no_len);
}

//  Store self->order under its order_no, and in its customer's listing.
static int s_order_save(fold_t *self)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->order, &packer.pk);
    const char *no;
    size_t no_len;
    rp_record_str(&self->order, O_NO, &no, &no_len);
    MDB_val key = {no_len, (void *)no}, value = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(self->txn, rp_store_dbi(self->store, "orders"), &key, &value, 0);
    char listing[PAGE_MAX_KEY];
    MDB_val lk = {s_listing_key(&self->order, listing), listing};
    if (!rc && lk.mv_size)
        rc = mdb_put(self->txn, rp_store_dbi(self->store, "customer_orders"), &lk, &value, 0);
    rp_packer_destroy(&packer);
    return rc;
}

//  The order's part of the figures.
static stats_order_t s_stats_order(const rp_record_t *order, char currency[4])
{
    const char *str = "", *at = "";
    size_t len = 0, at_len = 0;
    rp_record_str(order, O_CURRENCY, &str, &len);
    memset(currency, 0, 4);
    memcpy(currency, str, len < 3 ? len : 3);
    rp_record_str(order, O_PLACED_AT, &at, &at_len);
    const msgpack_object *cost = &order->values[O_COST];
    return (stats_order_t){
        currency,      s_cents(&order->values[O_AMOUNT]), s_hundredths(&order->values[O_QUANTITY]),
        s_cents(cost), cost->type != MSGPACK_OBJECT_NIL,  stats_month(at, at_len)};
}

//  ---------------------------------------------------------------------
//  Grade and tier

//  Set field to value unless it is so already; the move goes on the line.
static bool s_move(fold_t *self, rp_record_t *record, int field, const char *name,
                   const char *value)
{
    if (rp_obj_streq(&record->values[field], value))
        return false;
    rp_pack_cstr(&self->line.pk, name);
    msgpack_pack_map(&self->line.pk, 2);
    rp_pack_kv_obj(&self->line.pk, "from", &record->values[field]);
    rp_pack_kv_cstr(&self->line.pk, "to", value);
    self->pairs++;
    size_t used = strlen(self->summary);
    const char *from = "-";
    size_t from_len = 1;
    rp_obj_str(&record->values[field], &from, &from_len);
    snprintf(self->summary + used, sizeof self->summary - used, "; %s %.*s → %s", name,
             (int)(from_len > 16 ? 16 : from_len), from, value);
    rp_record_set_str(record, field, value, strlen(value));
    return true;
}

//  The customer's grade and tier after its figures changed.
static int s_regrade_at(fold_t *self, const stats_t *stats, uint32_t month)
{
    customers_apply_held_t held;
    int rc =
        customers_apply_hold(self->store, self->txn, self->customer, self->customer_len, &held);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    grading_t grading;
    grading_load(&grading, self->store, self->txn);
    int64_t amount = stats_trailing(stats, grading.currency, month);
    bool live = stats_orders(stats) > 0, changed = false;
    if (live && !rp_record_bool(&held.record, CUSTOMER_GRADE_MANUAL))
        changed |=
            s_move(self, &held.record, CUSTOMER_GRADE, "grade", grading_grade(&grading, amount));
    const msgpack_object *tier = &held.record.values[CUSTOMER_TIER];
    bool bought = rp_obj_streq(tier, "transacting") || rp_obj_streq(tier, "key") ||
                  rp_obj_streq(tier, "strategic");
    if (!rp_record_bool(&held.record, CUSTOMER_TIER_MANUAL) && (live || bought))
        changed |= s_move(self, &held.record, CUSTOMER_TIER, "tier",
                          live ? grading_tier(&grading, amount) : "prospect");
    if (changed) //  derived, as last_contacted_at: no new version
        rc = customers_apply_save(self->store, self->txn, &held.record, &held.record);
    customers_apply_release(&held);
    return rc;
}

//  At the event's month; the store remembers the latest month graded
//  (grading.h: the writer regrades everyone when a month begins).
static int s_regrade(fold_t *self, const stats_t *stats)
{
    const char *time = self->event->time ? self->event->time : "";
    uint32_t month = stats_month(time, self->event->time ? self->event->time_len : 0);
    int rc = 0;
    if (month > rp_store_meta_u64(self->store, self->txn, GRADING_MONTH_KEY))
        rc = rp_store_set_meta_u64(self->store, self->txn, GRADING_MONTH_KEY, month);
    return rc ? rc : s_regrade_at(self, stats, month);
}

int order_regrade(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, const char *id,
                  size_t len)
{
    if (len == 0 || len > APPLY_MAX_ID)
        return 0;
    fold_t self;
    s_fold_init(&self, store, txn, 0, event);
    memcpy(self.customer, id, len);
    self.customer_len = len;
    stats_t stats;
    stats_init(&stats);
    int rc = stats_load(&stats, store, txn, id, len);
    if (rc == 0)
        rc = s_regrade(&self, &stats);
    stats_reset(&stats);
    s_fold_fini(&self);
    return rc;
}

//  Add (sign 1) or take back (-1) the order's figures, then regrade.
//  False when the customer has no room for the currency.
static int s_count(fold_t *self, int sign, bool *room)
{
    stats_t stats;
    stats_init(&stats);
    int rc = stats_load(&stats, self->store, self->txn, self->customer, self->customer_len);
    char currency[4];
    stats_order_t part = s_stats_order(&self->order, currency);
    *room = rc == 0 && stats_order(&stats, &part, sign);
    if (!rc && *room)
        rc = stats_save(&stats, self->store, self->txn, self->customer, self->customer_len);
    if (!rc && *room)
        rc = s_regrade(self, &stats);
    stats_reset(&stats);
    return rc;
}

//  The timeline entry of the event on self->customer.
static int s_line(fold_t *self)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, self->pairs);
    msgpack_sbuffer_write(&data.buffer, self->line.buffer.data, self->line.buffer.size);
    int rc = timeline_add(self->store, self->txn, self->seq, self->event, self->customer,
                          self->customer_len, self->summary, &data);
    rp_packer_destroy(&data);
    return rc;
}

static void s_line_order(fold_t *self, const char *verb)
{
    const msgpack_object *no = &self->order.values[O_NO];
    s_line_str(self, "order_no", no);
    s_line_str(self, "amount", &self->order.values[O_AMOUNT]);
    s_line_str(self, "currency", &self->order.values[O_CURRENCY]);
    s_line_str(self, "product", &self->order.values[O_PRODUCT]);
    const char *str = "", *cur = "";
    size_t len = 0, cur_len = 0;
    rp_obj_str(no, &str, &len);
    rp_obj_str(&self->order.values[O_CURRENCY], &cur, &cur_len);
    int64_t cents = s_cents(&self->order.values[O_AMOUNT]);
    snprintf(self->summary, sizeof self->summary, "order %.*s %s: %" PRId64 ".%02" PRId64 " %.*s",
             (int)rp_normalize_cut(str, len, 64), str, verb, cents / 100, cents % 100, (int)cur_len,
             cur);
}

int order_apply_regraded(rp_apply_t *base)
{
    const char *text;
    size_t len;
    uint32_t month = rp_obj_str(rp_obj_get(base->event->data, "month"), &text, &len) && len == 7
                         ? stats_month(text, len)
                         : 0;
    if (month == 0)
        return rp_apply_outcome(base, 422, "bad_event");
    base->unchanged = true; //  each customer moved has its own entry
    int rc = 0;
    if (month > rp_store_meta_u64(base->store, base->txn, GRADING_MONTH_KEY))
        rc = rp_store_set_meta_u64(base->store, base->txn, GRADING_MONTH_KEY, month);
    MDB_cursor *cursor;
    if (rc || (rc = mdb_cursor_open(base->txn, rp_store_dbi(base->store, "stats"), &cursor)))
        return rc;
    MDB_val k, v;
    for (int got = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0 && got == 0;
         got = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 0 || k.mv_size > APPLY_MAX_ID)
            continue;
        fold_t self;
        s_fold_init(&self, base->store, base->txn, base->seq, base->event);
        memcpy(self.customer, k.mv_data, k.mv_size);
        self.customer[k.mv_size] = 0;
        self.customer_len = k.mv_size;
        snprintf(self.summary, sizeof self.summary, "regraded for %.7s", text);
        stats_t stats;
        stats_init(&stats);
        rc = stats_load(&stats, base->store, base->txn, self.customer, self.customer_len);
        if (rc == 0)
            rc = s_regrade_at(&self, &stats, month);
        if (rc == 0 && self.pairs)
            rc = s_line(&self);
        stats_reset(&stats);
        s_fold_fini(&self);
    }
    mdb_cursor_close(cursor);
    return rc;
}

//  ---------------------------------------------------------------------
//  The events

//  self->order from the event's data (order.placed), for a customer or none.
static void s_order_from_data(fold_t *self, const char *status)
{
    static const struct {
        int from, to;
    } copy[] = {{RP_ORDER_NO, O_NO},
                {RP_ORDER_AMOUNT, O_AMOUNT},
                {RP_ORDER_CURRENCY, O_CURRENCY},
                {RP_ORDER_QUANTITY, O_QUANTITY},
                {RP_ORDER_PRODUCT, O_PRODUCT},
                {RP_ORDER_SPEC, O_SPEC},
                {RP_ORDER_PLACED_AT, O_PLACED_AT},
                {RP_ORDER_COST, O_COST}};
    for (size_t i = 0; i < sizeof copy / sizeof copy[0]; i++)
        rp_record_set_copy(&self->order, copy[i].to, &self->data.values[copy[i].from]);
    rp_record_set_str(&self->order, O_STATUS, status, strlen(status));
    rp_record_set_u64(&self->order, O_SEQ, self->seq);
    rp_record_set_str(&self->order, O_SOURCE, self->event->source, self->event->source_len);
    rp_record_set_str(&self->order, O_EVENT_ID, self->event->id, self->event->id_len);
    if (self->customer_len)
        rp_record_set_str(&self->order, O_CUSTOMER_ID, self->customer, self->customer_len);
}

//  The order (self->order, status unmatched or new) counts for self->customer.
static int s_place(fold_t *self)
{
    rp_record_set_str(&self->order, O_CUSTOMER_ID, self->customer, self->customer_len);
    rp_record_set_str(&self->order, O_STATUS, STATUS_PLACED, strlen(STATUS_PLACED));
    s_line_order(self, "placed");
    bool room;
    int rc = s_count(self, 1, &room);
    if (rc || !room) {
        if (rc)
            return rc;
        rp_record_set_nil(&self->order, O_CUSTOMER_ID);
        rp_record_set_str(&self->order, O_STATUS, STATUS_UNMATCHED, strlen(STATUS_UNMATCHED));
        self->customer_len = 0;
        rc = unmatched_put(self->store, self->txn, self->seq, self->event, "too_many_currencies");
        return rc ? rc : s_order_save(self);
    }
    rc = s_order_save(self);
    return rc ? rc : s_line(self);
}

static int s_placed(fold_t *self)
{
    const char *no;
    size_t no_len;
    rp_record_str(&self->data, RP_ORDER_NO, &no, &no_len);
    int rc = s_order_load(self, no, no_len);
    if (rc == 0) {
        //  Counted once; a cancel that came first keeps the order cancelled.
        if (!s_status_is(&self->order, STATUS_CANCELLED) ||
            self->order.values[O_PLACED_AT].type != MSGPACK_OBJECT_NIL)
            return 0;
        bool found = s_resolve(self);
        rp_record_t tombstone = self->order; //  borrowed from order_doc
        self->order = (rp_record_t){0};
        rp_record_init(&self->order, s_fields, O_FIELDS);
        s_order_from_data(self, STATUS_CANCELLED);
        rp_record_set_obj(&self->order, O_CANCELLED_AT, &tombstone.values[O_CANCELLED_AT]);
        rp_record_set_obj(&self->order, O_REASON, &tombstone.values[O_REASON]);
        if (!found)
            rp_record_set_nil(&self->order, O_CUSTOMER_ID);
        rp_record_reset(&tombstone);
        return s_order_save(self);
    }
    if (rc != MDB_NOTFOUND)
        return rc;
    if (!s_resolve(self)) {
        s_order_from_data(self, STATUS_UNMATCHED);
        rc = unmatched_put(self->store, self->txn, self->seq, self->event, "unknown_customer");
        return rc ? rc : s_order_save(self);
    }
    s_order_from_data(self, STATUS_PLACED);
    return s_place(self);
}

static int s_cancelled(fold_t *self)
{
    const char *no;
    size_t no_len;
    rp_record_str(&self->data, RP_CANCEL_ORDER_NO, &no, &no_len);
    int rc = s_order_load(self, no, no_len);
    if (rc == MDB_NOTFOUND) { //  before its order: kept, so the order counts as cancelled
        rp_record_set_str(&self->order, O_NO, no, no_len);
        rp_record_set_str(&self->order, O_STATUS, STATUS_CANCELLED, strlen(STATUS_CANCELLED));
        rp_record_set_obj(&self->order, O_CANCELLED_AT, &self->data.values[RP_CANCEL_AT]);
        rp_record_set_obj(&self->order, O_REASON, &self->data.values[RP_CANCEL_REASON]);
        rp_record_set_u64(&self->order, O_SEQ, self->seq);
        return s_order_save(self);
    }
    if (rc || s_status_is(&self->order, STATUS_CANCELLED))
        return rc;
    bool was_placed = s_status_is(&self->order, STATUS_PLACED);
    rp_record_set_str(&self->order, O_STATUS, STATUS_CANCELLED, strlen(STATUS_CANCELLED));
    rp_record_set_obj(&self->order, O_CANCELLED_AT, &self->data.values[RP_CANCEL_AT]);
    rp_record_set_obj(&self->order, O_REASON, &self->data.values[RP_CANCEL_REASON]);
    if (!was_placed) //  unmatched: it leaves the queue, cancelled
        return (rc = unmatched_del(self->store, self->txn, rp_record_u64(&self->order, O_SEQ)))
                   ? rc
                   : s_order_save(self);
    const char *customer;
    rp_record_str(&self->order, O_CUSTOMER_ID, &customer, &self->customer_len);
    if (self->customer_len > APPLY_MAX_ID)
        return 0;
    memcpy(self->customer, customer, self->customer_len);
    self->customer[self->customer_len] = 0;
    s_line_order(self, "cancelled");
    s_line_str(self, "reason", &self->data.values[RP_CANCEL_REASON]);
    bool room;
    if ((rc = s_count(self, -1, &room)) != 0 || (rc = s_order_save(self)) != 0)
        return rc;
    return s_line(self);
}

//  A payment for self->customer.
static int s_pay(fold_t *self, const msgpack_object *data)
{
    stats_t stats;
    stats_init(&stats);
    const char *currency = "";
    size_t len = 0;
    rp_obj_str(rp_obj_get(data, "currency"), &currency, &len);
    int64_t cents = s_cents(rp_obj_get(data, "amount"));
    int rc = stats_load(&stats, self->store, self->txn, self->customer, self->customer_len);
    char code[4] = {0};
    memcpy(code, currency, len < 3 ? len : 3);
    bool room = rc == 0 && stats_payment(&stats, code, cents);
    if (!rc && room)
        rc = stats_save(&stats, self->store, self->txn, self->customer, self->customer_len);
    stats_reset(&stats);
    if (!rc && !room)
        return unmatched_put(self->store, self->txn, self->seq, self->event, "too_many_currencies");
    if (rc)
        return rc;
    s_line_str(self, "amount", rp_obj_get(data, "amount"));
    s_line_str(self, "currency", rp_obj_get(data, "currency"));
    s_line_str(self, "order_no", rp_obj_get(data, "order_no"));
    snprintf(self->summary, sizeof self->summary, "payment received: %" PRId64 ".%02" PRId64 " %s",
             cents / 100, cents % 100, code);
    return s_line(self);
}

static int s_paid(fold_t *self)
{
    return s_resolve(self)
               ? s_pay(self, self->event->data)
               : unmatched_put(self->store, self->txn, self->seq, self->event, "unknown_customer");
}

int order_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    fold_t self;
    s_fold_init(&self, store, txn, seq, event);
    int rc = 0;
    if (!rp_integrator_read(event->type, event->type_len, event->data, &self.data))
        rp_warn("customers: %.*s at seq %" PRIu64 " does not check: skipped", (int)event->type_len,
                event->type, seq);
    else if (rp_event_is(event, "order.placed"))
        rc = s_placed(&self);
    else if (rp_event_is(event, "order.cancelled"))
        rc = s_cancelled(&self);
    else
        rc = s_paid(&self);
    s_fold_fini(&self);
    return rc;
}

//  ---------------------------------------------------------------------
//  An admin's match

int order_apply_to(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                   const char *type, size_t type_len, const msgpack_object *data,
                   const char *customer, size_t len)
{
    fold_t self;
    s_fold_init(&self, store, txn, seq, event);
    memcpy(self.customer, customer, len);
    self.customer_len = len;
    int rc = 0;
    if (!rp_integrator_read(type, type_len, data, &self.data))
        rc = 0; //  the journal checked it: not one of ours
    else if (type_len == 12 && memcmp(type, "order.placed", 12) == 0) {
        const char *no;
        size_t no_len;
        rp_record_str(&self.data, RP_ORDER_NO, &no, &no_len);
        rc = s_order_load(&self, no, no_len);
        if (rc == 0 && s_status_is(&self.order, STATUS_UNMATCHED))
            rc = s_place(&self);
        else if (rc == MDB_NOTFOUND)
            rc = 0;
    } else
        rc = s_pay(&self, data);
    s_fold_fini(&self);
    return rc;
}

//  ---------------------------------------------------------------------
//  Merges

int order_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len, const char *to,
               size_t to_len)
{
    page_keys_t keys;
    MDB_dbi listing = rp_store_dbi(store, "customer_orders");
    int rc = page_keys(txn, listing, from, from_len, &keys);
    for (size_t i = 0; rc == 0 && i < keys.count; i++) {
        MDB_val value;
        if ((rc = mdb_get(txn, listing, &keys.keys[i], &value)) != 0)
            break;
        fold_t self;
        s_fold_init(&self, store, txn, 0, NULL);
        self.order_doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (!self.order_doc)
            rc = -1;
        else {
            rp_record_from_map(&self.order, rp_doc_root(self.order_doc));
            rp_record_set_str(&self.order, O_CUSTOMER_ID, to, to_len);
            if ((rc = mdb_del(txn, listing, &keys.keys[i], NULL)) == 0)
                rc = s_order_save(&self);
        }
        s_fold_fini(&self);
    }
    page_keys_free(&keys);
    stats_t source, target;
    stats_init(&source);
    stats_init(&target);
    if (rc == 0)
        rc = stats_load(&source, store, txn, from, from_len);
    if (rc == 0)
        rc = stats_load(&target, store, txn, to, to_len);
    if (rc == 0 && source.currencies && stats_merge(&target, &source)) {
        rc = stats_save(&target, store, txn, to, to_len);
        stats_reset(&source);
        if (rc == 0)
            rc = stats_save(&source, store, txn, from, from_len); //  empty: deleted
    }
    stats_reset(&source);
    stats_reset(&target);
    return rc;
}

//  ---------------------------------------------------------------------
//  The answer: a customer with its stats

//  The placed_at of the first (or last) placed order in the listing.
static bool s_edge(MDB_txn *txn, MDB_dbi dbi, const char *id, size_t len, bool last, char out[32])
{
    MDB_cursor *cursor;
    if (mdb_cursor_open(txn, dbi, &cursor))
        return false;
    char prefix[APPLY_MAX_ID + 2];
    memcpy(prefix, id, len);
    prefix[len] = last ? 1 : 0; //  just after the range, or its start
    MDB_val k = {len + 1, prefix}, v;
    int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
    if (last)
        rc = rc == 0 ? mdb_cursor_get(cursor, &k, &v, MDB_PREV)
                     : mdb_cursor_get(cursor, &k, &v, MDB_LAST);
    bool found = false;
    for (int steps = 0; rc == 0 && steps < 1000 && !found; steps++) {
        if (k.mv_size <= len || memcmp(k.mv_data, id, len) != 0 ||
            ((const char *)k.mv_data)[len] != 0)
            break;
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
        const char *at;
        size_t at_len;
        if (rp_obj_streq(rp_obj_get(root, "status"), STATUS_PLACED) &&
            rp_obj_str(rp_obj_get(root, "placed_at"), &at, &at_len) && at_len < 32) {
            memcpy(out, at, at_len);
            out[at_len] = 0;
            found = true;
        }
        rp_doc_destroy(&doc);
        rc = mdb_cursor_get(cursor, &k, &v, last ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close(cursor);
    return found;
}

int order_year(void)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    return tm.tm_year + 1900;
}

void order_pack_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *record, int year,
                         msgpack_packer *pk)
{
    uint32_t size = rp_obj_is_map(record) ? record->via.map.size : 0;
    msgpack_pack_map(pk, size + 1);
    for (uint32_t i = 0; i < size; i++) {
        msgpack_pack_object(pk, record->via.map.ptr[i].key);
        msgpack_pack_object(pk, record->via.map.ptr[i].val);
    }
    const char *id = "";
    size_t len = 0;
    rp_obj_str(rp_obj_get(record, "id"), &id, &len);
    stats_t stats;
    stats_init(&stats);
    stats_load(&stats, store, txn, id, len);
    grading_t grading;
    grading_load(&grading, store, txn);
    char first[32], last[32];
    MDB_dbi listing = rp_store_dbi(store, "customer_orders");
    bool has = len && len <= APPLY_MAX_ID && s_edge(txn, listing, id, len, false, first);
    has = has && s_edge(txn, listing, id, len, true, last);
    rp_pack_cstr(pk, "stats");
    stats_pack(&stats, pk, has ? first : NULL, has ? last : NULL, year, grading.currency,
               rp_obj_get(record, "credit_limit"));
    stats_reset(&stats);
}

//  ---------------------------------------------------------------------
//  Self-test: orders through customers_apply_event on two stores that
//  must end byte-identical (apply.c's replay harness).

typedef struct {
    const char *id;
    int64_t orders, amount, payments; //  CNY
    char grade[8], tier[16];
    size_t queued;
} test_view_t;

static int s_test_view_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_view_t *v = (test_view_t *)arg;
    stats_t stats;
    stats_init(&stats);
    assert(stats_load(&stats, store, txn, v->id, strlen(v->id)) == 0);
    v->orders = v->amount = v->payments = 0;
    for (size_t i = 0; i < stats.currencies; i++)
        if (memcmp(stats.c[i].code, "CNY", 3) == 0) {
            v->orders = stats.c[i].orders;
            v->amount = stats.c[i].amount;
            v->payments = stats.c[i].payments;
        }
    stats_reset(&stats);
    customers_apply_held_t held;
    assert(customers_apply_hold(store, txn, v->id, strlen(v->id), &held) == 0);
    const char *str;
    size_t len;
    v->grade[0] = v->tier[0] = 0;
    if (rp_record_str(&held.record, CUSTOMER_GRADE, &str, &len) && len < sizeof v->grade)
        snprintf(v->grade, sizeof v->grade, "%.*s", (int)len, str);
    if (rp_record_str(&held.record, CUSTOMER_TIER, &str, &len) && len < sizeof v->tier)
        snprintf(v->tier, sizeof v->tier, "%.*s", (int)len, str);
    customers_apply_release(&held);
    MDB_stat st;
    mdb_stat(txn, rp_store_dbi(store, "unmatched"), &st);
    v->queued = st.ms_entries;
    return 0;
}

static test_view_t s_test_view(rp_store_t *store, const char *id)
{
    test_view_t v = {.id = id};
    rp_store_read(store, s_test_view_read, &v);
    return v;
}

static void s_test_order(rp_store_t *store, uint64_t seq, const char *no, const char *code,
                         uint64_t amount)
{
    rp_packer_t data;
    rp_packer_init(&data);
    rp_integrator_test_order_of(&data.pk, no, code, amount);
    customers_apply_test_event(store, seq, "order.placed", NULL, &data);
    rp_packer_destroy(&data);
}

static void s_test_cancel(rp_store_t *store, uint64_t seq, const char *no)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "order_no", no);
    rp_pack_kv_cstr(&data.pk, "cancelled_at", "2026-11-24T08:00:00Z");
    customers_apply_test_event(store, seq, "order.cancelled", NULL, &data);
    rp_packer_destroy(&data);
}

static void s_test_journal(rp_store_t *store)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "name", "甲公司");
    rp_pack_kv_cstr(&data.pk, "code", "K3-001");
    rp_pack_kv_cstr(&data.pk, "tier", "prospect");
    customers_apply_test_event(store, 1, "customer.created", NULL, &data);

    //  The first order: D (12,000 ≥ 10,000), transacting; sent twice, once.
    s_test_order(store, 2, "SO-1", "K3-001", 12000);
    s_test_order(store, 3, "SO-1", "K3-001", 99999);
    test_view_t v = s_test_view(store, "c1");
    assert(v.orders == 1 && v.amount == 1200000);
    assert(strcmp(v.grade, "D") == 0 && strcmp(v.tier, "transacting") == 0);
    //  512,000 in twelve months: B and key; its cancel takes them back.
    s_test_order(store, 4, "SO-2", "K3-001", 500000);
    v = s_test_view(store, "c1");
    assert(v.orders == 2 && strcmp(v.grade, "B") == 0 && strcmp(v.tier, "key") == 0);
    s_test_cancel(store, 5, "SO-2");
    s_test_cancel(store, 6, "SO-2");
    v = s_test_view(store, "c1");
    assert(v.orders == 1 && v.amount == 1200000 && strcmp(v.grade, "D") == 0);
    assert(strcmp(v.tier, "transacting") == 0);
    //  A cancel before its order: the order never counts.
    s_test_cancel(store, 7, "SO-3");
    s_test_order(store, 8, "SO-3", "K3-001", 700);
    assert(s_test_view(store, "c1").orders == 1);
    //  Nobody's code: queued, then matched by an admin.
    s_test_order(store, 9, "SO-4", "K3-404", 300);
    v = s_test_view(store, "c1");
    assert(v.queued == 1 && v.orders == 1);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_u64(&data.pk, "unmatched", 9);
    customers_apply_test_event(store, 10, "customer.event_matched", "admin", &data);
    v = s_test_view(store, "c1");
    assert(v.queued == 0 && v.orders == 2 && v.amount == 1230000);
    //  A payment.
    msgpack_pack_map(&data.pk, 4);
    rp_pack_cstr(&data.pk, "customer");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_kv_u64(&data.pk, "amount", 5000);
    rp_pack_kv_cstr(&data.pk, "currency", "CNY");
    rp_pack_kv_cstr(&data.pk, "received_at", "2026-11-25T08:00:00Z");
    customers_apply_test_event(store, 11, "payment.received", NULL, &data);
    assert(s_test_view(store, "c1").payments == 500000);
    //  A grade set by hand stays; cleared, the orders decide again.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "grade", "A");
    customers_apply_test_event(store, 12, "customer.updated", "ann", &data);
    s_test_order(store, 13, "SO-5", "K3-001", 100);
    assert(strcmp(s_test_view(store, "c1").grade, "A") == 0);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_cstr(&data.pk, "grade");
    msgpack_pack_nil(&data.pk);
    customers_apply_test_event(store, 14, "customer.updated", "ann", &data);
    assert(strcmp(s_test_view(store, "c1").grade, "D") == 0);
    //  Another grading: 10,000 is C from now on.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "grading");
    rp_pack_cstr(&data.pk, "grading");
    grading_t grading;
    grading_default(&grading);
    grading.grades[2] = 1000000;
    grading.grades[3] = 100;
    grading_pack(&grading, &data.pk);
    customers_apply_test_event(store, 15, "customer.grading_set", NULL, &data);
    s_test_order(store, 16, "SO-6", "K3-001", 1);
    assert(strcmp(s_test_view(store, "c1").grade, "C") == 0);
    //  A year on, with no order since: the orders left the twelve months.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "grading");
    rp_pack_kv_cstr(&data.pk, "month", "2027-10");
    customers_apply_test_event(store, 17, "customer.regraded", NULL, &data);
    v = s_test_view(store, "c1");
    assert(strcmp(v.grade, "C") == 0); //  2027-10 still holds 2026-11
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "grading");
    rp_pack_kv_cstr(&data.pk, "month", "2027-11");
    customers_apply_test_event(store, 18, "customer.regraded", NULL, &data);
    v = s_test_view(store, "c1");
    assert(strcmp(v.grade, "E") == 0 && strcmp(v.tier, "transacting") == 0 && v.orders == 4);
    rp_packer_destroy(&data);
}

void order_test(void)
{
    assert(order_event(&(rp_event_t){.type = "order.placed", .type_len = 12}));
    assert(!order_event(&(rp_event_t){.type = "lead.captured", .type_len = 13}));
    rp_apply_test_replay("orders", customers_apply_dbnames, s_test_journal);
}
