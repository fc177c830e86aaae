/*  report.c — see report.h. */
#include "report.h"
#include "history.h"
#include "opportunity.h"
#include "pipeline.h"
#include "pipelines.h"

#include <czmq.h>
#include <assert.h>
#include <rapport/envelope.h>
#include <rapport/money.h>
#include <rapport/normalize.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

//  ---------------------------------------------------------------------
//  Cells: a count and sums per currency

typedef struct {
    char code[4];
    __int128 cents;
    rp_money_weighted_t weighted;
} sum_t;

typedef struct {
    uint64_t count;
    size_t size, cap;
    sum_t *sums; //  in currency order
} cell_t;

static sum_t *s_cell_sum(cell_t *self, const char *code)
{
    size_t i = 0;
    while (i < self->size && strcmp(self->sums[i].code, code) < 0)
        i++;
    if (i < self->size && strcmp(self->sums[i].code, code) == 0)
        return &self->sums[i];
    if (self->size == self->cap) {
        self->cap = self->cap ? self->cap * 2 : 2;
        self->sums = (sum_t *)realloc(self->sums, self->cap * sizeof *self->sums);
        assert(self->sums);
    }
    memmove(&self->sums[i + 1], &self->sums[i], (self->size - i) * sizeof *self->sums);
    self->size++;
    memset(&self->sums[i], 0, sizeof self->sums[i]);
    memcpy(self->sums[i].code, code, 4);
    return &self->sums[i];
}

static void s_cell_free(cell_t *self)
{
    free(self->sums);
    memset(self, 0, sizeof *self);
}

//  Count the deal, and add its amount (and amount × probability) under
//  its currency.
static void s_cell_add(cell_t *self, const msgpack_object *deal)
{
    int64_t cents;
    const char *str;
    size_t len;
    uint64_t percent = 0;
    char code[4] = OPPORTUNITY_CURRENCY_DEF;
    self->count++;
    if (!rp_money_cents(rp_obj_get(deal, "amount"), &cents))
        return;
    if (rp_obj_str(rp_obj_get(deal, "currency"), &str, &len) && len == 3)
        memcpy(code, str, 3);
    sum_t *sum = s_cell_sum(self, code);
    sum->cents += cents;
    rp_obj_u64(rp_obj_get(deal, "probability"), &percent);
    rp_money_weighted_add(&sum->weighted, cents, percent > 100 ? 100 : (unsigned)percent);
}

static void s_cell_merge(cell_t *self, const cell_t *other)
{
    self->count += other->count;
    for (size_t i = 0; i < other->size; i++) {
        sum_t *sum = s_cell_sum(self, other->sums[i].code);
        sum->cents += other->sums[i].cents;
        sum->weighted.sum += other->sums[i].weighted.sum;
    }
}

static void s_pack_cents(msgpack_packer *pk, __int128 cents)
{
    if (cents <= INT64_MAX)
        rp_money_pack(pk, (int64_t)cents);
    else
        msgpack_pack_double(pk, (double)cents / 100);
}

//  {currency: amount}, or the weighted sums.
static void s_pack_amounts(msgpack_packer *pk, const cell_t *cell, bool weighted)
{
    msgpack_pack_map(pk, cell->size);
    for (size_t i = 0; i < cell->size; i++) {
        rp_pack_cstr(pk, cell->sums[i].code);
        if (weighted)
            rp_money_pack(pk, rp_money_weighted_cents(&cell->sums[i].weighted));
        else
            s_pack_cents(pk, cell->sums[i].cents);
    }
}

//  "name": {count, amounts}
static void s_pack_cell(msgpack_packer *pk, const char *name, const cell_t *cell)
{
    rp_pack_cstr(pk, name);
    msgpack_pack_map(pk, 2);
    rp_pack_kv_u64(pk, "count", cell->count);
    rp_pack_cstr(pk, "amounts");
    s_pack_amounts(pk, cell, false);
}

static void s_pack_key(msgpack_packer *pk, const char *key)
{
    rp_pack_cstr(pk, "key");
    if (key)
        rp_pack_cstr(pk, key);
    else
        msgpack_pack_nil(pk);
}

//  ---------------------------------------------------------------------
//  Groups by a text key (forecast, win-loss)

typedef struct {
    char *key;      //  NULL: none
    cell_t a, b;    //  forecast: open, won; win-loss: won, lost
    int64_t ms_sum; //  win-loss: Σ closed_at − created_at
    uint64_t ms_count;
} group_t;

static void s_group_destroy(void **item)
{
    group_t *group = (group_t *)*item;
    free(group->key);
    s_cell_free(&group->a);
    s_cell_free(&group->b);
    free(group);
    *item = NULL;
}

static group_t *s_group(zhashx_t *groups, const char *key, size_t len)
{
    char none[] = "\x01"; //  cannot be a value: control characters are refused
    char *copy = key ? strndup(key, len) : NULL;
    group_t *group = (group_t *)zhashx_lookup(groups, copy ? copy : none);
    if (!group) {
        group = (group_t *)calloc(1, sizeof *group);
        assert(group);
        group->key = copy ? strdup(copy) : NULL;
        zhashx_insert(groups, copy ? copy : none, group);
    }
    free(copy);
    return group;
}

//  By key; no key last.
static int s_group_order(const void *a, const void *b)
{
    const group_t *x = *(const group_t *const *)a, *y = *(const group_t *const *)b;
    if (!x->key || !y->key)
        return x->key ? -1 : y->key ? 1 : 0;
    return strcmp(x->key, y->key);
}

//  The groups in order (the caller frees the array, not the groups).
static group_t **s_groups_sorted(zhashx_t *groups, size_t *count)
{
    size_t i = 0;
    *count = zhashx_size(groups);
    group_t **list = (group_t **)calloc(*count ? *count : 1, sizeof *list);
    assert(list);
    for (group_t *g = (group_t *)zhashx_first(groups); g; g = (group_t *)zhashx_next(groups))
        list[i++] = g;
    qsort(list, *count, sizeof *list, s_group_order);
    return list;
}

//  ---------------------------------------------------------------------
//  A report's state

typedef struct {
    const pipeline_t *pipeline; //  one of the report's pipelines
    size_t stage;               //  its index there
    cell_t cell;
} stale_t;

typedef struct {
    int64_t *seconds;
    size_t size, cap;
} durations_t;

typedef struct {
    report_kind_t kind;
    deals_query_t query;
    const rp_scope_t *scope;
    rp_store_t *store;
    MDB_txn *txn;
    MDB_dbi history;
    char from[RP_NORMALIZE_DATE_MAX], to[RP_NORMALIZE_DATE_MAX]; //  "" when absent
    char today[RP_NORMALIZE_DATE_MAX];
    char limits[4][RP_NORMALIZE_DATE_MAX]; //  horizon: today + 1, 3, 6, 12 months
    int by;
    bool unknown_pipeline;
    bool default_pipeline; //  pipeline_id not given: "default"
    bool no_pipeline;      //  the default one is not there yet
    pipeline_t *pipeline;  //  funnel, stage-durations
    size_t last_open;      //  funnel: the last non-lost stage (SIZE_MAX: none)
    size_t far;            //  funnel: the deal's furthest non-lost stage
    cell_t current[PIPELINE_MAX_STAGES], furthest[PIPELINE_MAX_STAGES];
    cell_t totals, totals_b, buckets[4];
    int64_t ms_sum;
    uint64_t ms_count;
    zhashx_t *groups;
    durations_t durations[PIPELINE_MAX_STAGES];
    //  stage-durations: the deal's current stay
    char stay[PIPELINE_MAX_KEY + 1];
    size_t stay_len;
    int64_t stay_at;
    bool staying;
    //  stale: the pipelines met, and the cells by pipeline and stage
    pipeline_t **pipelines;
    size_t pipeline_count;
    stale_t *stales;
    size_t stale_count, stale_cap;
} report_t;

static const char *const s_forecast_bys[] = {"month", "owner", "team", NULL};
static const char *const s_win_loss_bys[] = {"reason", "competitor", "owner", "source", NULL};
static const int s_horizon_months[4] = {1, 3, 6, 12};

static void s_report_free(report_t *self)
{
    for (size_t i = 0; i < PIPELINE_MAX_STAGES; i++) {
        s_cell_free(&self->current[i]);
        s_cell_free(&self->furthest[i]);
        free(self->durations[i].seconds);
    }
    s_cell_free(&self->totals);
    s_cell_free(&self->totals_b);
    for (size_t i = 0; i < 4; i++)
        s_cell_free(&self->buckets[i]);
    zhashx_destroy(&self->groups);
    if (self->pipeline) {
        pipeline_release(self->pipeline);
        free(self->pipeline);
    }
    for (size_t i = 0; i < self->pipeline_count; i++) {
        pipeline_release(self->pipelines[i]);
        free(self->pipelines[i]);
    }
    free(self->pipelines);
    for (size_t i = 0; i < self->stale_count; i++)
        s_cell_free(&self->stales[i].cell);
    free(self->stales);
    free(self);
}

