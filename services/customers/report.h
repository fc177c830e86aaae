/*  report.h — the customers reports (docs/customers.md § Reports): how
    the caller's customers split, who buys most, what sells.

    Every report reads one snapshot and counts every non-archived customer
    the actor may see (the list's scope, scope.h), once. Money is per
    currency, never added across currencies: a report that sums money is
    in one `currency` (args.currency, 3 letters; default the grading
    currency, grading.h) and one UTC `year` of the orders' placed_at
    (args.year, 1900–9999; default the current UTC year). Sales come from
    each customer's figures (stats.h) or, per product, from its live orders
    (status placed) in the customer_orders listing (order.h).

    customers.composition {by: grade | tier | region | industry | owner |
    product, measure?: count | amount (default count), year?, currency?}
      measure count:  {by, measure, total, groups: [{key, count, share}]}
                      (by product also `year`)
      measure amount: {by, measure, year, currency, total, amount,
                      groups: [{key, count, amount, share}]}
      A customer counts under its value of the field (key nil when empty);
      share = count / total (count) or amount / the total amount (amount;
      0 when that is 0), so the shares add up to 1. By product a customer
      counts under each product it bought in the year (any currency for
      count, the currency for amount): total is the customers that bought
      anything, and count shares can add up to more than 1. Groups come
      largest first by the measure (ties by count, then key; nil last).

    customers.report.top {by?: amount | growth | margin (default amount),
    year?, currency?, limit? (1–100, default 10)} →
      {by, year, currency, items: [{customer_id, code, name, grade, tier,
      owner, orders, amount, last_year, growth, margin, margin_rate}]}
      orders, amount: the customer's live orders in the year and currency;
      last_year: its amount the year before; growth = (amount − last_year)
      / last_year (4 decimals, nil when last_year is 0); margin = amount −
      cost over its orders of the year that gave a cost (nil when none),
      margin_rate = margin / their amount. Ranked: amount — customers with
      an order in the year, largest first; growth — customers with sales
      last year by growth, largest first, then those new this year (growth
      nil) by amount; margin — customers with a costed order in the year,
      largest margin first. Ties by amount, then id.

    customers.report.products {year?, currency?, limit? (1–1000, default
    100)} →
      {year, currency, total: {products, customers, orders, amount}, items:
      [{product, customers, orders, amount, average, top: [{customer_id,
      code, name, amount}]}]}
      Per product, the customers' live orders placed in the year in the
      currency: customers buying it, orders, sales, average = amount /
      customers (hundredths rounded half up) and its three largest buyers
      (ties by id). Products by amount, largest first (ties by name);
      total over every product (customers counted once).

    Bad args are 422 invalid with one error per field; a role that reads
    nothing is 403 forbidden. Cost: one pass over the customers (their
    figures for the money measures) plus, for product, margin and the
    products report, each counted customer's orders of that year (a key
    range); memory O(distinct values + customers with sales) for top.
*/
#ifndef CUSTOMERS_REPORT_H
#define CUSTOMERS_REPORT_H

#include <rapport/service.h>

//  The ops (rp_service_op_fn; arg unused).
void report_composition(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req);
void report_top(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void report_products(void *arg, rp_service_t *service, rp_origin_t *origin,
                     const rp_request_t *req);

void report_test(void);

#endif
