/*  handlers.h — the customers ops (docs/protocol.md request envelope; the
    actor {user, role, team} decides what a caller sees).

    customers_handlers_ops is the service's op table (rp_service_def_t.ops,
    with arg = a customers_handlers_t):
    on "customers.writer" (the lease holder): customers.create,
    customers.update, customers.archive, customers.restore — validate,
    append one customer.* event with the lease epoch and the request's idem
    ("customers/<idem>"), wait until applied here, answer the outcome.
    On "customers" (any instance, min_seq honoured): customers.get,
    customers.list (query.h), customers.duplicates (dups.h),
    customers.composition, customers.report.top and
    customers.report.products (report.h).
    The ops on a customer's contacts, activities, timeline, assignment and
    merges are served by relations.h, customers.import by import.h.
*/
#ifndef CUSTOMERS_HANDLERS_H
#define CUSTOMERS_HANDLERS_H

#include "import.h"
#include "relations.h"

#include <rapport/service.h>

typedef struct _customers_handlers_t customers_handlers_t;

//  region: the default phone region ("CN").
customers_handlers_t *customers_handlers_new(const char *region);

//  Frees the writes still waiting for the journal or the feed (after
//  rp_service_run returned: the runtime dropped their callbacks).
void customers_handlers_destroy(customers_handlers_t **self_p);

//  rp_service_def_t.init and .fini: a customers_handlers_t for the phone
//  region of config customers/phone_region (default "CN"; exit 2 if it
//  is not one normalize.h knows).
rp_service_init_fn customers_handlers_init;
rp_service_fini_fn customers_handlers_fini;

//  rp_service_def_t.tick: the writer appends the configured grading when
//  the store holds another (grading.h: customers/currency, /grades, /tiers).
void customers_handlers_tick(void *arg, rp_service_t *service);

//  rp_service_def_t.gauges: {unmatched_events: the entries of the
//  unmatched queue} (the gateway's /metrics:
//  rapport_customers_unmatched_events{instance}).
void customers_handlers_gauges(void *arg, rp_service_t *service, msgpack_packer *pk);

//  The parts that serve their own ops, for those ops (self: the
//  customers_handlers_t the runtime passes as arg).
relations_t *customers_handlers_relations(void *self);
import_t *customers_handlers_import(void *self);

//  The op table.
extern const rp_service_op_t customers_handlers_ops[];

void customers_handlers_test(void);

#endif
