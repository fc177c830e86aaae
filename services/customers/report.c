/*  report.c — see report.h. */
#include "report.h"
#include "apply.h"
#include "customer.h"
#include "grading.h"
#include "handlers.h"
#include "order.h"
#include "scope.h"
#include "stats.h"

#include <rapport/money.h>
#include <rapport/testservice.h>

#include <czmq.h>
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_LIMIT_DEF      10
#define TOP_LIMIT_MAX      100
#define PRODUCTS_LIMIT_DEF 100
#define PRODUCTS_LIMIT_MAX 1000
#define YEAR_MIN           1900
#define YEAR_MAX           9999
#define MAX_ERRORS         8
#define TOP_BUYERS         3

//  ---------------------------------------------------------------------
//  The arguments

static const struct {
    const char *name;
    int field; //  -1: product (from the orders)
} s_bys[] = {{"grade", CUSTOMER_GRADE},   {"tier", CUSTOMER_TIER},
             {"region", CUSTOMER_REGION}, {"industry", CUSTOMER_INDUSTRY},
             {"owner", CUSTOMER_OWNER},   {"product", -1}};

typedef enum { RANK_AMOUNT, RANK_GROWTH, RANK_MARGIN } rank_t;
static const char *const s_ranks[] = {"amount", "growth", "margin"};

typedef struct {
    const char *by; //  composition: the group's name; top: the rank's (static)
    int field;      //  composition: the customer field, -1 for product
    bool amount;    //  composition: measure amount
    rank_t rank;    //  top
    int year;
    char currency[4]; //  "" until given, else the grading currency
    uint32_t limit;
} params_t;

typedef struct {
    rp_field_error_t errors[MAX_ERRORS];
    int count;
} errors_t;

static void s_error(errors_t *self, const char *field, const char *code, const char *message)
{
    if (self->count == MAX_ERRORS)
        return;
    rp_field_error_t *error = &self->errors[self->count++];
    snprintf(error->field, sizeof error->field, "%s", field);
    error->code = code;
    error->message = message;
}

static bool s_absent(const msgpack_object *o)
{
    return !o || o->type == MSGPACK_OBJECT_NIL;
}

//  year, currency and (when limit_max) limit, common to the money reports.
static void s_parse_money(const msgpack_object *args, params_t *p, uint32_t limit_def,
                          uint32_t limit_max, errors_t *errors)
{
    const msgpack_object *year = rp_obj_get(args, "year"), *currency = rp_obj_get(args, "currency");
    int64_t value = 0;
    p->year = order_year();
    if (!s_absent(year)) {
        if (rp_obj_i64(year, &value) && value >= YEAR_MIN && value <= YEAR_MAX)
            p->year = (int)value;
        else
            s_error(errors, "year", "invalid", "year is an integer from 1900 to 9999");
    }
    const char *str;
    size_t len;
    p->currency[0] = 0;
    if (!s_absent(currency)) {
        if (rp_obj_str(currency, &str, &len) && rp_money_currency_valid(str, len)) {
            memcpy(p->currency, str, 3);
            p->currency[3] = 0;
        } else
            s_error(errors, "currency", "invalid", "currency is an ISO 4217 code (3 letters A-Z)");
    }
    p->limit = limit_def;
    const msgpack_object *limit = rp_obj_get(args, "limit");
    if (limit_max && !s_absent(limit)) {
        uint64_t n = 0;
        if (rp_obj_u64(limit, &n) && n >= 1 && n <= limit_max)
            p->limit = (uint32_t)n;
        else
            s_error(errors, "limit", "out_of_range",
                    limit_max == TOP_LIMIT_MAX ? "limit is an integer from 1 to 100"
                                               : "limit is an integer from 1 to 1000");
    }
}

static void s_parse_composition(const msgpack_object *args, params_t *p, errors_t *errors)
{
    memset(p, 0, sizeof *p);
    const msgpack_object *by = rp_obj_get(args, "by"), *measure = rp_obj_get(args, "measure");
    p->field = -2;
    for (size_t i = 0; i < sizeof s_bys / sizeof s_bys[0]; i++)
        if (rp_obj_streq(by, s_bys[i].name)) {
            p->field = s_bys[i].field;
            p->by = s_bys[i].name;
        }
    if (p->field == -2)
        s_error(errors, "by", "invalid",
                "by is one of grade, tier, region, industry, owner, product");
    if (s_absent(measure) || rp_obj_streq(measure, "count"))
        p->amount = false;
    else if (rp_obj_streq(measure, "amount"))
        p->amount = true;
    else
        s_error(errors, "measure", "invalid", "measure is count or amount");
    s_parse_money(args, p, 0, 0, errors);
}

static void s_parse_top(const msgpack_object *args, params_t *p, errors_t *errors)
{
    memset(p, 0, sizeof *p);
    const msgpack_object *by = rp_obj_get(args, "by");
    p->rank = RANK_AMOUNT;
    p->by = s_ranks[RANK_AMOUNT];
    if (!s_absent(by)) {
        size_t i = 0;
        while (i < 3 && !rp_obj_streq(by, s_ranks[i]))
            i++;
        if (i < 3) {
            p->rank = (rank_t)i;
            p->by = s_ranks[i];
        } else
            s_error(errors, "by", "invalid", "by is one of amount, growth, margin");
    }
    s_parse_money(args, p, TOP_LIMIT_DEF, TOP_LIMIT_MAX, errors);
}

static void s_parse_products(const msgpack_object *args, params_t *p, errors_t *errors)
{
    memset(p, 0, sizeof *p);
    s_parse_money(args, p, PRODUCTS_LIMIT_DEF, PRODUCTS_LIMIT_MAX, errors);
}

//  ---------------------------------------------------------------------
//  One report's run: one read snapshot, the answer's data packed into pk

typedef struct _run_t run_t;
typedef int(report_fn)(run_t *run);

