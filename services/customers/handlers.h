/*  handlers.h — the customers ops (docs/protocol.md request envelope; the
    actor {user, role, team} decides what a caller sees).

    On "customers.writer" (the lease holder): customers.create,
    customers.update, customers.archive, customers.restore — validate,
    append one customer.* event with the lease epoch and the request's idem
    ("customers/<idem>"), wait until applied here, answer the outcome.
    On "customers" (any instance, min_seq honoured): customers.get,
    customers.list.
    The ops on a customer's contacts, activities, timeline, assignment and
    merges are served by relations.h.
*/
#ifndef CUSTOMERS_HANDLERS_H
#define CUSTOMERS_HANDLERS_H

#include <rapport/service.h>

typedef struct _handlers_t handlers_t;

//  region: the default phone region ("CN").
handlers_t *handlers_new(const char *region);

//  Frees the writes still waiting for the journal or the feed (after
//  rp_service_run returned: the runtime dropped their callbacks).
void handlers_destroy(handlers_t **self_p);

//  rp_service_def_t.request, with arg = the handlers_t.
void handlers_request(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req);

#endif