//  "as_of": the date or nil.
static void s_pack_as_of(msgpack_packer *pk, const report_t *self)
{
    rp_pack_cstr(pk, "as_of");
    if (self->query.as_of[0])
        rp_pack_strn(pk, self->query.as_of, 10);
    else
        msgpack_pack_nil(pk);
}

//  ---------------------------------------------------------------------
//  Helpers on a deal

static bool s_str(const msgpack_object *deal, const char *field, const char **str, size_t *len)
{
    *str = NULL;
    *len = 0;
    return rp_obj_str(rp_obj_get(deal, field), str, len) && *len > 0;
}

//  Is the deal's date (the first 10 bytes of field) within [from, to]?
//  True when neither bound is set.
static bool s_in_dates(const msgpack_object *deal, const char *field, const char *from,
                       const char *to)
{
    const char *str;
    size_t len;
    if (!from[0] && !to[0])
        return true;
    if (!s_str(deal, field, &str, &len) || len < 10)
        return false;
    return (!from[0] || memcmp(str, from, 10) >= 0) && (!to[0] || memcmp(str, to, 10) <= 0);
}

static bool s_status(const msgpack_object *deal, const char *status)
{
    return rp_obj_streq(rp_obj_get(deal, "status"), status);
}

//  The UTC time of field in milliseconds.
static bool s_time(const msgpack_object *deal, const char *field, int64_t *ms)
{
    const char *str;
    size_t len;
    return s_str(deal, field, &str, &len) && rp_time_parse(str, len, ms);
}

//  Is the entry's time after the report's as_of (when there is one)?
static bool s_after_as_of(const report_t *self, const history_entry_t *entry)
{
    const char *until = self->query.as_of;
    if (!until[0])
        return false;
    size_t n = strlen(until), m = entry->at_len < n ? entry->at_len : n;
    int c = memcmp(entry->at, until, m);
    return c > 0 || (c == 0 && entry->at_len > n);
}

//  date + months (the day cut to the month's last), YYYY-MM-DD.
static void s_add_months(const char *date, int months, char out[RP_NORMALIZE_DATE_MAX])
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = atoi(date), m = atoi(date + 5) - 1 + months, d = atoi(date + 8);
    y += m / 12;
    m %= 12;
    int last = days[m] + (m == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    char buf[48];
    snprintf(buf, sizeof buf, "%04d-%02d-%02d", y % 10000, m + 1, d > last ? last : d);
    snprintf(out, RP_NORMALIZE_DATE_MAX, "%.10s", buf);
}

//  ---------------------------------------------------------------------
//  Funnel

static bool s_funnel_entry(void *arg, const history_entry_t *entry)
{
    report_t *self = (report_t *)arg;
    size_t index;
    if (s_after_as_of(self, entry))
        return false;
    const pipeline_stage_t *stage =
        pipeline_stage(self->pipeline, entry->to, entry->to_len, &index);
    if (stage && stage->kind != PIPELINE_LOST && (self->far == SIZE_MAX || index > self->far))
        self->far = index;
    return self->far != self->last_open; //  none further: stop there
}

//  Has the deal changed stage since its creation? (true when unsure)
static bool s_moved(const msgpack_object *deal)
{
    const char *entered, *created;
    size_t entered_len, created_len;
    return !s_str(deal, "stage_entered_at", &entered, &entered_len) ||
           !s_str(deal, "created_at", &created, &created_len) || entered_len != created_len ||
           memcmp(entered, created, created_len) != 0;
}

static bool s_funnel_visit(report_t *self, const msgpack_object *deal)
{
    const char *key, *id;
    size_t key_len, id_len, index;
    if (!s_in_dates(deal, "created_at", self->from, self->to) ||
        !s_str(deal, "stage", &key, &key_len))
        return true;
    const pipeline_stage_t *stage = pipeline_stage(self->pipeline, key, key_len, &index);
    if (!stage)
        return true;
    s_cell_add(&self->current[index], deal);
    self->far = stage->kind == PIPELINE_LOST ? SIZE_MAX : index;
    if (self->far != self->last_open && s_moved(deal) && s_str(deal, "id", &id, &id_len))
        history_each(self->txn, self->history, id, id_len, s_funnel_entry, self);
    if (self->far != SIZE_MAX)
        s_cell_add(&self->furthest[self->far], deal);
    return true;
}

static void s_funnel_pack(report_t *self, msgpack_packer *pk)
{
    const pipeline_t *pipeline = self->pipeline;
    size_t n = pipeline->stage_count;
    cell_t *reached = (cell_t *)calloc(n, sizeof *reached);
    assert(reached);
    cell_t acc = {0};
    for (size_t i = n; i-- > 0;)
        if (pipeline->stages[i].kind == PIPELINE_LOST)
            s_cell_merge(&reached[i], &self->current[i]);
        else {
            s_cell_merge(&acc, &self->furthest[i]);
            s_cell_merge(&reached[i], &acc);
        }
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "pipeline_id");
    rp_pack_strn(pk, pipeline->id, pipeline->id_len);
    s_pack_as_of(pk, self);
    rp_pack_cstr(pk, "stages");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        const pipeline_stage_t *stage = &pipeline->stages[i];
        msgpack_pack_map(pk, 6);
        rp_pack_cstr(pk, "key");
        rp_pack_strn(pk, stage->key, stage->key_len);
        rp_pack_cstr(pk, "name");
        rp_pack_strn(pk, stage->name, stage->name_len);
        rp_pack_kv_cstr(pk, "kind", pipeline_kind_name(stage->kind));
        s_pack_cell(pk, "reached", &reached[i]);
        s_pack_cell(pk, "current", &self->current[i]);
        rp_pack_cstr(pk, "conversion");
        size_t next = i + 1;
        while (next < n && pipeline->stages[next].kind == PIPELINE_LOST)
            next++;
        if (stage->kind == PIPELINE_LOST || next == n)
            msgpack_pack_nil(pk);
        else
            rp_money_pack_ratio(pk, (int64_t)reached[next].count, (int64_t)reached[i].count, 4);
    }
    for (size_t i = 0; i < n; i++)
        s_cell_free(&reached[i]);
    free(reached);
    s_cell_free(&acc);
}

//  ---------------------------------------------------------------------
//  Forecast

static void s_by_key(const msgpack_object *deal, const char *field, bool month, const char **key,
                     size_t *len)
{
    if (!s_str(deal, field, key, len) || (month && *len < 7))
        *key = NULL;
    else if (month)
        *len = 7;
}

static bool s_forecast_visit(report_t *self, const msgpack_object *deal)
{
    static const char *const fields[] = {"expected_close", "owner", "team"};
    const char *key;
    size_t len;
    bool open = s_status(deal, "open");
    if (open && s_in_dates(deal, "expected_close", self->from, self->to)) {
        s_by_key(deal, fields[self->by], self->by == 0, &key, &len);
        s_cell_add(&s_group(self->groups, key, len)->a, deal);
        s_cell_add(&self->totals, deal);
    } else if (s_status(deal, "won") && s_in_dates(deal, "closed_at", self->from, self->to)) {
        s_by_key(deal, self->by == 0 ? "closed_at" : fields[self->by], self->by == 0, &key, &len);
        s_cell_add(&s_group(self->groups, key, len)->b, deal);
        s_cell_add(&self->totals_b, deal);
    }
    return true;
}

static void s_forecast_cells(msgpack_packer *pk, const cell_t *open, const cell_t *won)
{
    rp_pack_kv_u64(pk, "count", open->count);
    rp_pack_cstr(pk, "amounts");
    s_pack_amounts(pk, open, false);
    rp_pack_cstr(pk, "weighted");
    s_pack_amounts(pk, open, true);
    rp_pack_kv_u64(pk, "won_count", won->count);
    rp_pack_cstr(pk, "won");
    s_pack_amounts(pk, won, false);
}

static void s_pack_date(msgpack_packer *pk, const char *name, const char *date)
{
    rp_pack_cstr(pk, name);
    if (date[0])
        rp_pack_cstr(pk, date);
    else
        msgpack_pack_nil(pk);
}

static void s_forecast_pack(report_t *self, msgpack_packer *pk)
{
    size_t count;
    group_t **groups = s_groups_sorted(self->groups, &count);
    msgpack_pack_map(pk, 6);
    rp_pack_kv_cstr(pk, "by", s_forecast_bys[self->by]);
    s_pack_date(pk, "from", self->from);
    s_pack_date(pk, "to", self->to);
    s_pack_as_of(pk, self);
    rp_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_map(pk, 6);
        s_pack_key(pk, groups[i]->key);
        s_forecast_cells(pk, &groups[i]->a, &groups[i]->b);
    }
    rp_pack_cstr(pk, "totals");
    msgpack_pack_map(pk, 5);
    s_forecast_cells(pk, &self->totals, &self->totals_b);
    free(groups);
}

