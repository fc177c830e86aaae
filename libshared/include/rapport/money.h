/*  money.h — amounts of money (deal amounts, budgets, unit prices, report
    sums): numbers as clients give them, computed in integer hundredths.

    A client's amount is a JSON number ≥ 0 with at most two decimals and
    at most RP_MONEY_MAX in units; it is stored as given (an integer, or a
    double when it has decimals) and read back into exact hundredths
    (int64): a double qualifies when its hundredths, divided by 100 again,
    give back the very same double, so 0.1 is 10 hundredths and 0.001 is
    refused. Sums are made on those integers; a weighted sum (amount ×
    probability %) is kept in hundredths × percent as __int128 and rounded
    half up to hundredths once, at the end (docs/decisions.md § Money).
    Answers pack hundredths back as a number: an integer when whole, else
    the nearest double (exact to two decimals below 2^53 hundredths).
*/
#ifndef RAPPORT_MONEY_H
#define RAPPORT_MONEY_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_MONEY_MAX 10000000000000LL //  10^13 units

//  A stored or client amount in hundredths: false when o is NULL, not a
//  number, negative, over RP_MONEY_MAX, or has more than two decimals.
bool rp_money_cents(const msgpack_object *o, int64_t *cents);

//  The same rule for text ("1234.5", as query parameters arrive).
bool rp_money_parse(const char *text, size_t len, int64_t *cents);

//  Why o is not an amount, as a record field error code ("type",
//  "out_of_range", "invalid"), or NULL when it is one.
const char *rp_money_check(const msgpack_object *o);

//  Pack hundredths as a number (an integer when whole).
void rp_money_pack(msgpack_packer *pk, int64_t cents);

//  Pack num / den rounded half away from zero to decimals (0..6) as a
//  number (rates, conversions, growth, days), or nil when den is 0.
void rp_money_pack_ratio(msgpack_packer *pk, int64_t num, int64_t den, unsigned decimals);

//  A weighted sum: add cents × percent; the result in hundredths, rounded
//  half up (sums of non-negative terms).
typedef struct {
    __int128 sum; //  hundredths × percent
} rp_money_weighted_t;

void rp_money_weighted_add(rp_money_weighted_t *self, int64_t cents, unsigned percent);
int64_t rp_money_weighted_cents(const rp_money_weighted_t *self);

//  Is code an ISO 4217 alphabetic code (three letters A–Z)?
bool rp_money_currency_valid(const char *code, size_t len);

void rp_money_test(void);

#endif