struct _run_t {
    rp_store_t *store;
    MDB_txn *txn;
    const rp_scope_t *scope;
    params_t params;
    msgpack_packer *pk;
    report_fn *fn;
};

typedef void(visit_fn)(run_t *run, const rp_record_t *record, const char *id, size_t len,
                       void *arg);

//  Call visit for every non-archived customer the actor may see, in id order.
static int s_walk(run_t *run, visit_fn *visit, void *arg)
{
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(run->txn, rp_store_dbi(run->store, "customers"), &cursor);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        rp_record_t record;
        customer_init(&record);
        bool archived = false;
        if (doc && k.mv_size <= APPLY_MAX_ID) {
            rp_record_from_map(&record, rp_doc_root(doc));
            rp_obj_bool(&record.values[CUSTOMER_ARCHIVED], &archived);
            if (!archived && scope_allows(run->scope, &record, false))
                visit(run, &record, (const char *)k.mv_data, k.mv_size, arg);
        }
        rp_record_reset(&record);
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  A customer's figures in one currency: the year's and the year before's.
typedef struct {
    int64_t orders, amount, last;
} year_sums_t;

static year_sums_t s_year_sums(const stats_t *stats, const char *currency, int year)
{
    year_sums_t sums = {0, 0, 0};
    size_t i = 0;
    while (i < stats->currencies && memcmp(stats->c[i].code, currency, 3) != 0)
        i++;
    for (size_t k = 0; i < stats->currencies && k < stats->months; k++) {
        const stats_month_t *m = &stats->m[k];
        if (m->currency != (uint32_t)i)
            continue;
        if ((int)(m->month / 12) == year) {
            sums.orders += m->orders;
            sums.amount += m->amount;
        } else if ((int)(m->month / 12) == year - 1)
            sums.last += m->amount;
    }
    return sums;
}

//  One live order of a customer, as the report reads it.
typedef struct {
    const char *product, *currency;
    size_t product_len, currency_len;
    int64_t amount, cost;
    bool has_cost;
} sale_t;

typedef void(sale_fn)(void *arg, const sale_t *sale);

static bool s_sale_in(const sale_t *sale, const char *currency)
{
    return sale->currency_len == 3 && memcmp(sale->currency, currency, 3) == 0;
}

//  Call fn for each live order of customer id placed in the year: a key
//  range of its listing (<id> NUL <placed_at><order_no>, placed_at UTC).
static int s_sales(run_t *run, const char *id, size_t len, sale_fn *fn, void *arg)
{
    if (len == 0 || len > APPLY_MAX_ID)
        return 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(run->txn, rp_store_dbi(run->store, "customer_orders"), &cursor);
    if (rc)
        return rc;
    char prefix[APPLY_MAX_ID + 8];
    memcpy(prefix, id, len);
    prefix[len] = 0;
    snprintf(prefix + len + 1, 6, "%04d", run->params.year);
    size_t prefix_len = len + 5;
    MDB_val k = {prefix_len, prefix}, v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix_len || memcmp(k.mv_data, prefix, prefix_len) != 0)
            break;
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        const msgpack_object *order = doc ? rp_doc_root(doc) : NULL;
        sale_t sale = {"", "", 0, 0, 0, 0, false};
        const msgpack_object *cost = rp_obj_get(order, "cost");
        if (order && rp_obj_streq(rp_obj_get(order, "status"), "placed") &&
            rp_obj_str(rp_obj_get(order, "currency"), &sale.currency, &sale.currency_len) &&
            rp_money_cents(rp_obj_get(order, "amount"), &sale.amount)) {
            rp_obj_str(rp_obj_get(order, "product"), &sale.product, &sale.product_len);
            sale.has_cost = !s_absent(cost) && rp_money_cents(cost, &sale.cost);
            fn(arg, &sale);
        }
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  code, name… of customer id into the answer (nil when it is gone).
static void s_pack_fields(run_t *run, const char *id, size_t len, const char *const *fields)
{
    MDB_val value;
    rp_doc_t *doc = customers_apply_record_get(run->store, run->txn, id, len, &value) == 0
                        ? rp_doc_new(value.mv_data, value.mv_size, NULL)
                        : NULL;
    const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
    for (size_t i = 0; fields[i]; i++)
        rp_pack_kv_obj(run->pk, fields[i], root ? rp_obj_get(root, fields[i]) : NULL);
    rp_doc_destroy(&doc);
}

//  ---------------------------------------------------------------------
//  customers.composition

typedef struct {
    char *key; //  NULL: no value
    uint64_t count;
    int64_t amount;
} group_t;

typedef struct {
    zhashx_t *groups; //  value ("\x01" for none) → group_t
    uint64_t total;
    int64_t amount;
    stats_t stats;
    zhashx_t *bought; //  by product: the customer's products → int64_t amount
    const char *currency;
} tally_t;

static void s_group_destroy(void **item)
{
    group_t *group = (group_t *)*item;
    free(group->key);
    free(group);
    *item = NULL;
}

static void s_free(void **item)
{
    free(*item);
    *item = NULL;
}

static group_t *s_group(tally_t *tally, const char *key)
{
    const char *none = "\x01"; //  cannot be a value: control characters are refused
    group_t *group = (group_t *)zhashx_lookup(tally->groups, key ? key : none);
    if (!group) {
        group = (group_t *)calloc(1, sizeof *group);
        assert(group);
        group->key = key ? strdup(key) : NULL;
        zhashx_insert(tally->groups, key ? key : none, group);
    }
    return group;
}

static void s_bought(void *arg, const sale_t *sale)
{
    tally_t *tally = (tally_t *)arg;
    if (tally->currency && !s_sale_in(sale, tally->currency))
        return;
    char *name = strndup(sale->product, sale->product_len);
    assert(name);
    int64_t *amount = (int64_t *)zhashx_lookup(tally->bought, name);
    if (!amount) {
        amount = (int64_t *)calloc(1, sizeof *amount);
        assert(amount);
        zhashx_insert(tally->bought, name, amount);
    }
    *amount += sale->amount;
    free(name);
}

static void s_tally(run_t *run, const rp_record_t *record, const char *id, size_t len, void *arg)
{
    tally_t *tally = (tally_t *)arg;
    if (run->params.field < 0) { //  product: the year's live orders
        zhashx_purge(tally->bought);
        s_sales(run, id, len, s_bought, tally);
        for (int64_t *amount = (int64_t *)zhashx_first(tally->bought); amount;
             amount = (int64_t *)zhashx_next(tally->bought)) {
            group_t *group = s_group(tally, (const char *)zhashx_cursor(tally->bought));
            group->count++;
            group->amount += *amount;
            tally->amount += *amount;
        }
        tally->total += zhashx_size(tally->bought) > 0;
        return;
    }
    const char *str;
    size_t str_len;
    char *key = rp_record_str(record, run->params.field, &str, &str_len) && str_len
                    ? strndup(str, str_len)
                    : NULL;
    group_t *group = s_group(tally, key);
    free(key);
    group->count++;
    tally->total++;
    if (run->params.amount) {
        if (stats_load(&tally->stats, run->store, run->txn, id, len) == 0) {
            year_sums_t sums = s_year_sums(&tally->stats, run->params.currency, run->params.year);
            group->amount += sums.amount;
            tally->amount += sums.amount;
        }
    }
}

//  Largest first; ties by key, no value last.
static int s_key_order(const group_t *x, const group_t *y)
{
    if (!x->key || !y->key)
        return x->key ? -1 : y->key ? 1 : 0;
    return strcmp(x->key, y->key);
}

static int s_by_count(const void *a, const void *b)
{
    const group_t *x = *(const group_t *const *)a, *y = *(const group_t *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return s_key_order(x, y);
}

static int s_by_amount(const void *a, const void *b)
{
    const group_t *x = *(const group_t *const *)a, *y = *(const group_t *const *)b;
    if (x->amount != y->amount)
        return x->amount > y->amount ? -1 : 1;
    return s_by_count(a, b);
}

static int s_composition(run_t *run)
{
    const params_t *p = &run->params;
    tally_t tally = {zhashx_new(), 0, 0, {0}, zhashx_new(), p->amount ? p->currency : NULL};
    zhashx_set_destructor(tally.groups, s_group_destroy);
    zhashx_set_destructor(tally.bought, s_free);
    stats_init(&tally.stats);
    int rc = s_walk(run, s_tally, &tally);
    size_t count = zhashx_size(tally.groups), i = 0;
    group_t **groups = (group_t **)calloc(count ? count : 1, sizeof *groups);
    assert(groups);
    for (group_t *g = (group_t *)zhashx_first(tally.groups); g;
         g = (group_t *)zhashx_next(tally.groups))
        groups[i++] = g;
    qsort(groups, count, sizeof *groups, p->amount ? s_by_amount : s_by_count);
    msgpack_packer *pk = run->pk;
    msgpack_pack_map(pk, p->amount ? 7 : p->field < 0 ? 5 : 4);
    rp_pack_kv_cstr(pk, "by", p->by);
    rp_pack_kv_cstr(pk, "measure", p->amount ? "amount" : "count");
    if (p->amount || p->field < 0)
        rp_pack_kv_i64(pk, "year", p->year);
    if (p->amount)
        rp_pack_kv_cstr(pk, "currency", p->currency);
    rp_pack_kv_u64(pk, "total", tally.total);
    if (p->amount) {
        rp_pack_cstr(pk, "amount");
        stats_pack_money(pk, tally.amount);
    }
    rp_pack_cstr(pk, "groups");
    msgpack_pack_array(pk, count);
    for (i = 0; i < count; i++) {
        msgpack_pack_map(pk, p->amount ? 4 : 3);
        rp_pack_cstr(pk, "key");
        if (groups[i]->key)
            rp_pack_cstr(pk, groups[i]->key);
        else
            msgpack_pack_nil(pk);
        rp_pack_kv_u64(pk, "count", groups[i]->count);
        double share = (double)groups[i]->count / (double)(tally.total ? tally.total : 1);
        if (p->amount) {
            rp_pack_cstr(pk, "amount");
            stats_pack_money(pk, groups[i]->amount);
            share = tally.amount > 0 ? (double)groups[i]->amount / (double)tally.amount : 0;
        }
        rp_pack_cstr(pk, "share");
        msgpack_pack_double(pk, share);
    }
    free(groups);
    stats_reset(&tally.stats);
    zhashx_destroy(&tally.groups);
    zhashx_destroy(&tally.bought);
    return rc;
}

//  ---------------------------------------------------------------------
//  customers.report.top

typedef struct {
    char id[APPLY_MAX_ID + 1];
    size_t len;
    int64_t orders, amount, last, margin, costed;
    bool costed_any, margin_known;
} entry_t;

typedef struct {
    entry_t *items;
    size_t count, cap;
    stats_t stats;
    const char *currency;
} top_t;

typedef struct {
    entry_t *entry;
    const char *currency;
} margin_t;

static void s_margin_add(void *arg, const sale_t *sale)
{
    margin_t *m = (margin_t *)arg;
    if (!sale->has_cost || !s_sale_in(sale, m->currency))
        return;
    m->entry->costed += sale->amount;
    m->entry->margin += sale->amount - sale->cost;
    m->entry->costed_any = true;
}

static int s_margin(run_t *run, entry_t *entry)
{
    margin_t m = {entry, run->params.currency};
    entry->margin = entry->costed = 0;
    entry->costed_any = false;
    entry->margin_known = true;
    return s_sales(run, entry->id, entry->len, s_margin_add, &m);
}

static void s_top_visit(run_t *run, const rp_record_t *record, const char *id, size_t len,
                        void *arg)
{
    (void)record;
    top_t *top = (top_t *)arg;
    if (stats_load(&top->stats, run->store, run->txn, id, len) != 0)
        return;
    year_sums_t sums = s_year_sums(&top->stats, top->currency, run->params.year);
    if (sums.orders <= 0 && (run->params.rank != RANK_GROWTH || sums.last <= 0))
        return;
    entry_t entry = {.len = len, .orders = sums.orders, .amount = sums.amount, .last = sums.last};
    memcpy(entry.id, id, len);
    if (run->params.rank == RANK_MARGIN && (s_margin(run, &entry) || !entry.costed_any))
        return;
    if (top->count == top->cap) {
        top->cap = top->cap ? top->cap * 2 : 64;
        top->items = (entry_t *)realloc(top->items, top->cap * sizeof *top->items);
        assert(top->items);
    }
    top->items[top->count++] = entry;
}

static int s_rank_amount(const void *a, const void *b)
{
    const entry_t *x = (const entry_t *)a, *y = (const entry_t *)b;
    if (x->amount != y->amount)
        return x->amount > y->amount ? -1 : 1;
    return strcmp(x->id, y->id);
}

//  By amount / last year, exactly (cross-multiplied); new customers last.
static int s_rank_growth(const void *a, const void *b)
{
    const entry_t *x = (const entry_t *)a, *y = (const entry_t *)b;
    if ((x->last > 0) != (y->last > 0))
        return x->last > 0 ? -1 : 1;
    if (x->last > 0) {
        __int128 l = (__int128)x->amount * y->last, r = (__int128)y->amount * x->last;
        if (l != r)
            return l > r ? -1 : 1;
    }
    return s_rank_amount(a, b);
}

static int s_rank_margin(const void *a, const void *b)
{
    const entry_t *x = (const entry_t *)a, *y = (const entry_t *)b;
    if (x->margin != y->margin)
        return x->margin > y->margin ? -1 : 1;
    return s_rank_amount(a, b);
}

static int s_top(run_t *run)
{
    const params_t *p = &run->params;
    top_t top = {NULL, 0, 0, {0}, p->currency};
    stats_init(&top.stats);
    int rc = s_walk(run, s_top_visit, &top);
    int (*order[])(const void *, const void *) = {s_rank_amount, s_rank_growth, s_rank_margin};
    if (top.count)
        qsort(top.items, top.count, sizeof *top.items, order[p->rank]);
    size_t count = top.count < p->limit ? top.count : p->limit;
    msgpack_packer *pk = run->pk;
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "by", p->by);
    rp_pack_kv_i64(pk, "year", p->year);
    rp_pack_kv_cstr(pk, "currency", p->currency);
    rp_pack_cstr(pk, "items");
    msgpack_pack_array(pk, count);
    static const char *const fields[] = {"code", "name", "grade", "tier", "owner", NULL};
    for (size_t i = 0; i < count; i++) {
        entry_t *e = &top.items[i];
        if (!e->margin_known && !rc)
            rc = s_margin(run, e);
        msgpack_pack_map(pk, 12);
        rp_pack_cstr(pk, "customer_id");
        rp_pack_strn(pk, e->id, e->len);
        s_pack_fields(run, e->id, e->len, fields);
        rp_pack_kv_i64(pk, "orders", e->orders);
        rp_pack_cstr(pk, "amount");
        stats_pack_money(pk, e->amount);
        rp_pack_cstr(pk, "last_year");
        stats_pack_money(pk, e->last);
        rp_pack_cstr(pk, "growth");
        rp_money_pack_ratio(pk, e->amount - e->last, e->last, 4);
        rp_pack_cstr(pk, "margin");
        if (e->costed_any)
            stats_pack_money(pk, e->margin);
        else
            msgpack_pack_nil(pk);
        rp_pack_cstr(pk, "margin_rate");
        rp_money_pack_ratio(pk, e->margin, e->costed_any ? e->costed : 0, 4);
    }
    free(top.items);
    stats_reset(&top.stats);
    return rc;
}

//  ---------------------------------------------------------------------
//  customers.report.products

typedef struct {
    char id[APPLY_MAX_ID + 1];
    size_t len;
    int64_t amount;
} buyer_t;

typedef struct {
    char *name;
    uint64_t customers, orders;
    int64_t amount;
    buyer_t top[TOP_BUYERS]; //  largest first; ties: the earlier id (walked in id order)
    size_t tops;
} product_t;

typedef struct {
    uint64_t orders;
    int64_t amount;
} part_t;

typedef struct {
    zhashx_t *products; //  name → product_t
    zhashx_t *bought;   //  the customer's: name → part_t
    uint64_t customers, orders;
    int64_t amount;
    const char *currency;
} sales_t;

static void s_product_destroy(void **item)
{
    product_t *product = (product_t *)*item;
    free(product->name);
    free(product);
    *item = NULL;
}

static void s_part(void *arg, const sale_t *sale)
{
    sales_t *sales = (sales_t *)arg;
    if (!s_sale_in(sale, sales->currency))
        return;
    char *name = strndup(sale->product, sale->product_len);
    assert(name);
    part_t *part = (part_t *)zhashx_lookup(sales->bought, name);
    if (!part) {
        part = (part_t *)calloc(1, sizeof *part);
        assert(part);
        zhashx_insert(sales->bought, name, part);
    }
    part->orders++;
    part->amount += sale->amount;
    free(name);
}

static void s_buyer(product_t *product, const char *id, size_t len, int64_t amount)
{
    size_t at = product->tops;
    while (at > 0 && amount > product->top[at - 1].amount)
        at--;
    if (at >= TOP_BUYERS)
        return;
    size_t kept = product->tops < TOP_BUYERS ? product->tops : TOP_BUYERS - 1;
    memmove(&product->top[at + 1], &product->top[at], (kept - at) * sizeof product->top[0]);
    buyer_t *buyer = &product->top[at];
    memcpy(buyer->id, id, len);
    buyer->len = len;
    buyer->amount = amount;
    if (product->tops < TOP_BUYERS)
        product->tops++;
}

static void s_products_visit(run_t *run, const rp_record_t *record, const char *id, size_t len,
                             void *arg)
{
    (void)record;
    sales_t *sales = (sales_t *)arg;
    zhashx_purge(sales->bought);
    s_sales(run, id, len, s_part, sales);
    for (part_t *part = (part_t *)zhashx_first(sales->bought); part;
         part = (part_t *)zhashx_next(sales->bought)) {
        const char *name = (const char *)zhashx_cursor(sales->bought);
        product_t *product = (product_t *)zhashx_lookup(sales->products, name);
        if (!product) {
            product = (product_t *)calloc(1, sizeof *product);
            assert(product);
            product->name = strdup(name);
            zhashx_insert(sales->products, name, product);
        }
        product->customers++;
        product->orders += part->orders;
        product->amount += part->amount;
        s_buyer(product, id, len, part->amount);
        sales->orders += part->orders;
        sales->amount += part->amount;
    }
    sales->customers += zhashx_size(sales->bought) > 0;
}

static int s_product_order(const void *a, const void *b)
{
    const product_t *x = *(const product_t *const *)a, *y = *(const product_t *const *)b;
    if (x->amount != y->amount)
        return x->amount > y->amount ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int s_products(run_t *run)
{
    const params_t *p = &run->params;
    sales_t sales = {zhashx_new(), zhashx_new(), 0, 0, 0, p->currency};
    zhashx_set_destructor(sales.products, s_product_destroy);
    zhashx_set_destructor(sales.bought, s_free);
    int rc = s_walk(run, s_products_visit, &sales);
    size_t count = zhashx_size(sales.products), i = 0;
    product_t **products = (product_t **)calloc(count ? count : 1, sizeof *products);
    assert(products);
    for (product_t *product = (product_t *)zhashx_first(sales.products); product;
         product = (product_t *)zhashx_next(sales.products))
        products[i++] = product;
    qsort(products, count, sizeof *products, s_product_order);
    msgpack_packer *pk = run->pk;
    msgpack_pack_map(pk, 4);
    rp_pack_kv_i64(pk, "year", p->year);
    rp_pack_kv_cstr(pk, "currency", p->currency);
    rp_pack_cstr(pk, "total");
    msgpack_pack_map(pk, 4);
    rp_pack_kv_u64(pk, "products", count);
    rp_pack_kv_u64(pk, "customers", sales.customers);
    rp_pack_kv_u64(pk, "orders", sales.orders);
    rp_pack_cstr(pk, "amount");
    stats_pack_money(pk, sales.amount);
    size_t shown = count < p->limit ? count : p->limit;
    rp_pack_cstr(pk, "items");
    msgpack_pack_array(pk, shown);
    static const char *const fields[] = {"code", "name", NULL};
    for (i = 0; i < shown; i++) {
        const product_t *product = products[i];
        msgpack_pack_map(pk, 6);
        rp_pack_kv_cstr(pk, "product", product->name);
        rp_pack_kv_u64(pk, "customers", product->customers);
        rp_pack_kv_u64(pk, "orders", product->orders);
        rp_pack_cstr(pk, "amount");
        stats_pack_money(pk, product->amount);
        int64_t c = (int64_t)product->customers;
        rp_pack_cstr(pk, "average");
        stats_pack_money(pk, (product->amount * 2 + c) / (c * 2));
        rp_pack_cstr(pk, "top");
        msgpack_pack_array(pk, product->tops);
        for (size_t k = 0; k < product->tops; k++) {
            const buyer_t *buyer = &product->top[k];
            msgpack_pack_map(pk, 4);
            rp_pack_cstr(pk, "customer_id");
            rp_pack_strn(pk, buyer->id, buyer->len);
            s_pack_fields(run, buyer->id, buyer->len, fields);
            rp_pack_cstr(pk, "amount");
            stats_pack_money(pk, buyer->amount);
        }
    }
    free(products);
    zhashx_destroy(&sales.products);
    zhashx_destroy(&sales.bought);
    return rc;
}

//  ---------------------------------------------------------------------
//  The ops

static int s_run_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    run_t *run = (run_t *)arg;
    run->txn = txn;
    if (!run->params.currency[0]) {
        grading_t grading;
        grading_load(&grading, store, txn);
        memcpy(run->params.currency, grading.currency, 4);
    }
    return run->fn(run);
}

static void s_run(rp_service_t *service, rp_origin_t *origin, const rp_request_t *req,
                  void (*parse)(const msgpack_object *, params_t *, errors_t *), report_fn *fn)
{
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden", "this role cannot read reports");
        return;
    }
    errors_t errors = {.count = 0};
    run_t run = {.store = rp_service_store(service), .scope = &scope, .fn = fn};
    parse(req->args, &run.params, &errors);
    if (errors.count) {
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid",
                                 errors.errors, errors.count);
        return;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(origin), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    run.pk = &packer.pk;
    if (rp_store_read(run.store, s_run_read, &run))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply(service, &origin, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

void report_composition(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req)
{
    (void)arg;
    s_run(service, origin, req, s_parse_composition, s_composition);
}

void report_top(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_run(service, origin, req, s_parse_top, s_top);
}

void report_products(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    s_run(service, origin, req, s_parse_products, s_products);
}

//  ---------------------------------------------------------------------
//  Self-test: a store folded from customer.created and order.* events,
//  each report run on it and its answer compared with sums made here.

static void s_test_customer(rp_store_t *store, uint64_t seq, const char *id, const char *code,
                            const char *owner, const char *grade, const char *region)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, region ? 6 : 5);
    rp_pack_kv_cstr(&data.pk, "name", code); //  the code as its name: unique
    rp_pack_kv_cstr(&data.pk, "code", code);
    rp_pack_kv_cstr(&data.pk, "owner", owner);
    rp_pack_kv_cstr(&data.pk, "team", "east");
    rp_pack_kv_cstr(&data.pk, "grade", grade);
    if (region)
        rp_pack_kv_cstr(&data.pk, "region", region);
    customers_apply_test_event(store, seq, "customer.created", owner, &data);
    rp_packer_destroy(&data);
}