//  ---------------------------------------------------------------------
//  Horizon

static bool s_horizon_visit(report_t *self, const msgpack_object *deal)
{
    const char *close;
    size_t len;
    if (!s_status(deal, "open") || !s_str(deal, "expected_close", &close, &len) || len < 10)
        return true;
    if (memcmp(close, self->today, 10) < 0) {
        s_cell_add(&self->totals, deal);
        return true;
    }
    for (size_t i = 0; i < 4; i++)
        if (memcmp(close, self->limits[i], 10) < 0)
            s_cell_add(&self->buckets[i], deal);
    return true;
}

static void s_horizon_pack(report_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 4);
    s_pack_as_of(pk, self);
    rp_pack_kv_cstr(pk, "today", self->today);
    rp_pack_cstr(pk, "buckets");
    msgpack_pack_array(pk, 4);
    for (size_t i = 0; i < 4; i++) {
        msgpack_pack_map(pk, 3);
        rp_pack_kv_u64(pk, "months", (uint64_t)s_horizon_months[i]);
        rp_pack_kv_u64(pk, "count", self->buckets[i].count);
        rp_pack_cstr(pk, "amounts");
        s_pack_amounts(pk, &self->buckets[i], false);
    }
    s_pack_cell(pk, "overdue", &self->totals);
}

//  ---------------------------------------------------------------------
//  Win-loss

static void s_win_loss_add(group_t *group, const msgpack_object *deal, bool won, bool timed,
                           int64_t ms)
{
    s_cell_add(won ? &group->a : &group->b, deal);
    if (timed) {
        group->ms_sum += ms;
        group->ms_count++;
    }
}

static bool s_win_loss_visit(report_t *self, const msgpack_object *deal)
{
    bool won = s_status(deal, "won");
    int64_t closed, created;
    if ((!won && !s_status(deal, "lost")) || !s_in_dates(deal, "closed_at", self->from, self->to))
        return true;
    bool timed = s_time(deal, "closed_at", &closed) && s_time(deal, "created_at", &created) &&
                 closed >= created;
    int64_t ms = timed ? closed - created : 0;
    s_cell_add(won ? &self->totals : &self->totals_b, deal);
    if (timed) {
        self->ms_sum += ms;
        self->ms_count++;
    }
    const char *key;
    size_t len;
    if (self->by == 1) { //  competitor: each one named once
        const msgpack_object *list = rp_obj_get(deal, "competitors");
        size_t named = 0;
        for (uint32_t i = 0; rp_obj_is_array(list) && i < list->via.array.size; i++) {
            bool seen = false;
            if (!rp_obj_str(&list->via.array.ptr[i], &key, &len) || len == 0)
                continue;
            for (uint32_t j = 0; j < i && !seen; j++) {
                const char *other;
                size_t other_len;
                seen = rp_obj_str(&list->via.array.ptr[j], &other, &other_len) &&
                       other_len == len && memcmp(other, key, len) == 0;
            }
            if (!seen) {
                s_win_loss_add(s_group(self->groups, key, len), deal, won, timed, ms);
                named++;
            }
        }
        if (!named)
            s_win_loss_add(s_group(self->groups, NULL, 0), deal, won, timed, ms);
        return true;
    }
    static const char *const fields[] = {"lost_reason", NULL, "owner", "source"};
    if (self->by == 0 && won)
        key = NULL, len = 0;
    else
        s_by_key(deal, fields[self->by], false, &key, &len);
    s_win_loss_add(s_group(self->groups, key, len), deal, won, timed, ms);
    return true;
}

static void s_win_loss_cells(msgpack_packer *pk, const cell_t *won, const cell_t *lost,
                             int64_t ms_sum, uint64_t ms_count)
{
    s_pack_cell(pk, "won", won);
    s_pack_cell(pk, "lost", lost);
    rp_pack_cstr(pk, "win_rate");
    rp_money_pack_ratio(pk, (int64_t)won->count, (int64_t)(won->count + lost->count), 4);
    rp_pack_cstr(pk, "avg_days_to_close");
    rp_money_pack_ratio(pk, (int64_t)ms_sum, (int64_t)(ms_count * (uint64_t)DAY_MS), 2);
}

static void s_win_loss_pack(report_t *self, msgpack_packer *pk)
{
    size_t count;
    group_t **groups = s_groups_sorted(self->groups, &count);
    msgpack_pack_map(pk, 6);
    rp_pack_kv_cstr(pk, "by", s_win_loss_bys[self->by]);
    s_pack_date(pk, "from", self->from);
    s_pack_date(pk, "to", self->to);
    s_pack_as_of(pk, self);
    rp_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++) {
        msgpack_pack_map(pk, 5);
        s_pack_key(pk, groups[i]->key);
        s_win_loss_cells(pk, &groups[i]->a, &groups[i]->b, groups[i]->ms_sum, groups[i]->ms_count);
    }
    rp_pack_cstr(pk, "totals");
    msgpack_pack_map(pk, 4);
    s_win_loss_cells(pk, &self->totals, &self->totals_b, self->ms_sum, self->ms_count);
    free(groups);
}

//  ---------------------------------------------------------------------
//  Stage durations

static void s_duration_add(report_t *self, int64_t left)
{
    size_t index;
    if (!pipeline_stage(self->pipeline, self->stay, self->stay_len, &index) || left < self->stay_at)
        return;
    durations_t *d = &self->durations[index];
    if (d->size == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->seconds = (int64_t *)realloc(d->seconds, d->cap * sizeof *d->seconds);
        assert(d->seconds);
    }
    d->seconds[d->size++] = (left - self->stay_at) / 1000;
}

static bool s_durations_entry(void *arg, const history_entry_t *entry)
{
    report_t *self = (report_t *)arg;
    int64_t at;
    if (s_after_as_of(self, entry))
        return false;
    if (!rp_time_parse(entry->at, entry->at_len, &at) || entry->to_len > PIPELINE_MAX_KEY)
        return true;
    if (self->staying &&
        (entry->to_len == self->stay_len && memcmp(entry->to, self->stay, self->stay_len) == 0))
        return true; //  the same stay goes on
    if (self->staying)
        s_duration_add(self, at);
    memcpy(self->stay, entry->to, entry->to_len);
    self->stay_len = entry->to_len;
    self->stay_at = at;
    self->staying = true;
    return true;
}

static bool s_durations_visit(report_t *self, const msgpack_object *deal)
{
    const char *id;
    size_t id_len;
    self->staying = false;
    if (s_str(deal, "id", &id, &id_len))
        history_each(self->txn, self->history, id, id_len, s_durations_entry, self);
    return true;
}

static int s_seconds_order(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void s_durations_pack(report_t *self, msgpack_packer *pk)
{
    const pipeline_t *pipeline = self->pipeline;
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "pipeline_id");
    rp_pack_strn(pk, pipeline->id, pipeline->id_len);
    s_pack_as_of(pk, self);
    rp_pack_cstr(pk, "stages");
    msgpack_pack_array(pk, pipeline->stage_count);
    for (size_t i = 0; i < pipeline->stage_count; i++) {
        durations_t *d = &self->durations[i];
        const pipeline_stage_t *stage = &pipeline->stages[i];
        if (d->size > 1)
            qsort(d->seconds, d->size, sizeof *d->seconds, s_seconds_order);
        msgpack_pack_map(pk, 7);
        rp_pack_cstr(pk, "key");
        rp_pack_strn(pk, stage->key, stage->key_len);
        rp_pack_cstr(pk, "name");
        rp_pack_strn(pk, stage->name, stage->name_len);
        rp_pack_kv_u64(pk, "count", d->size);
        //  Nearest rank: the ceil(p × n)-th smallest.
        size_t median = (d->size + 1) / 2, p90 = (d->size * 9 + 9) / 10;
        rp_pack_cstr(pk, "median_seconds");
        if (d->size)
            msgpack_pack_int64(pk, d->seconds[median - 1]);
        else
            msgpack_pack_nil(pk);
        rp_pack_cstr(pk, "p90_seconds");
        if (d->size)
            msgpack_pack_int64(pk, d->seconds[p90 - 1]);
        else
            msgpack_pack_nil(pk);
        rp_pack_cstr(pk, "median_days");
        rp_money_pack_ratio(pk, d->size ? (int64_t)d->seconds[median - 1] : 0, d->size ? 86400 : 0,
                            2);
        rp_pack_cstr(pk, "p90_days");
        rp_money_pack_ratio(pk, d->size ? (int64_t)d->seconds[p90 - 1] : 0, d->size ? 86400 : 0, 2);
    }
}

