/*  stats.c — see stats.h. */
#include "stats.h"

#include <rapport/money.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void stats_init(stats_t *self)
{
    memset(self, 0, sizeof *self);
}

void stats_reset(stats_t *self)
{
    free(self->m);
    stats_init(self);
}

uint32_t stats_month(const char *time, size_t len)
{
    //  "YYYY-MM…": the bytes given, never past them (msgpack strings end
    //  without a NUL).
    if (len < 7 || time[4] != '-')
        return 0;
    int year = 0, month = 0;
    for (size_t i = 0; i < 7; i++) {
        if (i == 4)
            continue;
        if (time[i] < '0' || time[i] > '9')
            return 0;
        if (i < 4)
            year = year * 10 + (time[i] - '0');
        else
            month = month * 10 + (time[i] - '0');
    }
    return year > 0 && month >= 1 && month <= 12 ? (uint32_t)(year * 12 + month - 1) : 0;
}

//  The currency's index, added when new (-1 when there is no room).
static int s_currency(stats_t *self, const char *code, bool add)
{
    for (size_t i = 0; i < self->currencies; i++)
        if (memcmp(self->c[i].code, code, 3) == 0)
            return (int)i;
    if (!add || self->currencies == STATS_MAX_CURRENCIES)
        return -1;
    stats_currency_t *c = &self->c[self->currencies];
    memset(c, 0, sizeof *c);
    memcpy(c->code, code, 3);
    return (int)self->currencies++;
}

//  The (month, currency) slot, inserted in order when new.
static stats_month_t *s_month(stats_t *self, uint32_t month, uint32_t currency)
{
    size_t at = 0;
    while (at < self->months && (self->m[at].month < month ||
                                 (self->m[at].month == month && self->m[at].currency < currency)))
        at++;
    if (at < self->months && self->m[at].month == month && self->m[at].currency == currency)
        return &self->m[at];
    if (self->months == self->months_max) {
        self->months_max = self->months_max ? self->months_max * 2 : 16;
        self->m = realloc(self->m, self->months_max * sizeof *self->m);
        assert(self->m);
    }
    memmove(&self->m[at + 1], &self->m[at], (self->months - at) * sizeof *self->m);
    self->months++;
    self->m[at] = (stats_month_t){month, currency, 0, 0};
    return &self->m[at];
}

bool stats_order(stats_t *self, const stats_order_t *order, int sign)
{
    int i = s_currency(self, order->currency, true);
    if (i < 0)
        return false;
    stats_currency_t *c = &self->c[i];
    c->orders += sign;
    c->amount += sign * order->amount;
    c->quantity += sign * order->quantity;
    if (order->has_cost) {
        c->cost += sign * order->cost;
        c->costed += sign * order->amount;
    }
    stats_month_t *m = s_month(self, order->month, (uint32_t)i);
    m->orders += sign;
    m->amount += sign * order->amount;
    return true;
}

bool stats_payment(stats_t *self, const char *currency, int64_t amount)
{
    int i = s_currency(self, currency, true);
    if (i < 0)
        return false;
    self->c[i].payments += amount;
    self->c[i].paid++;
    return true;
}

bool stats_merge(stats_t *self, const stats_t *other)
{
    int map[STATS_MAX_CURRENCIES];
    for (size_t i = 0; i < other->currencies; i++)
        if ((map[i] = s_currency(self, other->c[i].code, true)) < 0)
            return false;
    for (size_t i = 0; i < other->currencies; i++) {
        stats_currency_t *c = &self->c[map[i]];
        const stats_currency_t *o = &other->c[i];
        c->orders += o->orders;
        c->amount += o->amount;
        c->quantity += o->quantity;
        c->cost += o->cost;
        c->costed += o->costed;
        c->payments += o->payments;
        c->paid += o->paid;
    }
    for (size_t i = 0; i < other->months; i++) {
        const stats_month_t *o = &other->m[i];
        stats_month_t *m = s_month(self, o->month, (uint32_t)map[o->currency]);
        m->orders += o->orders;
        m->amount += o->amount;
    }
    return true;
}

int64_t stats_orders(const stats_t *self)
{
    int64_t orders = 0;
    for (size_t i = 0; i < self->currencies; i++)
        orders += self->c[i].orders;
    return orders;
}