//  An order of amount (units; cost < 0: none) placed at time.
static void s_test_order(rp_store_t *store, uint64_t seq, const char *no, const char *code,
                         uint64_t amount, int64_t cost, const char *currency, const char *product,
                         const char *time)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, cost >= 0 ? 8 : 7);
    rp_pack_kv_cstr(&data.pk, "order_no", no);
    rp_pack_cstr(&data.pk, "customer");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "code", code);
    rp_pack_kv_u64(&data.pk, "amount", amount);
    rp_pack_kv_cstr(&data.pk, "currency", currency);
    rp_pack_kv_u64(&data.pk, "quantity", 1);
    rp_pack_kv_cstr(&data.pk, "product", product);
    rp_pack_kv_cstr(&data.pk, "placed_at", time);
    if (cost >= 0)
        rp_pack_kv_i64(&data.pk, "cost", cost);
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

//  Run a report with args (NULL-terminated pairs; "#n" an integer) as actor.
static rp_doc_t *s_test_run(rp_store_t *store, const rp_scope_t *scope,
                            void (*parse)(const msgpack_object *, params_t *, errors_t *),
                            report_fn *fn, const char *const *kv)
{
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, kv);
    rp_doc_t *args_doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    assert(args_doc);
    errors_t errors = {.count = 0};
    run_t run = {.store = store, .scope = scope, .fn = fn};
    parse(rp_doc_root(args_doc), &run.params, &errors);
    assert(errors.count == 0);
    rp_packer_t out;
    rp_packer_init(&out);
    run.pk = &out.pk;
    assert(rp_store_read(store, s_run_read, &run) == 0);
    rp_doc_t *doc = rp_doc_new(out.buffer.data, out.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&out);
    rp_packer_destroy(&args);
    rp_doc_destroy(&args_doc);
    return doc;
}