//  ---------------------------------------------------------------------
//  Stale

static size_t s_stale_pipeline(report_t *self, const char *id, size_t len)
{
    for (size_t i = 0; i < self->pipeline_count; i++)
        if (self->pipelines[i]->id_len == len && memcmp(self->pipelines[i]->id, id, len) == 0)
            return i;
    pipeline_t *pipeline = (pipeline_t *)malloc(sizeof *pipeline);
    assert(pipeline);
    if (pipeline_load(self->store, self->txn, id, len, pipeline)) {
        pipeline_release(pipeline);
        free(pipeline);
        return SIZE_MAX;
    }
    self->pipelines = (pipeline_t **)realloc(self->pipelines,
                                             (self->pipeline_count + 1) * sizeof *self->pipelines);
    assert(self->pipelines);
    self->pipelines[self->pipeline_count] = pipeline;
    return self->pipeline_count++;
}

static bool s_stale_visit(report_t *self, const msgpack_object *deal)
{
    const char *pid, *key;
    size_t pid_len, key_len, stage;
    if (!s_str(deal, "pipeline_id", &pid, &pid_len) || !s_str(deal, "stage", &key, &key_len))
        return true;
    size_t p = s_stale_pipeline(self, pid, pid_len);
    if (p == SIZE_MAX || !pipeline_stage(self->pipelines[p], key, key_len, &stage))
        return true;
    stale_t *cell = NULL;
    for (size_t i = 0; i < self->stale_count && !cell; i++)
        if (self->stales[i].pipeline == self->pipelines[p] && self->stales[i].stage == stage)
            cell = &self->stales[i];
    if (!cell) {
        if (self->stale_count == self->stale_cap) {
            self->stale_cap = self->stale_cap ? self->stale_cap * 2 : 8;
            self->stales = (stale_t *)realloc(self->stales, self->stale_cap * sizeof *self->stales);
            assert(self->stales);
        }
        cell = &self->stales[self->stale_count++];
        memset(cell, 0, sizeof *cell);
        cell->pipeline = self->pipelines[p];
        cell->stage = stage;
    }
    s_cell_add(&cell->cell, deal);
    s_cell_add(&self->totals, deal);
    return true;
}

//  By pipeline id, then stage order.
static int s_stale_order(const void *a, const void *b)
{
    const stale_t *x = (const stale_t *)a, *y = (const stale_t *)b;
    const pipeline_t *px = x->pipeline, *py = y->pipeline;
    if (px != py) {
        size_t n = px->id_len < py->id_len ? px->id_len : py->id_len;
        int c = memcmp(px->id, py->id, n);
        return c ? c : px->id_len < py->id_len ? -1 : 1;
    }
    return x->stage < y->stage ? -1 : x->stage > y->stage;
}

static void s_stale_pack(report_t *self, msgpack_packer *pk)
{
    if (self->stale_count > 1)
        qsort(self->stales, self->stale_count, sizeof *self->stales, s_stale_order);
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "now", self->query.now);
    s_pack_as_of(pk, self);
    rp_pack_cstr(pk, "stages");
    msgpack_pack_array(pk, self->stale_count);
    for (size_t i = 0; i < self->stale_count; i++) {
        const pipeline_t *pipeline = self->stales[i].pipeline;
        const pipeline_stage_t *stage = &pipeline->stages[self->stales[i].stage];
        msgpack_pack_map(pk, 6);
        rp_pack_cstr(pk, "pipeline_id");
        rp_pack_strn(pk, pipeline->id, pipeline->id_len);
        rp_pack_cstr(pk, "key");
        rp_pack_strn(pk, stage->key, stage->key_len);
        rp_pack_cstr(pk, "name");
        rp_pack_strn(pk, stage->name, stage->name_len);
        rp_pack_kv_u64(pk, "rot_days", stage->rot_days);
        rp_pack_kv_u64(pk, "count", self->stales[i].cell.count);
        rp_pack_cstr(pk, "amounts");
        s_pack_amounts(pk, &self->stales[i].cell, false);
    }
    s_pack_cell(pk, "totals", &self->totals);
}

//  ---------------------------------------------------------------------
//  The walk and the ops

static bool s_visit(void *arg, const MDB_val *value, const msgpack_object *deal)
{
    (void)value;
    report_t *self = (report_t *)arg;
    switch (self->kind) {
    case REPORT_FUNNEL:
        return s_funnel_visit(self, deal);
    case REPORT_FORECAST:
        return s_forecast_visit(self, deal);
    case REPORT_HORIZON:
        return s_horizon_visit(self, deal);
    case REPORT_WIN_LOSS:
        return s_win_loss_visit(self, deal);
    case REPORT_STAGE_DURATIONS:
        return s_durations_visit(self, deal);
    case REPORT_STALE:
        return s_stale_visit(self, deal);
    default:
        return false;
    }
}

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    report_t *self = (report_t *)arg;
    self->txn = txn;
    self->history = rp_store_dbi(store, "history");
    if (self->kind == REPORT_FUNNEL || self->kind == REPORT_STAGE_DURATIONS) {
        const deals_query_text_t *id = &self->query.exact[DEALS_Q_PIPELINE_ID];
        self->pipeline = (pipeline_t *)malloc(sizeof *self->pipeline);
        assert(self->pipeline);
        int rc = pipeline_load(store, txn, id->ptr, id->len, self->pipeline);
        if (rc == MDB_NOTFOUND) {
            //  The default pipeline not seeded yet (no writer has run):
            //  no stages and no deals, an empty report; any other is 422.
            self->unknown_pipeline = !self->default_pipeline;
            self->no_pipeline = self->default_pipeline;
            return 0;
        }
        if (rc)
            return rc;
        if (!pipelines_visible(self->scope, rp_obj_get(rp_doc_root(self->pipeline->doc), "team"))) {
            self->unknown_pipeline = true; //  another team's: as if it did not exist
            return 0;
        }
        self->last_open = SIZE_MAX;
        for (size_t i = 0; i < self->pipeline->stage_count; i++)
            if (self->pipeline->stages[i].kind != PIPELINE_LOST)
                self->last_open = i;
    }
    char next[512];
    return deals_query_walk(store, txn, &self->query, self->scope, SIZE_MAX, s_visit, self, next,
                            sizeof next);
}

static int s_error(report_error_t *error, const char *field, const char *code, const char *message)
{
    if (error->count < REPORT_MAX_ERRORS) {
        rp_field_error_set(&error->errors[error->count], field, strlen(field), code);
        error->errors[error->count].message = message;
        error->count++;
    }
    return 422;
}

static void s_date_arg(const msgpack_object *args, const char *name,
                       char out[RP_NORMALIZE_DATE_MAX], report_error_t *error)
{
    const msgpack_object *o = rp_obj_get(args, name);
    const char *str;
    size_t len;
    out[0] = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return;
    if (!rp_obj_str(o, &str, &len) || len > 10 || rp_normalize_date(str, len, out)) {
        out[0] = 0;
        s_error(error, name, "invalid", "must be a date YYYY-MM-DD");
    }
}

static int s_by_arg(const msgpack_object *args, const char *const *names, report_error_t *error,
                    const char *message)
{
    const msgpack_object *o = rp_obj_get(args, "by");
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    for (int i = 0; names[i]; i++)
        if (rp_obj_streq(o, names[i]))
            return i;
    s_error(error, "by", "invalid", message);
    return 0;
}

//  The report's own args and the list's into self; the number of errors.
static int s_parse(report_t *self, const msgpack_object *args, const char *now,
                   report_error_t *error)
{
    error->count = deals_query_parse(&self->query, args, error->errors, DEALS_QUERY_MAX_ERRORS);
    if (self->kind == REPORT_FUNNEL || self->kind == REPORT_FORECAST ||
        self->kind == REPORT_WIN_LOSS) {
        s_date_arg(args, "from", self->from, error);
        s_date_arg(args, "to", self->to, error);
        if (self->from[0] && self->to[0] && strcmp(self->from, self->to) > 0)
            s_error(error, "to", "invalid", "to must not be before from");
    }
    if (self->kind == REPORT_FORECAST)
        self->by = s_by_arg(args, s_forecast_bys, error, "by is one of month, owner, team");
    if (self->kind == REPORT_WIN_LOSS)
        self->by =
            s_by_arg(args, s_win_loss_bys, error, "by is one of reason, competitor, owner, source");
    //  All deals, in id order (a sort or cursor of the list means nothing here).
    self->query.sort = 0;
    self->query.descending = false;
    self->query.cursor_len = 0;
    snprintf(self->query.now, sizeof self->query.now, "%s", now);
    if (self->query.as_of[0] && self->kind == REPORT_STALE)
        snprintf(self->query.now, sizeof self->query.now, "%s", self->query.as_of);
    if (self->kind == REPORT_STALE)
        self->query.stale = true;
    deals_query_text_t *pipeline = &self->query.exact[DEALS_Q_PIPELINE_ID];
    if ((self->kind == REPORT_FUNNEL || self->kind == REPORT_STAGE_DURATIONS) && !pipeline->ptr) {
        self->default_pipeline = true;
        pipeline->ptr = PIPELINE_DEFAULT_ID;
        pipeline->len = strlen(PIPELINE_DEFAULT_ID);
    }
    snprintf(self->today, sizeof self->today, "%.10s",
             self->query.as_of[0] ? self->query.as_of : now);
    for (size_t i = 0; i < 4; i++)
        s_add_months(self->today, s_horizon_months[i], self->limits[i]);
    return error->count;
}

