/*  handlers.h — the notifications op table and the service's own state:
    the writes in flight and the writer's purge (docs/notifications.md
    § Retention).
*/
#ifndef NOTIFICATIONS_HANDLERS_H
#define NOTIFICATIONS_HANDLERS_H

#include "purge.h"

#include <rapport/service.h>
#include <rapport/write.h>

typedef struct _notifications_handlers_t notifications_handlers_t;

rp_writes_t *notifications_handlers_writes(void *self);

//  rp_service_def_t.init and .fini: init refuses a retention or a purge
//  period that is not a duration of a second or more.
rp_service_init_fn notifications_handlers_init;
rp_service_fini_fn notifications_handlers_fini;

//  rp_service_def_t.tick: the writer's purge (purge.h).
void notifications_handlers_tick(void *arg, rp_service_t *service);

extern const rp_service_op_t notifications_handlers_ops[];

void notifications_handlers_test(void);

#endif