static int64_t s_test_cents(const msgpack_object *o)
{
    int64_t cents = -1;
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        return o->via.i64 * 100;
    assert(rp_money_cents(o, &cents));
    return cents;
}

static const msgpack_object *s_test_item(const msgpack_object *root, const char *list, uint32_t i)
{
    const msgpack_object *items = rp_obj_get(root, list);
    assert(rp_obj_is_array(items) && i < items->via.array.size);
    return &items->via.array.ptr[i];
}

static uint32_t s_test_size(const msgpack_object *root, const char *list)
{
    const msgpack_object *items = rp_obj_get(root, list);
    assert(rp_obj_is_array(items));
    return items->via.array.size;
}

//  Parse errors, one per bad field.
static void s_test_parse(void)
{
    static const char *const bad[] = {"by",    "colour",   "measure", "weight", "year",
                                      "#1800", "currency", "cny",     NULL};
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, bad);
    rp_doc_t *doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    errors_t errors = {.count = 0};
    params_t p;
    s_parse_composition(rp_doc_root(doc), &p, &errors);
    assert(errors.count == 4 && strcmp(errors.errors[3].field, "currency") == 0);
    rp_doc_destroy(&doc);
    static const char *const top_bad[] = {"by", "amount!", "limit", "#101", NULL};
    rp_testservice_args(&args, top_bad);
    doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    errors.count = 0;
    s_parse_top(rp_doc_root(doc), &p, &errors);
    assert(errors.count == 2 && strcmp(errors.errors[1].field, "limit") == 0);
    rp_doc_destroy(&doc);
    static const char *const good[] = {"by", "growth", "limit", "#100", "year", "#2025", NULL};
    rp_testservice_args(&args, good);
    doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    errors.count = 0;
    s_parse_top(rp_doc_root(doc), &p, &errors);
    assert(errors.count == 0 && p.rank == RANK_GROWTH && p.limit == 100 && p.year == 2025);
    assert(p.currency[0] == 0);
    rp_doc_destroy(&doc);
    s_parse_products(NULL, &p, &errors);
    assert(errors.count == 0 && p.limit == PRODUCTS_LIMIT_DEF && p.year == order_year());
    rp_packer_destroy(&args);
}