int report_build(report_kind_t kind, rp_store_t *store, const rp_scope_t *scope,
                 const msgpack_object *args, const char *now, rp_packer_t *out,
                 report_error_t *error)
{
    error->count = 0;
    error->code = error->message = NULL;
    if (kind >= REPORT_KINDS) {
        error->code = "unknown_report";
        error->message = "no such report";
        return 404;
    }
    report_t *self = (report_t *)calloc(1, sizeof *self);
    assert(self);
    self->kind = kind;
    self->store = store;
    self->scope = scope;
    self->groups = zhashx_new();
    zhashx_set_destructor(self->groups, s_group_destroy);
    int status = 0;
    if (s_parse(self, args, now, error))
        status = 422;
    else if (rp_store_read(store, s_read, self)) {
        status = 500;
        error->code = "store_error";
        error->message = "the store failed";
    } else if (self->unknown_pipeline) {
        status = 422;
        error->code = "unknown_pipeline";
        error->message = "no pipeline with this pipeline_id";
    } else if (self->no_pipeline) {
        msgpack_packer *pk = &out->pk;
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "pipeline_id", PIPELINE_DEFAULT_ID);
        s_pack_as_of(pk, self);
        rp_pack_cstr(pk, "stages");
        msgpack_pack_array(pk, 0);
    } else {
        msgpack_packer *pk = &out->pk;
        switch (kind) {
        case REPORT_FUNNEL:
            s_funnel_pack(self, pk);
            break;
        case REPORT_FORECAST:
            s_forecast_pack(self, pk);
            break;
        case REPORT_HORIZON:
            s_horizon_pack(self, pk);
            break;
        case REPORT_WIN_LOSS:
            s_win_loss_pack(self, pk);
            break;
        case REPORT_STAGE_DURATIONS:
            s_durations_pack(self, pk);
            break;
        default:
            s_stale_pack(self, pk);
            break;
        }
    }
    s_report_free(self);
    return status;
}

static void s_op(report_kind_t kind, rp_service_t *service, rp_origin_t *origin,
                 const rp_request_t *req)
{
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden", "this role cannot read reports");
        return;
    }
    char now[32];
    rp_time_now(now);
    report_error_t error;
    rp_packer_t data;
    rp_packer_init(&data);
    int status =
        report_build(kind, rp_service_store(service), &scope, req->args, now, &data, &error);
    if (status && error.count)
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid",
                                 error.errors, error.count);
    else if (status)
        rp_service_reply_error(service, &origin, status, error.code, error.message);
    else {
        rp_packer_t reply;
        rp_packer_init(&reply);
        rp_reply_pack(&reply.pk, rp_origin_id(origin), 200, 0, 1);
        rp_pack_cstr(&reply.pk, "data");
        msgpack_sbuffer_write(&reply.buffer, data.buffer.data, data.buffer.size);
        rp_service_reply(service, &origin, reply.buffer.data, reply.buffer.size);
        rp_packer_destroy(&reply);
    }
    rp_packer_destroy(&data);
}

void report_funnel(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_FUNNEL, service, origin, req);
}

void report_forecast(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_FORECAST, service, origin, req);
}

void report_horizon(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_HORIZON, service, origin, req);
}

void report_win_loss(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_WIN_LOSS, service, origin, req);
}

void report_stage_durations(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_STAGE_DURATIONS, service, origin, req);
}

void report_stale(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_op(REPORT_STALE, service, origin, req);
}

//  ---------------------------------------------------------------------
//  Self-test: two pipelines, six deals with their history, every report's
//  numbers (per currency, as_of, scope), and cells against the list.

#define TEST_NOW "2026-12-03T12:00:00.000Z"

typedef struct {
    const char *id, *owner, *pipeline, *stage, *status;
    unsigned amount; //  0: none
    const char *currency;
    unsigned probability;
    const char *close, *created, *entered, *closed, *reason;
    const char *competitors[4];
    //  history: at and to, NULL-terminated
    const char *history[8][2];
} test_deal_t;

static const test_deal_t s_test_deals[] = {
    {"d1",
     "ann",
     "default",
     "proposal",
     "open",
     100,
     "CNY",
     99,
     "2026-12-20",
     "2026-11-01T08:00:00.000Z",
     "2026-11-10T08:00:00.000Z",
     NULL,
     NULL,
     {NULL},
     {{"2026-11-01T08:00:00.000Z", "lead"},
      {"2026-11-03T08:00:00.000Z", "lead"}, //  an amount change: the stay goes on
      {"2026-11-05T08:00:00.000Z", "contacted"},
      {"2026-11-10T08:00:00.000Z", "proposal"}}},
    {"d2",
     "ann",
     "default",
     "lead",
     "open",
     200,
     "CNY",
     0,
     "2026-12-25",
     "2026-11-02T08:00:00.000Z",
     "2026-11-02T08:00:00.000Z",
     NULL,
     NULL,
     {NULL},
     {{"2026-11-02T08:00:00.000Z", "lead"}}},
    {"d3",
     "bob",
     "default",
     "lost",
     "lost",
     300,
     "USD",
     0,
     NULL,
     "2026-10-01T08:00:00.000Z",
     "2026-11-15T08:00:00.000Z",
     "2026-11-15T08:00:00.000Z",
     "价格",
     {"X", "Y", "X", NULL},
     {{"2026-10-01T08:00:00.000Z", "lead"},
      {"2026-10-10T08:00:00.000Z", "contacted"},
      {"2026-11-15T08:00:00.000Z", "lost"}}},
    {"d4",
     "bob",
     "default",
     "won",
     "won",
     500,
     "USD",
     100,
     "2026-11-20",
     "2026-10-01T08:00:00.000Z",
     "2026-11-20T08:00:00.000Z",
     "2026-11-20T08:00:00.000Z",
     NULL,
     {NULL},
     {{"2026-10-01T08:00:00.000Z", "lead"},
      {"2026-11-01T08:00:00.000Z", "proposal"},
      {"2026-11-20T08:00:00.000Z", "won"}}},
    {"d5",
     "ann",
     "default",
     "lead",
     "open",
     50,
     "CNY",
     10,
     "2026-10-01",
     "2026-09-01T08:00:00.000Z",
     "2026-10-15T08:00:00.000Z",
     NULL,
     NULL,
     {NULL},
     {{"2026-09-01T08:00:00.000Z", "lead"},
      {"2026-09-10T08:00:00.000Z", "proposal"},
      {"2026-10-15T08:00:00.000Z", "lead"}}},
    {"d6",
     "ann",
     "p2",
     "s1",
     "open",
     70,
     "CNY",
     20,
     "2027-01-15",
     "2026-11-01T08:00:00.000Z",
     "2026-11-01T08:00:00.000Z",
     NULL,
     NULL,
     {NULL},
     {{"2026-11-01T08:00:00.000Z", "s1"}}},
    {"d7",
     "ann",
     "default",
     "lead",
     "open",
     0,
     NULL,
     10,
     NULL,
     "2026-11-02T08:00:00.000Z",
     "2026-11-02T08:00:00.000Z",
     NULL,
     NULL,
     {NULL},
     {{"2026-11-02T08:00:00.000Z", "lead"}}},
};
#define TEST_DEAL_COUNT (sizeof s_test_deals / sizeof s_test_deals[0])

static void s_test_kv(msgpack_packer *pk, const char *key, const char *value)
{
    rp_pack_cstr(pk, key);
    if (value)
        rp_pack_cstr(pk, value);
    else
        msgpack_pack_nil(pk);
}

static void s_test_amount(msgpack_packer *pk, const test_deal_t *d)
{
    rp_pack_cstr(pk, "amount");
    if (d->amount)
        msgpack_pack_uint64(pk, d->amount);
    else
        msgpack_pack_nil(pk);
    s_test_kv(pk, "currency", d->currency);
    rp_pack_kv_u64(pk, "probability", d->probability);
}

