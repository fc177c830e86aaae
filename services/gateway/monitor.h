/*  monitor.h — keeps the fleet (fleet.h) up to date, once a second.

    Each tick sends broker.status (the head, the leases, the live
    instances); when it answers, every service it lists with workers gets
    one service.status probe per worker (at most GW_MONITOR_PROBES): the
    broker hands requests to the worker that has gone longest without one,
    so the probes spread over the instances and each reports its cursor
    about once a second, even when no client reads from it. The probes'
    replies, like every reply, reach the fleet through the upstream's
    observer (gw_monitor_observe), so there is one path for cursors.

    A tick is skipped while the previous broker.status is unanswered, so a
    slow broker never gets a pile of them.
*/
#ifndef GW_MONITOR_H
#define GW_MONITOR_H

#include "fleet.h"
#include "upstream.h"

#include <event2/event.h>

#define GW_MONITOR_PERIOD_MS 1000
#define GW_MONITOR_PROBES    16 //  probes per service per tick, at most

typedef struct _gw_monitor_t gw_monitor_t;

//  Start ticking on base; the first tick comes at once.
gw_monitor_t *gw_monitor_new(struct event_base *base, gw_upstream_t *upstream, gw_fleet_t *fleet);

//  Stop ticking (requests in flight are answered by the upstream's close).
void gw_monitor_stop(gw_monitor_t *self);
void gw_monitor_destroy(gw_monitor_t **self_p);

//  The upstream observer (gw_upstream_observe): every reply stamped with
//  {cursor, instance} moves that instance's cursor in the fleet.
void gw_monitor_observe(void *fleet, const char *service, const rp_reply_t *reply);

#endif
