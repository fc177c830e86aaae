/*  grading.h — the A–E grade and the customer pyramid, from what a
    customer buys (docs/customers.md § Grade and tier).

    The rule, applied by apply after every order a customer gains or loses
    (order.h), over the customer's amount in the grading currency in the
    trailing twelve months (the event's calendar month and the eleven
    before it, stats.h):
      grade  A ≥ grades[0], B ≥ grades[1], C ≥ grades[2], D ≥ grades[3],
             else E; a customer with no live order keeps the grade it has;
      tier   strategic ≥ strategic, key ≥ key, else transacting while it
             has a live order; back to prospect when its last order is
             cancelled; lead and prospect are the tiers before any order
             (an activity moves a lead to prospect).
    A grade set by hand (create, update, import) is kept until a client
    sets it to null (grade_manual); so is a tier set by hand to
    transacting, key or strategic (tier_manual). lead and prospect set by
    hand are where a customer stands before buying: orders move them on.

    The thresholds are the writer's config (customers/currency,
    customers/grades, customers/tiers; defaults below). Apply must give the
    same answer on every instance, so it reads them from the store: the
    writer appends customer.grading_set {id: "grading", grading: {currency,
    grades: [A, B, C, D], key, strategic, phone_region, lead_team}} whenever its config differs from
    what the store holds (grading_seed), and the rule applies from that
    event on (grades already given are not recomputed). The same event
    carries customers/phone_region, the region integrators' national phone
    numbers are read in when apply matches them (reference.h), and
    customers/lead_team, the team whose active sales users new leads go to
    in turn (lead.h).

    Months pass without orders, and old orders leave the twelve months: the
    writer appends customer.regraded {id: "grading", month: "YYYY-MM"} once
    a month has begun after the latest month anything was graded at
    (meta graded_month), and apply grades every customer with figures again
    at that month (order.h).

    Database (the customers fold): settings  "grading" → the grading map.
*/
#ifndef CUSTOMERS_GRADING_H
#define CUSTOMERS_GRADING_H

#include <rapport/apply.h>
#include <rapport/config.h>
#include <rapport/scope.h>
#include <rapport/service.h>

#include <stdbool.h>
#include <stdint.h>

//  Defaults, in units of the grading currency.
#define GRADING_CURRENCY  "CNY"
#define GRADING_GRADES    "A=1000000 B=300000 C=100000 D=10000"
#define GRADING_TIERS     "key=500000 strategic=2000000"
#define GRADING_SEED_IDEM "customers/grading/"
#define GRADING_MONTH_KEY "graded_month" //  meta: the latest month orders were graded at

typedef struct {
    char currency[4];
    int64_t grades[4]; //  hundredths: the least amount for A, B, C, D
    int64_t key, strategic;
    char region[3]; //  integrators' national phone numbers are read in it (reference.h)
    char lead_team[RP_MAX_ACTOR + 1]; //  whose sales users new leads go to; "" any team (lead.h)
} grading_t;

//  The built-in defaults.
void grading_default(grading_t *self);

//  From config (the defaults for keys not given); -1 with a log line when a
//  value does not parse or the thresholds do not descend.
int grading_from_config(grading_t *self, rp_config_t *config);

//  The grading the store holds (the defaults before any grading_set).
void grading_load(grading_t *self, rp_store_t *store, MDB_txn *txn);

bool grading_equal(const grading_t *a, const grading_t *b);
void grading_pack(const grading_t *self, msgpack_packer *pk);

//  The grade ("A".."E") and tier for an amount over twelve months.
const char *grading_grade(const grading_t *self, int64_t amount);
const char *grading_tier(const grading_t *self, int64_t amount);

//  customer.grading_set's row (apply.c's table).
rp_apply_fn grading_apply_set;

//  The writer's part: append customer.grading_set when the configured
//  grading is not the stored one (called every tick; one append in flight).
typedef struct {
    grading_t configured;
    bool in_flight;
    uint64_t seq;       //  the last one appended, until applied here
    int64_t checked_ms; //  the last look at the month (once a minute)
} grading_seed_t;

void grading_seed(grading_seed_t *self, rp_service_t *service);

void grading_test(void);

#endif