//  0 or an LMDB error (MDB_MAP_FULL: the store grows its map and retries).
static int s_test_store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t len,
                            const rp_packer_t *p)
{
    MDB_val k = {len, (void *)key}, v = {p->buffer.size, p->buffer.data};
    int rc = mdb_put(txn, dbi, &k, &v, 0);
    assert(rc == 0 || rc == MDB_MAP_FULL);
    return rc;
}

static int s_test_deal(rp_store_t *store, MDB_txn *txn, const test_deal_t *d)
{
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 19);
    s_test_kv(&p.pk, "id", d->id);
    s_test_kv(&p.pk, "customer_id", "c1");
    s_test_kv(&p.pk, "title", d->id);
    s_test_kv(&p.pk, "pipeline_id", d->pipeline);
    s_test_kv(&p.pk, "stage", d->stage);
    s_test_amount(&p.pk, d);
    s_test_kv(&p.pk, "expected_close", d->close);
    rp_pack_cstr(&p.pk, "competitors");
    size_t n = 0;
    while (d->competitors[n])
        n++;
    msgpack_pack_array(&p.pk, n);
    for (size_t i = 0; i < n; i++)
        rp_pack_cstr(&p.pk, d->competitors[i]);
    s_test_kv(&p.pk, "owner", d->owner);
    s_test_kv(&p.pk, "team", "east");
    s_test_kv(&p.pk, "source", "web");
    s_test_kv(&p.pk, "lost_reason", d->reason);
    s_test_kv(&p.pk, "status", d->status);
    s_test_kv(&p.pk, "stage_entered_at", d->entered);
    s_test_kv(&p.pk, "closed_at", d->closed);
    rp_pack_kv_bool(&p.pk, "archived", false);
    s_test_kv(&p.pk, "created_at", d->created);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    int rc = deals_query_index_save(store, txn, d->id, strlen(d->id), rp_doc_root(doc));
    rp_doc_destroy(&doc);
    if (rc == 0)
        rc = s_test_store_put(txn, rp_store_dbi(store, "opportunities"), d->id, strlen(d->id), &p);
    const char *from = NULL;
    for (size_t i = 0; rc == 0 && i < 8 && d->history[i][0]; i++) {
        rp_packer_reset(&p);
        msgpack_pack_map(&p.pk, 8);
        rp_pack_kv_u64(&p.pk, "seq", 100 + i);
        s_test_kv(&p.pk, "at", d->history[i][0]);
        s_test_kv(&p.pk, "from", from);
        s_test_kv(&p.pk, "to", d->history[i][1]);
        s_test_amount(&p.pk, d);
        s_test_kv(&p.pk, "expected_close", d->close);
        from = d->history[i][1];
        char key[OPPORTUNITIES_MAX_ID + 1 + 17];
        size_t len = strlen(d->id);
        memcpy(key, d->id, len + 1);
        snprintf(key + len + 1, 17, "%016zx", 100 + i);
        rc = s_test_store_put(txn, rp_store_dbi(store, "history"), key, len + 17, &p);
    }
    rp_packer_destroy(&p);
    return rc;
}

//  A pipeline of stages "key:name:kind:probability:rot_days".
static int s_test_pipeline(MDB_txn *txn, MDB_dbi dbi, const char *id, const char *team,
                           const char *const *stages)
{
    rp_packer_t p;
    rp_packer_init(&p);
    size_t n = 0;
    while (stages[n])
        n++;
    msgpack_pack_map(&p.pk, 6);
    s_test_kv(&p.pk, "id", id);
    s_test_kv(&p.pk, "name", id);
    s_test_kv(&p.pk, "team", team);
    rp_pack_kv_u64(&p.pk, "version", 1);
    rp_pack_cstr(&p.pk, "lost_reasons");
    msgpack_pack_array(&p.pk, 0);
    rp_pack_cstr(&p.pk, "stages");
    msgpack_pack_array(&p.pk, n);
    for (size_t i = 0; i < n; i++) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", stages[i]);
        char *key = strtok(buf, ":"), *name = strtok(NULL, ":"), *kind = strtok(NULL, ":");
        char *probability = strtok(NULL, ":"), *rot = strtok(NULL, ":");
        msgpack_pack_map(&p.pk, 5);
        s_test_kv(&p.pk, "key", key);
        s_test_kv(&p.pk, "name", name);
        s_test_kv(&p.pk, "kind", kind);
        rp_pack_kv_u64(&p.pk, "probability", strtoull(probability, NULL, 10));
        rp_pack_kv_u64(&p.pk, "rot_days", strtoull(rot, NULL, 10));
    }
    int rc = s_test_store_put(txn, dbi, id, strlen(id), &p);
    rp_packer_destroy(&p);
    return rc;
}

static int s_test_fill(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    MDB_dbi pipelines = rp_store_dbi(store, "pipelines");
    int rc =
        s_test_pipeline(txn, pipelines, "default", NULL,
                        (const char *[]){"lead:线索:open:10:30", "contacted:初步沟通:open:20:30",
                                         "proposal:方案提交:open:60:30", "won:成交:won:100:0",
                                         "lost:输单:lost:0:0", NULL});
    if (rc == 0)
        rc = s_test_pipeline(txn, pipelines, "p2", NULL,
                             (const char *[]){"s1:初步接触:open:20:10", "s2:成交:won:100:0",
                                              "s3:输单:lost:0:0", NULL});
    //  A team's pipeline: only its team (and admins) see it.
    if (rc == 0)
        rc = s_test_pipeline(txn, pipelines, "west", "west",
                             (const char *[]){"w1:西:open:10:0", "w2:成交:won:100:0", NULL});
    for (size_t i = 0; rc == 0 && i < TEST_DEAL_COUNT; i++)
        rc = s_test_deal(store, txn, &s_test_deals[i]);
    return rc;
}

//  An object of the answer by a dotted path ("stages.2.reached.count").
static const msgpack_object *s_test_at(const msgpack_object *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *part = strtok(buf, "."); part && o; part = strtok(NULL, "."))
        if (rp_obj_is_array(o)) {
            size_t i = strtoul(part, NULL, 10);
            o = i < o->via.array.size ? &o->via.array.ptr[i] : NULL;
        } else
            o = rp_obj_get(o, part);
    return o;
}

//  The number at path (NAN-free: -1 when absent or nil).
static double s_test_num(const msgpack_object *root, const char *path)
{
    const msgpack_object *o = s_test_at(root, path);
    if (!o)
        return -1;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return (double)o->via.u64;
    if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
        return o->via.f64;
    return -1;
}

static bool s_test_nil(const msgpack_object *root, const char *path)
{
    const msgpack_object *o = s_test_at(root, path);
    return o && o->type == MSGPACK_OBJECT_NIL;
}

static size_t s_test_size(const msgpack_object *root, const char *path)
{
    const msgpack_object *o = s_test_at(root, path);
    return rp_obj_is_array(o) ? o->via.array.size : rp_obj_is_map(o) ? o->via.map.size : 0;
}

//  Run a report: its answer (or NULL with *status the refusal).
static rp_doc_t *s_test_run(rp_store_t *store, report_kind_t kind, const rp_scope_t *scope,
                            const char *const *kv, int *status)
{
    rp_packer_t args, out;
    rp_packer_init(&args);
    rp_packer_init(&out);
    size_t pairs = 0;
    while (kv && kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&args.pk, pairs);
    for (size_t i = 0; i < pairs; i++)
        rp_pack_kv_cstr(&args.pk, kv[i * 2], kv[i * 2 + 1]);
    rp_doc_t *doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    report_error_t error;
    *status = report_build(kind, store, scope, rp_doc_root(doc), TEST_NOW, &out, &error);
    rp_doc_t *answer = *status ? NULL : rp_doc_new(out.buffer.data, out.buffer.size, NULL);
    assert(*status || answer);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&args);
    rp_packer_destroy(&out);
    return answer;
}

static rp_doc_t *s_test_ok(rp_store_t *store, report_kind_t kind, const rp_scope_t *scope,
                           const char *const *kv)
{
    int status;
    rp_doc_t *doc = s_test_run(store, kind, scope, kv, &status);
    assert(status == 0);
    return doc;
}

typedef struct {
    deals_query_t query;
    const rp_scope_t *scope;
    uint64_t count;
} test_list_t;

static bool s_test_list_visit(void *arg, const MDB_val *value, const msgpack_object *deal)
{
    (void)value;
    (void)deal;
    ((test_list_t *)arg)->count++;
    return true;
}

static int s_test_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_list_t *list = (test_list_t *)arg;
    char next[512];
    return deals_query_walk(store, txn, &list->query, list->scope, DEALS_QUERY_MAX_SCAN,
                            s_test_list_visit, list, next, sizeof next);
}