static void s_test_reports(rp_store_t *store)
{
    const rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0},
                     ann = {RP_ROLE_SALES, "ann", 3, "east", 4};
    s_test_customer(store, 1, "c1", "K-1", "ann", "A", "华东");
    s_test_customer(store, 2, "c2", "K-2", "bob", "B", "华东");
    s_test_customer(store, 3, "c3", "K-3", "ann", "B", NULL);
    s_test_customer(store, 4, "c4", "K-4", "bob", "C", "华北");
    //  2026 (the report's year) and 2025; c4 buys nothing in CNY.
    s_test_order(store, 10, "O1", "K-1", 1000, 600, "CNY", "电缆", "2026-03-01T00:00:00Z");
    s_test_order(store, 11, "O2", "K-1", 500, -1, "CNY", "开关", "2026-05-01T00:00:00Z");
    s_test_order(store, 12, "O3", "K-1", 1000, -1, "CNY", "电缆", "2025-05-01T00:00:00Z");
    s_test_order(store, 13, "O4", "K-2", 3000, 2900, "CNY", "电缆", "2026-06-01T00:00:00Z");
    s_test_order(store, 14, "O5", "K-2", 100, -1, "CNY", "开关", "2025-06-01T00:00:00Z");
    s_test_order(store, 15, "O6", "K-3", 200, 50, "CNY", "开关", "2026-07-01T00:00:00+08:00");
    s_test_order(store, 16, "O7", "K-4", 900, 100, "USD", "电缆", "2026-07-01T00:00:00Z");
    s_test_order(store, 17, "O8", "K-3", 9999, 0, "CNY", "电缆", "2026-08-01T00:00:00Z");
    s_test_cancel(store, 18, "O8");
    //  Placed on 2026-01-01 local, 2025 in UTC: counts in 2025.
    s_test_order(store, 19, "O9", "K-3", 40, -1, "CNY", "开关", "2026-01-01T07:00:00+08:00");

    //  Top by amount: c2 3000, c1 1500, c3 200; c4 has no CNY.
    const char *const y2026[] = {"year", "#2026", NULL};
    rp_doc_t *doc = s_test_run(store, &admin, s_parse_top, s_top, y2026);
    const msgpack_object *root = rp_doc_root(doc), *item;
    assert(rp_obj_streq(rp_obj_get(root, "currency"), "CNY"));
    assert(s_test_size(root, "items") == 3);
    item = s_test_item(root, "items", 0);
    assert(rp_obj_streq(rp_obj_get(item, "customer_id"), "c2"));
    assert(rp_obj_streq(rp_obj_get(item, "code"), "K-2"));
    assert(s_test_cents(rp_obj_get(item, "amount")) == 300000);
    assert(s_test_cents(rp_obj_get(item, "last_year")) == 10000);
    assert(s_test_cents(rp_obj_get(item, "margin")) == 10000);
    item = s_test_item(root, "items", 1);
    assert(rp_obj_streq(rp_obj_get(item, "customer_id"), "c1"));
    assert(s_test_cents(rp_obj_get(item, "amount")) == 150000);
    uint64_t n = 0;
    assert(rp_obj_u64(rp_obj_get(item, "orders"), &n) && n == 2);
    assert(s_test_cents(rp_obj_get(item, "margin")) == 40000); //  over O1 only
    assert(rp_obj_get(item, "margin_rate")->via.f64 == 0.4);
    assert(rp_obj_get(item, "growth")->via.f64 == 0.5);
    rp_doc_destroy(&doc);
    //  By growth: c2 (29×), c1 (0.5×), c3 (200 / 40: 4×) → c2, c3, c1.
    const char *const growth[] = {"by", "growth", "year", "#2026", NULL};
    doc = s_test_run(store, &admin, s_parse_top, s_top, growth);
    root = rp_doc_root(doc);
    assert(s_test_size(root, "items") == 3);
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "items", 0), "customer_id"), "c2"));
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "items", 1), "customer_id"), "c3"));
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "items", 2), "customer_id"), "c1"));
    rp_doc_destroy(&doc);
    //  By margin: c1 400, c3 150, c2 100; limited to 2; in USD only c4.
    const char *const margin[] = {"by", "margin", "year", "#2026", "limit", "#2", NULL};
    doc = s_test_run(store, &admin, s_parse_top, s_top, margin);
    root = rp_doc_root(doc);
    assert(s_test_size(root, "items") == 2);
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "items", 0), "customer_id"), "c1"));
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "items", 1), "customer_id"), "c3"));
    rp_doc_destroy(&doc);
    const char *const usd[] = {"year", "#2026", "currency", "USD", NULL};
    doc = s_test_run(store, &admin, s_parse_top, s_top, usd);
    root = rp_doc_root(doc);
    assert(s_test_size(root, "items") == 1);
    assert(s_test_cents(rp_obj_get(s_test_item(root, "items", 0), "margin")) == 80000);
    rp_doc_destroy(&doc);
    //  Ann sees her own: c1 and c3.
    doc = s_test_run(store, &ann, s_parse_top, s_top, y2026);
    assert(s_test_size(rp_doc_root(doc), "items") == 2);
    rp_doc_destroy(&doc);

    //  Composition by grade, amount: B 3200 (c2 3000, c3 200), A 1500, C 0.
    const char *const grade[] = {"by", "grade", "measure", "amount", "year", "#2026", NULL};
    doc = s_test_run(store, &admin, s_parse_composition, s_composition, grade);
    root = rp_doc_root(doc);
    assert(s_test_cents(rp_obj_get(root, "amount")) == 470000);
    assert(rp_obj_u64(rp_obj_get(root, "total"), &n) && n == 4);
    item = s_test_item(root, "groups", 0);
    assert(rp_obj_streq(rp_obj_get(item, "key"), "B"));
    assert(s_test_cents(rp_obj_get(item, "amount")) == 320000);
    assert(rp_obj_u64(rp_obj_get(item, "count"), &n) && n == 2);
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "groups", 2), "key"), "C"));
    rp_doc_destroy(&doc);
    //  By region, count: 华东 2, then 华北 1 and none 1.
    const char *const region[] = {"by", "region", NULL};
    doc = s_test_run(store, &admin, s_parse_composition, s_composition, region);
    root = rp_doc_root(doc);
    assert(s_test_size(root, "groups") == 3);
    assert(rp_obj_streq(rp_obj_get(s_test_item(root, "groups", 0), "key"), "华东"));
    assert(rp_obj_get(s_test_item(root, "groups", 2), "key")->type == MSGPACK_OBJECT_NIL);
    assert(!rp_obj_get(root, "year"));
    rp_doc_destroy(&doc);
    //  By product: 电缆 c1, c2 (and c4 in USD), 开关 c1, c3.
    const char *const product[] = {"by", "product", "year", "#2026", NULL};
    doc = s_test_run(store, &admin, s_parse_composition, s_composition, product);
    root = rp_doc_root(doc);
    assert(rp_obj_u64(rp_obj_get(root, "total"), &n) && n == 4);
    item = s_test_item(root, "groups", 0);
    assert(rp_obj_streq(rp_obj_get(item, "key"), "电缆"));
    assert(rp_obj_u64(rp_obj_get(item, "count"), &n) && n == 3);
    rp_doc_destroy(&doc);
    const char *const product_amount[] = {"by",   "product", "measure", "amount",
                                          "year", "#2026",   NULL};
    doc = s_test_run(store, &admin, s_parse_composition, s_composition, product_amount);
    root = rp_doc_root(doc);
    assert(rp_obj_u64(rp_obj_get(root, "total"), &n) && n == 3);
    assert(s_test_cents(rp_obj_get(root, "amount")) == 470000);
    item = s_test_item(root, "groups", 0);
    assert(s_test_cents(rp_obj_get(item, "amount")) == 400000);
    assert(rp_obj_get(item, "share")->via.f64 == 4000.0 / 4700.0);
    rp_doc_destroy(&doc);

    //  Products: 电缆 4000 over c1, c2; 开关 700 over c1, c3.
    doc = s_test_run(store, &admin, s_parse_products, s_products, y2026);
    root = rp_doc_root(doc);
    const msgpack_object *total = rp_obj_get(root, "total");
    assert(rp_obj_u64(rp_obj_get(total, "customers"), &n) && n == 3);
    assert(rp_obj_u64(rp_obj_get(total, "orders"), &n) && n == 4);
    assert(s_test_cents(rp_obj_get(total, "amount")) == 470000);
    item = s_test_item(root, "items", 0);
    assert(rp_obj_streq(rp_obj_get(item, "product"), "电缆"));
    assert(s_test_cents(rp_obj_get(item, "average")) == 200000);
    assert(s_test_size(item, "top") == 2);
    assert(rp_obj_streq(rp_obj_get(s_test_item(item, "top", 0), "customer_id"), "c2"));
    assert(rp_obj_streq(rp_obj_get(s_test_item(item, "top", 1), "name"), "K-1"));
    item = s_test_item(root, "items", 1);
    assert(rp_obj_streq(rp_obj_get(item, "product"), "开关"));
    assert(s_test_cents(rp_obj_get(item, "amount")) == 70000);
    assert(s_test_cents(rp_obj_get(item, "average")) == 35000);
    rp_doc_destroy(&doc);
    //  2025: 开关 c2 100, c3 40; 电缆 c1 1000.
    const char *const y2025[] = {"year", "#2025", NULL};
    doc = s_test_run(store, &admin, s_parse_products, s_products, y2025);
    root = rp_doc_root(doc);
    item = s_test_item(root, "items", 1);
    assert(rp_obj_streq(rp_obj_get(item, "product"), "开关"));
    assert(s_test_cents(rp_obj_get(item, "amount")) == 14000);
    assert(s_test_cents(rp_obj_get(item, "average")) == 7000);
    assert(rp_obj_streq(rp_obj_get(s_test_item(item, "top", 0), "customer_id"), "c2"));
    rp_doc_destroy(&doc);
}

