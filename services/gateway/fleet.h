/*  fleet.h — what the gateway knows of the services behind the broker:
    the journal's head, each service instance's applied cursor, and which
    writer leases have a live holder. It is fed from three places, all
    cheap: every reply a service sends carries {cursor, instance}
    (docs/protocol.md, "Reply stamps"), the gateway's own journal follower
    moves the head, and the monitor (monitor.h) polls broker.status once a
    second and probes every instance with service.status.

    Lag is head − cursor: how many journal events an instance has not
    applied yet, as far as we know. An instance that stops answering keeps
    its last cursor, so its lag grows while the journal moves on; once the
    broker no longer lists it (heartbeats stop for 7.5 s) it is forgotten.

    Rendered as Prometheus text (gw_fleet_render):
        rapport_broker_up                              1 / 0
        rapport_journal_head                           seq
        rapport_service_writer{service}                1 / 0 (lease held)
        rapport_service_cursor{service,instance}       seq applied
        rapport_journal_lag{service,instance}          head - cursor
        rapport_service_seen_seconds{service,instance} since its last answer
        rapport_<service>_<gauge>{instance}            the service's own figures
                                                       (service.status gauges,
                                                       e.g. customers'
                                                       unmatched_events)
*/
#ifndef GW_FLEET_H
#define GW_FLEET_H

#include <rapport/pack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GW_FLEET_MAX        1024  //  instances tracked (a bound, not a limit in practice)
#define GW_FLEET_FRESH_MS   3000  //  a broker.status older than this is not trusted
#define GW_FLEET_FORGET_MS  30000 //  unlisted and silent this long: forgotten
#define GW_FLEET_VACANT_MS  1000  //  vacant this long (two polls) before writes fail fast
#define GW_FLEET_GAUGES     8     //  a service's own gauges kept per instance
#define GW_FLEET_GAUGE_NAME 48    //  bytes of a gauge's name with its NUL

typedef struct _gw_fleet_t gw_fleet_t;

gw_fleet_t *gw_fleet_new(void);
void gw_fleet_destroy(gw_fleet_t **self_p);

//  An instance's service.status gauges {name: unsigned integer} (names
//  of [a-z0-9_]; others, and more than GW_FLEET_GAUGES, are dropped).
void gw_fleet_gauges(gw_fleet_t *self, const char *service, const char *instance,
                     size_t instance_len, const msgpack_object *gauges, int64_t now_ms);

//  The journal's head is at least seq (it only grows).
void gw_fleet_head(gw_fleet_t *self, uint64_t seq);

//  The journal was replaced: its head starts again from 0.
void gw_fleet_restart(gw_fleet_t *self);

//  An instance of service ("customers", or "customers.writer": the suffix
//  is dropped) answered, having applied cursor.
void gw_fleet_saw(gw_fleet_t *self, const char *service, const char *instance, size_t instance_len,
                  uint64_t cursor, int64_t now_ms);

//  A broker.status reply's data (NULL: the broker did not answer): the
//  head, the leases, and which instances are alive (an instance the broker
//  no longer lists is forgotten).
void gw_fleet_status(gw_fleet_t *self, const msgpack_object *data, int64_t now_ms);

//  True if the last broker.status, fresh, showed service's writer lease
//  vacant with no standby waiting, as did the one before (at least
//  GW_FLEET_VACANT_MS earlier): a write would only wait in the broker's
//  queue for a worker that is not coming. service may carry ".writer".
bool gw_fleet_writer_vacant(gw_fleet_t *self, const char *service, int64_t now_ms);

//  Calls fn for every service the last broker.status listed with named
//  workers (Rapport instances; reads, not ".writer"), with their count, so
//  each can be probed. (A broker that lists no instances: every worker.)
typedef void(gw_fleet_service_fn)(void *arg, const char *service, size_t workers);
void gw_fleet_each_service(gw_fleet_t *self, gw_fleet_service_fn *fn, void *arg);

//  Append the Prometheus text to out (an open memstream).
void gw_fleet_render(gw_fleet_t *self, FILE *out, int64_t now_ms);

void gw_fleet_test(void);

#endif