//  The list's count for these filters (the list's own parse and walk).
static uint64_t s_test_list(rp_store_t *store, const rp_scope_t *scope, const char *const *kv)
{
    rp_packer_t args;
    rp_packer_init(&args);
    size_t pairs = 0;
    while (kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&args.pk, pairs);
    for (size_t i = 0; i < pairs; i++) {
        if (strcmp(kv[i * 2], "stale") == 0)
            rp_pack_kv_bool(&args.pk, "stale", true);
        else
            rp_pack_kv_cstr(&args.pk, kv[i * 2], kv[i * 2 + 1]);
    }
    rp_doc_t *doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    test_list_t list = {.scope = scope};
    rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
    assert(deals_query_parse(&list.query, rp_doc_root(doc), errors, DEALS_QUERY_MAX_ERRORS) == 0);
    snprintf(list.query.now, sizeof list.query.now, "%s", TEST_NOW);
    assert(rp_store_read(store, s_test_list_read, &list) == 0);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&args);
    return list.count;
}

static void s_test_funnel(rp_store_t *store, const rp_scope_t *admin, const rp_scope_t *ann)
{
    rp_doc_t *doc = s_test_ok(store, REPORT_FUNNEL, admin, NULL);
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "pipeline_id"), "default"));
    assert(s_test_nil(r, "as_of"));
    assert(s_test_size(r, "stages") == 5);
    assert(rp_obj_streq(s_test_at(r, "stages.0.name"), "线索"));
    assert(rp_obj_streq(s_test_at(r, "stages.4.kind"), "lost"));
    //  current: lead d2 d5 d7, proposal d1, won d4, lost d3
    assert(s_test_num(r, "stages.0.current.count") == 3);
    assert(s_test_num(r, "stages.0.current.amounts.CNY") == 250);
    assert(s_test_num(r, "stages.1.current.count") == 0);
    assert(s_test_size(r, "stages.1.current.amounts") == 0);
    assert(s_test_num(r, "stages.2.current.count") == 1);
    assert(s_test_num(r, "stages.3.current.amounts.USD") == 500);
    assert(s_test_num(r, "stages.4.current.count") == 1);
    //  reached: the furthest non-lost stage, cumulated backwards; d3 (lost)
    //  counts at contacted, d5 (moved back to lead) at proposal.
    assert(s_test_num(r, "stages.0.reached.count") == 6);
    assert(s_test_num(r, "stages.1.reached.count") == 4);
    assert(s_test_num(r, "stages.2.reached.count") == 3);
    assert(s_test_num(r, "stages.2.reached.amounts.CNY") == 150);
    assert(s_test_num(r, "stages.2.reached.amounts.USD") == 500);
    assert(s_test_size(r, "stages.2.reached.amounts") == 2);
    assert(s_test_num(r, "stages.3.reached.count") == 1);
    assert(s_test_num(r, "stages.4.reached.count") == 1);
    assert(s_test_num(r, "stages.0.conversion") == 0.6667);
    assert(s_test_num(r, "stages.1.conversion") == 0.75);
    assert(s_test_num(r, "stages.2.conversion") == 0.3333);
    assert(s_test_nil(r, "stages.3.conversion"));
    assert(s_test_nil(r, "stages.4.conversion"));
    //  A current cell is the list with the same filters and stage=key.
    assert(s_test_list(store, admin,
                       (const char *[]){"pipeline_id", "default", "stage", "lead", NULL}) == 3);
    rp_doc_destroy(&doc);

    //  As of 31 October: d3 contacted, d4 lead, d5 lead after proposal.
    doc = s_test_ok(store, REPORT_FUNNEL, admin, (const char *[]){"as_of", "2026-10-31", NULL});
    r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "as_of"), "2026-10-31"));
    assert(s_test_num(r, "stages.0.current.count") == 2);
    assert(s_test_num(r, "stages.1.current.count") == 1);
    assert(s_test_num(r, "stages.1.current.amounts.USD") == 300);
    assert(s_test_num(r, "stages.3.current.count") == 0);
    assert(s_test_num(r, "stages.4.current.count") == 0);
    assert(s_test_num(r, "stages.0.reached.count") == 3);
    assert(s_test_num(r, "stages.1.reached.count") == 2);
    assert(s_test_num(r, "stages.2.reached.count") == 1);
    assert(s_test_num(r, "stages.0.conversion") == 0.6667);
    assert(s_test_num(r, "stages.2.conversion") == 0);
    assert(s_test_list(store, admin,
                       (const char *[]){"as_of", "2026-10-31", "stage", "lead", NULL}) == 2);
    rp_doc_destroy(&doc);

    //  Scope: ann sees d1 d2 d5 d7 of this pipeline.
    doc = s_test_ok(store, REPORT_FUNNEL, ann, NULL);
    r = rp_doc_root(doc);
    assert(s_test_num(r, "stages.0.reached.count") == 4);
    assert(s_test_num(r, "stages.2.reached.count") == 2);
    assert(s_test_num(r, "stages.3.reached.count") == 0);
    assert(s_test_size(r, "stages.3.reached.amounts") == 0);
    rp_doc_destroy(&doc);

    //  from/to on created_at; another pipeline; an unknown one.
    doc = s_test_ok(store, REPORT_FUNNEL, admin,
                    (const char *[]){"from", "2026-11-01", "to", "2026-11-01", NULL});
    assert(s_test_num(rp_doc_root(doc), "stages.0.reached.count") == 1);
    rp_doc_destroy(&doc);
    doc = s_test_ok(store, REPORT_FUNNEL, admin, (const char *[]){"pipeline_id", "p2", NULL});
    assert(s_test_num(rp_doc_root(doc), "stages.0.current.amounts.CNY") == 70);
    rp_doc_destroy(&doc);
    int status;
    assert(!s_test_run(store, REPORT_FUNNEL, admin, (const char *[]){"pipeline_id", "nope", NULL},
                       &status));
    assert(status == 422);
    //  Another team's pipeline: as if it did not exist (admin sees it).
    assert(!s_test_run(store, REPORT_FUNNEL, ann, (const char *[]){"pipeline_id", "west", NULL},
                       &status));
    assert(status == 422);
    doc = s_test_ok(store, REPORT_FUNNEL, admin, (const char *[]){"pipeline_id", "west", NULL});
    assert(s_test_size(rp_doc_root(doc), "stages") == 2);
    rp_doc_destroy(&doc);
    assert(!s_test_run(store, REPORT_FUNNEL, admin, (const char *[]){"from", "2026-13-01", NULL},
                       &status));
    assert(status == 422);
}

static void s_test_forecast(rp_store_t *store, const rp_scope_t *admin, const rp_scope_t *ann)
{
    //  The Odoo case: 100 at 99 % and 200 at 0 % weigh 99.
    rp_doc_t *doc = s_test_ok(store, REPORT_FORECAST, admin,
                              (const char *[]){"from", "2026-12-01", "to", "2026-12-31", NULL});
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "by"), "month"));
    assert(rp_obj_streq(s_test_at(r, "from"), "2026-12-01"));
    assert(s_test_size(r, "groups") == 1);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "2026-12"));
    assert(s_test_num(r, "groups.0.count") == 2);
    assert(s_test_num(r, "groups.0.amounts.CNY") == 300);
    assert(s_test_num(r, "groups.0.weighted.CNY") == 99);
    assert(s_test_num(r, "groups.0.won_count") == 0);
    assert(s_test_num(r, "totals.weighted.CNY") == 99);
    assert(s_test_list(store, admin,
                       (const char *[]){"status", "open", "expected_close_after", "2026-12-01",
                                        "expected_close_before", "2027-01-01", NULL}) == 2);
    rp_doc_destroy(&doc);
    //  By owner, all dates: ann's open d1 d2 d5 d6 d7, bob's won d4.
    doc = s_test_ok(store, REPORT_FORECAST, admin, (const char *[]){"by", "owner", NULL});
    r = rp_doc_root(doc);
    assert(s_test_size(r, "groups") == 2);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "ann"));
    assert(s_test_num(r, "groups.0.count") == 5);
    assert(s_test_num(r, "groups.0.amounts.CNY") == 420);
    assert(s_test_num(r, "groups.0.weighted.CNY") == 118); //  99 + 0 + 5 + 14
    assert(s_test_num(r, "groups.1.won_count") == 1);
    assert(s_test_num(r, "groups.1.won.USD") == 500);
    assert(s_test_size(r, "groups.1.won") == 1);
    assert(s_test_num(r, "totals.won_count") == 1);
    rp_doc_destroy(&doc);
    //  By month: d7 has no expected close (key null, last); won by closed month.
    doc = s_test_ok(store, REPORT_FORECAST, ann, NULL);
    r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "2026-10"));
    assert(s_test_nil(r, "groups.3.key"));
    assert(s_test_num(r, "totals.won_count") == 0);
    rp_doc_destroy(&doc);
    doc = s_test_ok(store, REPORT_FORECAST, admin, (const char *[]){"to", "2026-11-30", NULL});
    r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "groups.1.key"), "2026-11"));
    assert(s_test_num(r, "groups.1.won_count") == 1);
    rp_doc_destroy(&doc);
    int status;
    assert(!s_test_run(store, REPORT_FORECAST, admin, (const char *[]){"by", "colour", NULL},
                       &status));
    assert(status == 422);
}

