/*  handlers.h — the opportunities ops (docs/opportunities.md § Ops).

    On "opportunities.writer" (the lease holder): the writes — validate,
    append opportunity.* events with the lease and the request's idem
    ("opportunities/<idem>"), wait until applied here, answer the outcome.
    The writer also seeds the default pipeline on its tick when its store
    has none. On "opportunities" (any instance, min_seq honoured): the
    reads, lists and reports.
*/
#ifndef OPPORTUNITIES_HANDLERS_H
#define OPPORTUNITIES_HANDLERS_H

#include <rapport/service.h>
#include <rapport/write.h>

typedef struct _opportunities_handlers_t opportunities_handlers_t;

opportunities_handlers_t *opportunities_handlers_new(void);
void opportunities_handlers_destroy(opportunities_handlers_t **self_p);

//  The writes in flight, for the ops of the service's other files.
rp_writes_t *opportunities_handlers_writes(void *self);

//  rp_service_def_t.init, .fini and .tick.
rp_service_init_fn opportunities_handlers_init;
rp_service_fini_fn opportunities_handlers_fini;
rp_service_tick_fn opportunities_handlers_tick;

//  The op table (rp_service_def_t.ops, with arg = an opportunities_handlers_t).
extern const rp_service_op_t opportunities_handlers_ops[];

void opportunities_handlers_test(void);

#endif