static void s_test_buyers(void)
{
    product_t product = {0};
    const int64_t amounts[] = {5, 9, 5, 1, 9, 7};
    const char *ids[] = {"a", "b", "c", "d", "e", "f"};
    for (size_t i = 0; i < 6; i++)
        s_buyer(&product, ids[i], 1, amounts[i]);
    assert(product.tops == 3);
    assert(strcmp(product.top[0].id, "b") == 0 && strcmp(product.top[1].id, "e") == 0);
    assert(strcmp(product.top[2].id, "f") == 0 && product.top[2].amount == 7);
}

//  Through the runtime: the ops' refusals and an empty store's answers.
static void s_test_ops(void)
{
    static const rp_service_def_t def = {.name = "customers",
                                         .writer = true,
                                         .dbnames = customers_apply_dbnames,
                                         .apply = customers_apply_event,
                                         .ops = customers_handlers_ops,
                                         .init = customers_handlers_init,
                                         .fini = customers_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t ann = {"ann", "sales", "east"}, erp = {"erp", "integrator", NULL};
    rp_packer_t args;
    rp_packer_init(&args);
    rp_reply_t reply;
    static const char *const ops[] = {"customers.report.top", "customers.report.products",
                                      "customers.composition"};
    for (size_t i = 0; i < 3; i++) {
        rp_testservice_args(&args, (const char *[]){"by", "grade", NULL});
        rp_doc_t *doc = rp_testservice_call(service, false, ops[i], &erp, NULL, &args, &reply);
        assert(rp_testservice_error_is(&reply, 403, "forbidden"));
        rp_doc_destroy(&doc);
        rp_testservice_args(&args, (const char *[]){"year", "#99999", "currency", "XX", NULL});
        doc = rp_testservice_call(service, false, ops[i], &ann, NULL, &args, &reply);
        assert(rp_testservice_error_is(&reply, 422, "invalid"));
        rp_doc_destroy(&doc);
    }
    //  Defaults: the current year, the grading currency; nothing sold.
    rp_doc_t *doc =
        rp_testservice_call(service, false, "customers.report.top", &ann, NULL, NULL, &reply);
    int64_t year = 0;
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "by"), "amount"));
    assert(rp_obj_i64(rp_obj_get(reply.data, "year"), &year) && year == order_year());
    assert(rp_obj_streq(rp_obj_get(reply.data, "currency"), GRADING_CURRENCY));
    assert(s_test_size(reply.data, "items") == 0);
    rp_doc_destroy(&doc);
    doc =
        rp_testservice_call(service, false, "customers.report.products", &ann, NULL, NULL, &reply);
    assert(reply.status == 200 && s_test_size(reply.data, "items") == 0);
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"by", "product", "measure", "amount", NULL});
    doc = rp_testservice_call(service, false, "customers.composition", &ann, NULL, &args, &reply);
    assert(reply.status == 200 && s_test_size(reply.data, "groups") == 0);
    assert(rp_obj_streq(rp_obj_get(reply.data, "measure"), "amount"));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&args);
    rp_testservice_destroy(&service);
}

void report_test(void)
{
    s_test_parse();
    s_test_ops();
    s_test_buyers();
    char dir[] = "/tmp/rp-report-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, customers_apply_dbnames);
    assert(store);
    s_test_reports(store);
    rp_store_destroy(&store);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