static void s_test_horizon(rp_store_t *store, const rp_scope_t *admin)
{
    rp_doc_t *doc = s_test_ok(store, REPORT_HORIZON, admin, NULL);
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "today"), "2026-12-03"));
    assert(s_test_num(r, "buckets.0.months") == 1);
    assert(s_test_num(r, "buckets.0.count") == 2);
    assert(s_test_num(r, "buckets.0.amounts.CNY") == 300);
    assert(s_test_num(r, "buckets.1.count") == 3);
    assert(s_test_num(r, "buckets.1.amounts.CNY") == 370);
    assert(s_test_num(r, "buckets.3.count") == 3);
    assert(s_test_num(r, "overdue.count") == 1);
    assert(s_test_num(r, "overdue.amounts.CNY") == 50);
    rp_doc_destroy(&doc);
    //  As of 31 October: d3 (contacted, no close date), d4 and d5 open.
    doc = s_test_ok(store, REPORT_HORIZON, admin, (const char *[]){"as_of", "2026-10-31", NULL});
    r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "today"), "2026-10-31"));
    assert(s_test_num(r, "buckets.0.count") == 1); //  d4, 2026-11-20
    assert(s_test_num(r, "buckets.0.amounts.USD") == 500);
    assert(s_test_num(r, "overdue.count") == 1); //  d5, 2026-10-01
    rp_doc_destroy(&doc);
    char out[RP_NORMALIZE_DATE_MAX];
    s_add_months("2026-01-31", 1, out);
    assert(strcmp(out, "2026-02-28") == 0);
    s_add_months("2027-12-31", 12, out);
    assert(strcmp(out, "2028-12-31") == 0);
    s_add_months("2027-11-30", 3, out);
    assert(strcmp(out, "2028-02-29") == 0);
}

static void s_test_win_loss(rp_store_t *store, const rp_scope_t *admin, const rp_scope_t *ann)
{
    rp_doc_t *doc = s_test_ok(store, REPORT_WIN_LOSS, admin, NULL);
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "by"), "reason"));
    assert(s_test_size(r, "groups") == 2);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "价格"));
    assert(s_test_num(r, "groups.0.lost.count") == 1);
    assert(s_test_num(r, "groups.0.lost.amounts.USD") == 300);
    assert(s_test_num(r, "groups.0.win_rate") == 0);
    assert(s_test_num(r, "groups.0.avg_days_to_close") == 45);
    assert(s_test_nil(r, "groups.1.key"));
    assert(s_test_num(r, "groups.1.won.count") == 1);
    assert(s_test_num(r, "totals.win_rate") == 0.5);
    assert(s_test_num(r, "totals.avg_days_to_close") == 47.5);
    rp_doc_destroy(&doc);
    //  By competitor: d3 in X and Y once each, d4 under null; totals once.
    doc = s_test_ok(store, REPORT_WIN_LOSS, admin, (const char *[]){"by", "competitor", NULL});
    r = rp_doc_root(doc);
    assert(s_test_size(r, "groups") == 3);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "X"));
    assert(s_test_num(r, "groups.0.lost.count") == 1);
    assert(rp_obj_streq(s_test_at(r, "groups.1.key"), "Y"));
    assert(s_test_num(r, "groups.2.won.count") == 1);
    assert(s_test_num(r, "totals.lost.count") == 1);
    assert(s_test_list(store, admin, (const char *[]){"competitor", "X", "status", "lost", NULL}) ==
           1);
    rp_doc_destroy(&doc);
    //  closed_at within [from, to]; scope: ann closed nothing.
    doc =
        s_test_ok(store, REPORT_WIN_LOSS, admin,
                  (const char *[]){"by", "owner", "from", "2026-11-16", "to", "2026-11-20", NULL});
    r = rp_doc_root(doc);
    assert(s_test_size(r, "groups") == 1);
    assert(rp_obj_streq(s_test_at(r, "groups.0.key"), "bob"));
    assert(s_test_num(r, "groups.0.win_rate") == 1);
    rp_doc_destroy(&doc);
    doc = s_test_ok(store, REPORT_WIN_LOSS, ann, NULL);
    r = rp_doc_root(doc);
    assert(s_test_size(r, "groups") == 0);
    assert(s_test_nil(r, "totals.win_rate"));
    assert(s_test_nil(r, "totals.avg_days_to_close"));
    rp_doc_destroy(&doc);
}

static void s_test_durations(rp_store_t *store, const rp_scope_t *admin)
{
    rp_doc_t *doc = s_test_ok(store, REPORT_STAGE_DURATIONS, admin, NULL);
    const msgpack_object *r = rp_doc_root(doc);
    //  lead: 4, 9, 9, 31 days; contacted: 5, 36; proposal: 19, 35.
    assert(s_test_num(r, "stages.0.count") == 4);
    assert(s_test_num(r, "stages.0.median_seconds") == 9 * 86400);
    assert(s_test_num(r, "stages.0.p90_seconds") == 31 * 86400);
    assert(s_test_num(r, "stages.0.median_days") == 9);
    assert(s_test_num(r, "stages.1.count") == 2);
    assert(s_test_num(r, "stages.1.median_days") == 5);
    assert(s_test_num(r, "stages.1.p90_days") == 36);
    assert(s_test_num(r, "stages.2.median_days") == 19);
    assert(s_test_num(r, "stages.2.p90_days") == 35);
    assert(s_test_num(r, "stages.3.count") == 0);
    assert(s_test_nil(r, "stages.3.median_seconds"));
    assert(s_test_nil(r, "stages.3.p90_days"));
    rp_doc_destroy(&doc);
    //  As of 31 October: lead 9 (d3), 9 (d5; d4 still in lead); proposal 35 (d5).
    doc = s_test_ok(store, REPORT_STAGE_DURATIONS, admin,
                    (const char *[]){"as_of", "2026-10-31", NULL});
    r = rp_doc_root(doc);
    assert(s_test_num(r, "stages.0.count") == 2);
    assert(s_test_num(r, "stages.2.count") == 1);
    assert(s_test_num(r, "stages.2.median_days") == 35);
    rp_doc_destroy(&doc);
}

static void s_test_stale(rp_store_t *store, const rp_scope_t *admin)
{
    //  d2, d5, d7 in lead (30 days), d6 in p2's s1 (10 days).
    rp_doc_t *doc = s_test_ok(store, REPORT_STALE, admin, NULL);
    const msgpack_object *r = rp_doc_root(doc);
    assert(rp_obj_streq(s_test_at(r, "now"), TEST_NOW));
    assert(s_test_size(r, "stages") == 2);
    assert(rp_obj_streq(s_test_at(r, "stages.0.pipeline_id"), "default"));
    assert(rp_obj_streq(s_test_at(r, "stages.0.key"), "lead"));
    assert(s_test_num(r, "stages.0.rot_days") == 30);
    assert(s_test_num(r, "stages.0.count") == 3);
    assert(s_test_num(r, "stages.0.amounts.CNY") == 250);
    assert(rp_obj_streq(s_test_at(r, "stages.1.name"), "初步接触"));
    assert(s_test_num(r, "stages.1.count") == 1);
    assert(s_test_num(r, "totals.count") == 4);
    assert(s_test_num(r, "totals.amounts.CNY") == 320);
    assert(s_test_list(store, admin,
                       (const char *[]){"stale", "1", "pipeline_id", "default", "stage", "lead",
                                        NULL}) == 3);
    rp_doc_destroy(&doc);
}

void report_test(void)
{
    char dir[] = "/tmp/rp-deals-report-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, opportunities_apply_dbnames);
    assert(store);
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    //  Before the default pipeline is seeded: empty, unless named.
    rp_doc_t *doc = s_test_ok(store, REPORT_FUNNEL, &admin, NULL);
    assert(s_test_size(rp_doc_root(doc), "stages") == 0);
    rp_doc_destroy(&doc);
    int status;
    assert(!s_test_run(store, REPORT_STAGE_DURATIONS, &admin,
                       (const char *[]){"pipeline_id", "default", NULL}, &status));
    assert(status == 422);
    assert(rp_store_write(store, s_test_fill, NULL) == 0);
    rp_scope_t ann = {RP_ROLE_SALES, "ann", 3, "east", 4};
    s_test_funnel(store, &admin, &ann);
    s_test_forecast(store, &admin, &ann);
    s_test_horizon(store, &admin);
    s_test_win_loss(store, &admin, &ann);
    s_test_durations(store, &admin);
    s_test_stale(store, &admin);
    rp_store_destroy(&store);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