int64_t stats_trailing(const stats_t *self, const char *currency, uint32_t month)
{
    int i = s_currency((stats_t *)self, currency, false);
    int64_t sum = 0;
    for (size_t k = 0; i >= 0 && k < self->months; k++)
        if (self->m[k].currency == (uint32_t)i && self->m[k].month <= month &&
            self->m[k].month + 12 > month)
            sum += self->m[k].amount;
    return sum;
}

//  ---------------------------------------------------------------------
//  Stored form

static bool s_i64(const msgpack_object *o, int64_t *out)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *out = (int64_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = o->via.i64;
    else
        return false;
    return true;
}

static int s_unpack(stats_t *self, const msgpack_object *root)
{
    const msgpack_object *c = rp_obj_get(root, "c"), *m = rp_obj_get(root, "m");
    if (!rp_obj_is_array(c) || !rp_obj_is_array(m) || c->via.array.size > STATS_MAX_CURRENCIES)
        return -1;
    for (uint32_t i = 0; i < c->via.array.size; i++) {
        const msgpack_object *row = &c->via.array.ptr[i];
        const char *code;
        size_t len;
        if (!rp_obj_is_array(row) || row->via.array.size != 8 ||
            !rp_obj_str(&row->via.array.ptr[0], &code, &len) || len != 3)
            return -1;
        stats_currency_t *cur = &self->c[self->currencies++];
        memcpy(cur->code, code, 3);
        int64_t *slots[] = {&cur->orders, &cur->amount,   &cur->quantity, &cur->cost,
                            &cur->costed, &cur->payments, &cur->paid};
        for (int k = 0; k < 7; k++)
            if (!s_i64(&row->via.array.ptr[k + 1], slots[k]))
                return -1;
    }
    for (uint32_t i = 0; i < m->via.array.size; i++) {
        const msgpack_object *row = &m->via.array.ptr[i];
        int64_t month, currency, orders, amount;
        if (!rp_obj_is_array(row) || row->via.array.size != 4 ||
            !s_i64(&row->via.array.ptr[0], &month) || !s_i64(&row->via.array.ptr[1], &currency) ||
            !s_i64(&row->via.array.ptr[2], &orders) || !s_i64(&row->via.array.ptr[3], &amount) ||
            currency < 0 || (size_t)currency >= self->currencies || month < 0)
            return -1;
        stats_month_t *slot = s_month(self, (uint32_t)month, (uint32_t)currency);
        slot->orders = orders;
        slot->amount = amount;
    }
    return 0;
}

