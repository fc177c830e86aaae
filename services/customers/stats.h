/*  stats.h — a customer's transaction history in figures: what it has
    bought and paid, per currency (money is never added across
    currencies), kept by apply as orders come and go (order.h).

    Per currency: live orders, amount, quantity, the cost and the amount of
    the orders that gave a cost (for the margin), payments; per calendar
    month (UTC, of placed_at) and currency: orders and amount, from which
    the years and the trailing twelve months are summed. Money in exact
    hundredths (rapport/money.h); quantities in hundredths too (a quantity
    with more decimals is rounded to two).

    Database (the customers fold):
        stats   <customer id> → {c: [[currency, orders, amount, quantity,
                cost, costed, payments, paid]…], m: [[month, currency
                index, orders, amount]…]}, month = year × 12 + month − 1,
                months in order.

    As answered (stats_pack, the customer's `stats`): {orders,
    first_order_at, last_order_at, currencies: {CNY: {orders, amount,
    quantity, average, this_year, last_year, growth, years: {"2026":
    {orders, amount}}, cost, margin, margin_rate, payments, balance}},
    balance, credit_limit, over_credit_limit} — balance and the credit
    limit in the grading currency (grading.h); growth = this year over
    last, 4 decimals, null when last year is 0.
*/
#ifndef CUSTOMERS_STATS_H
#define CUSTOMERS_STATS_H

#include <rapport/pack.h>
#include <rapport/store.h>

#include <stdbool.h>
#include <stdint.h>

#define STATS_MAX_CURRENCIES 8 //  per customer; an order in a ninth is unmatched

typedef struct {
    char code[4];
    int64_t orders, amount, quantity, cost, costed, payments, paid;
} stats_currency_t;

typedef struct {
    uint32_t month; //  year × 12 + month − 1
    uint32_t currency;
    int64_t orders, amount;
} stats_month_t;

typedef struct {
    size_t currencies;
    stats_currency_t c[STATS_MAX_CURRENCIES];
    size_t months, months_max;
    stats_month_t *m;
} stats_t;

//  One order's part (placed with sign +1, cancelled with −1).
typedef struct {
    const char *currency; //  3 letters
    int64_t amount, quantity, cost;
    bool has_cost;
    uint32_t month;
} stats_order_t;

void stats_init(stats_t *self);
void stats_reset(stats_t *self);

//  The month of an RFC 3339 UTC time ("2026-11-…" → 2026 × 12 + 10).
uint32_t stats_month(const char *time, size_t len);

//  Load the customer's stats (empty when none); 0, or -1 when the stored
//  map does not read (a corrupt store).
int stats_load(stats_t *self, rp_store_t *store, MDB_txn *txn, const char *id, size_t len);
int stats_save(const stats_t *self, rp_store_t *store, MDB_txn *txn, const char *id, size_t len);

//  Add an order (sign 1) or take it back (-1); a payment. False when the
//  currency would be a ninth.
bool stats_order(stats_t *self, const stats_order_t *order, int sign);
bool stats_payment(stats_t *self, const char *currency, int64_t amount);

//  Add every figure of other (a merged customer's).
bool stats_merge(stats_t *self, const stats_t *other);

//  Live orders in all currencies.
int64_t stats_orders(const stats_t *self);

//  The amount in currency over the twelve months ending with month.
int64_t stats_trailing(const stats_t *self, const char *currency, uint32_t month);

//  Pack the answer's `stats` (first and last order times given, NULL when
//  none); year: the current UTC year; currency: the grading currency;
//  credit_limit: the customer's, nil when it has none.
void stats_pack(const stats_t *self, msgpack_packer *pk, const char *first, const char *last,
                int year, const char *currency, const msgpack_object *credit_limit);

//  Added for the reports (report.c): pack hundredths that may be negative
//  (a margin) as a number, as the answer's stats do.
void stats_pack_money(msgpack_packer *pk, int64_t cents);

void stats_test(void);

#endif
