/*  handlers.h — the reminders ops (docs/reminders.md).

    On "reminders.writer" (the lease holder): the writes — validate,
    append reminder.* events with the lease and the request's idem
    ("reminders/<idem>"), wait until applied here, answer the outcome.
    On "reminders" (any instance, min_seq honoured): the reads.
*/
#ifndef REMINDERS_HANDLERS_H
#define REMINDERS_HANDLERS_H

#include "clock.h"

#include <rapport/intl.h>
#include <rapport/service.h>
#include <rapport/write.h>

typedef struct _reminders_handlers_t reminders_handlers_t;

//  zone: the default time zone (reminders/time_zone), a tz database name.
reminders_handlers_t *reminders_handlers_new(const char *zone);
void reminders_handlers_destroy(reminders_handlers_t **self_p);

//  The writes in flight, and the default time zone, for the ops.
rp_writes_t *reminders_handlers_writes(void *self);
const char *reminders_handlers_zone(void *self);

//  The writer's clock (clock.h): its now, and the test clock's offset.
reminders_clock_t *reminders_handlers_clock(void *self);

//  rp_service_def_t.init and .fini: init refuses a reminders/time_zone
//  that is not a zone of the tz database, and what the clock refuses
//  (reminders_clock_init: late_after, the test clock in production).
rp_service_init_fn reminders_handlers_init;
rp_service_fini_fn reminders_handlers_fini;

//  The op table (rp_service_def_t.ops, with arg = a reminders_handlers_t).
extern const rp_service_op_t reminders_handlers_ops[];

void reminders_handlers_test(void);

//  rp_service_def_t.tick: the writer's clock (clock.h).
void reminders_handlers_tick(void *arg, rp_service_t *service);

#endif