int stats_load(stats_t *self, rp_store_t *store, MDB_txn *txn, const char *id, size_t len)
{
    stats_reset(self);
    MDB_val key = {len, (void *)id}, value;
    if (len == 0 || mdb_get(txn, rp_store_dbi(store, "stats"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    int rc = doc ? s_unpack(self, rp_doc_root(doc)) : -1;
    rp_doc_destroy(&doc);
    return rc;
}

int stats_save(const stats_t *self, rp_store_t *store, MDB_txn *txn, const char *id, size_t len)
{
    MDB_val key = {len, (void *)id};
    MDB_dbi dbi = rp_store_dbi(store, "stats");
    if (self->currencies == 0) {
        int rc = mdb_del(txn, dbi, &key, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_packer *pk = &packer.pk;
    msgpack_pack_map(pk, 2);
    rp_pack_cstr(pk, "c");
    msgpack_pack_array(pk, self->currencies);
    for (size_t i = 0; i < self->currencies; i++) {
        const stats_currency_t *c = &self->c[i];
        msgpack_pack_array(pk, 8);
        rp_pack_strn(pk, c->code, 3);
        const int64_t values[] = {c->orders, c->amount,   c->quantity, c->cost,
                                  c->costed, c->payments, c->paid};
        for (int k = 0; k < 7; k++)
            msgpack_pack_int64(pk, values[k]);
    }
    size_t kept = 0;
    for (size_t i = 0; i < self->months; i++)
        kept += self->m[i].orders != 0 || self->m[i].amount != 0;
    rp_pack_cstr(pk, "m");
    msgpack_pack_array(pk, kept);
    for (size_t i = 0; i < self->months; i++) {
        const stats_month_t *m = &self->m[i];
        if (m->orders == 0 && m->amount == 0)
            continue; //  every order of that month was cancelled
        msgpack_pack_array(pk, 4);
        msgpack_pack_uint32(pk, m->month);
        msgpack_pack_uint32(pk, m->currency);
        msgpack_pack_int64(pk, m->orders);
        msgpack_pack_int64(pk, m->amount);
    }
    MDB_val value = {packer.buffer.size, packer.buffer.data};
    int rc = mdb_put(txn, dbi, &key, &value, 0);
    rp_packer_destroy(&packer);
    return rc;
}

//  ---------------------------------------------------------------------
//  The answer

//  Money that may be negative (a balance paid in advance).
static void s_pack_signed(msgpack_packer *pk, int64_t cents)
{
    if (cents >= 0)
        rp_money_pack(pk, cents);
    else if (cents % 100 == 0)
        msgpack_pack_int64(pk, cents / 100);
    else
        msgpack_pack_double(pk, (double)cents / 100);
}

static void s_pack_year_sums(const stats_t *self, msgpack_packer *pk, uint32_t currency,
                             int64_t *this_year, int64_t *last_year, int year)
{
    size_t years = 0;
    int prev = -1;
    for (size_t i = 0; i < self->months; i++)
        if (self->m[i].currency == currency && (int)(self->m[i].month / 12) != prev) {
            prev = (int)(self->m[i].month / 12);
            years++;
        }
    msgpack_pack_map(pk, years);
    *this_year = *last_year = 0;
    for (size_t i = 0; i < self->months;) {
        if (self->m[i].currency != currency) {
            i++;
            continue;
        }
        int y = (int)(self->m[i].month / 12);
        int64_t orders = 0, amount = 0;
        for (; i < self->months && (int)(self->m[i].month / 12) == y; i++)
            if (self->m[i].currency == currency) {
                orders += self->m[i].orders;
                amount += self->m[i].amount;
            }
        char key[16];
        snprintf(key, sizeof key, "%d", y);
        rp_pack_cstr(pk, key);
        msgpack_pack_map(pk, 2);
        rp_pack_kv_i64(pk, "orders", orders);
        rp_pack_cstr(pk, "amount");
        s_pack_signed(pk, amount);
        if (y == year)
            *this_year = amount;
        else if (y == year - 1)
            *last_year = amount;
    }
}

static void s_pack_currency(const stats_t *self, msgpack_packer *pk, size_t i, int year)
{
    const stats_currency_t *c = &self->c[i];
    msgpack_pack_map(pk, 13);
    rp_pack_kv_i64(pk, "orders", c->orders);
    rp_pack_cstr(pk, "amount");
    s_pack_signed(pk, c->amount);
    rp_pack_cstr(pk, "quantity");
    s_pack_signed(pk, c->quantity);
    rp_pack_cstr(pk, "average");
    if (c->orders > 0)
        s_pack_signed(pk, (c->amount * 2 + c->orders) / (c->orders * 2));
    else
        msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "years");
    int64_t this_year, last_year;
    s_pack_year_sums(self, pk, (uint32_t)i, &this_year, &last_year, year);
    rp_pack_cstr(pk, "this_year");
    s_pack_signed(pk, this_year);
    rp_pack_cstr(pk, "last_year");
    s_pack_signed(pk, last_year);
    rp_pack_cstr(pk, "growth");
    rp_money_pack_ratio(pk, this_year - last_year, last_year, 4);
    bool costed = c->costed != 0 || c->cost != 0;
    rp_pack_cstr(pk, "cost");
    if (costed)
        s_pack_signed(pk, c->cost);
    else
        msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "margin");
    if (costed)
        s_pack_signed(pk, c->costed - c->cost);
    else
        msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "margin_rate");
    rp_money_pack_ratio(pk, c->costed - c->cost, costed ? c->costed : 0, 4);
    rp_pack_cstr(pk, "payments");
    s_pack_signed(pk, c->payments);
    rp_pack_cstr(pk, "balance");
    s_pack_signed(pk, c->amount - c->payments);
}

void stats_pack(const stats_t *self, msgpack_packer *pk, const char *first, const char *last,
                int year, const char *currency, const msgpack_object *credit_limit)
{
    msgpack_pack_map(pk, 7);
    rp_pack_kv_i64(pk, "orders", stats_orders(self));
    rp_pack_cstr(pk, "first_order_at");
    first ? rp_pack_cstr(pk, first) : msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "last_order_at");
    last ? rp_pack_cstr(pk, last) : msgpack_pack_nil(pk);
    rp_pack_cstr(pk, "currencies");
    msgpack_pack_map(pk, self->currencies);
    for (size_t i = 0; i < self->currencies; i++) {
        rp_pack_strn(pk, self->c[i].code, 3);
        s_pack_currency(self, pk, i, year);
    }
    int i = s_currency((stats_t *)self, currency, false);
    int64_t balance = i < 0 ? 0 : self->c[i].amount - self->c[i].payments, limit = 0;
    bool has_limit = credit_limit && rp_money_cents(credit_limit, &limit);
    rp_pack_cstr(pk, "balance");
    s_pack_signed(pk, balance);
    rp_pack_kv_obj(pk, "credit_limit", has_limit ? credit_limit : NULL);
    rp_pack_cstr(pk, "over_credit_limit");
    has_limit &&balance > limit ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
}

//  ---------------------------------------------------------------------
//  Self-test

static int s_test_store(rp_store_t *store, MDB_txn *txn, void *arg)
{
    stats_t *s = (stats_t *)arg;
    uint32_t nov = 2026 * 12 + 10;
    assert(stats_save(s, store, txn, "c1", 2) == 0);
    stats_t back;
    stats_init(&back);
    assert(stats_load(&back, store, txn, "c1", 2) == 0);
    assert(back.currencies == 2 && back.months == 2 && back.c[0].payments == 30000);
    assert(stats_merge(&back, s) && back.c[0].amount == 200100 && back.c[1].orders == 2);
    assert(stats_trailing(&back, "CNY", nov) == 200100);
    assert(stats_load(&back, store, txn, "none", 4) == 0 && back.currencies == 0);
    stats_reset(&back);
    return 0;
}

void stats_test(void)
{
    assert(stats_month("2026-11-23T08:00:00.000Z", 24) == 2026 * 12 + 10);
    assert(stats_month("2026-13", 7) == 0 && stats_month("20", 2) == 0);
    assert(stats_month("2026-1x", 7) == 0 && stats_month("2026/11", 7) == 0);
    assert(stats_month("2026-11", 7) == 2026 * 12 + 10);
    stats_t s;
    stats_init(&s);
    uint32_t nov = 2026 * 12 + 10;
    stats_order_t a = {"CNY", 100050, 200, 60000, true, nov};
    stats_order_t b = {"CNY", 50000, 100, 0, false, nov - 12}; //  a year before
    stats_order_t c = {"USD", 700, 100, 0, false, nov - 1};
    assert(stats_order(&s, &a, 1) && stats_order(&s, &b, 1) && stats_order(&s, &c, 1));
    assert(stats_orders(&s) == 3);
    assert(stats_trailing(&s, "CNY", nov) == 100050);
    assert(stats_trailing(&s, "CNY", nov - 1) == 50000);
    assert(stats_trailing(&s, "USD", nov) == 700 && stats_trailing(&s, "EUR", nov) == 0);
    assert(stats_payment(&s, "CNY", 30000));
    //  A cancel takes the order back exactly; the month's slot goes.
    assert(stats_order(&s, &b, -1));
    assert(s.c[0].amount == 100050 && s.c[0].orders == 1 && s.c[0].costed == 100050);
    //  Saved and loaded, merged.
    char dir[] = "/tmp/rp-stats-XXXXXX";
    assert(mkdtemp(dir));
    static const char *const dbnames[] = {"stats", NULL};
    rp_store_t *store = rp_store_new(dir, dbnames);
    assert(store);
    assert(rp_store_write(store, s_test_store, &s) == 0);
    rp_store_destroy(&store);
    stats_reset(&s);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}

//  ---------------------------------------------------------------------
//  For the reports (report.c)

void stats_pack_money(msgpack_packer *pk, int64_t cents)
{
    s_pack_signed(pk, cents);
}
