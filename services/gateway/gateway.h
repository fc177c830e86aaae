/*  gateway.h — the HTTP gateway: evhttp and the broker on one event_base.

    Configuration (config/gateway.cfg, each key overridable from the
    environment as RAPPORT_<PATH>):
        http/bind            127.0.0.1
        http/port            8080      (RAPPORT_HTTP_PORT; 0 picks a free one)
        http/body_max        1048576   bytes; a larger body is a 413
        http/timeout_ms      10000     a service's answer, else 504
        broker/endpoint      tcp://127.0.0.1:5555
        feed/endpoint        tcp://127.0.0.1:5556   the journal feed (user.* events
                                       → the key directory, directory.h;
                                       customer.* events → the cache, cache.h)
        auth/admin_key       (RAPPORT_ADMIN_KEY takes precedence)
        rate/per_s           500       per-key token bucket refill (RAPPORT_RATE_PER_S);
                                       0 disables the limit (ratelimit.h)
        rate/burst           1000      bucket size (RAPPORT_RATE_BURST)
        cache/records        10000     customers whose GET answers are kept
                                       (RAPPORT_CACHE_RECORDS; 0: none; cache.h)
        cache/bytes          67108864  memory those answers may take
                                       (RAPPORT_CACHE_BYTES, 64 KiB..16 GiB)
        events/heartbeat_ms  15000     between an event stream's heartbeats
                                       (RAPPORT_EVENTS_HEARTBEAT_MS; feedout.h)
        events/streams_max   256       event streams open at once
        events/buffer_max    1048576   a stream's unwritten bytes before it is closed

    Routes:
        GET  /health                  200 {status: "ok"} while the process runs
        GET  /ready                   200 if the broker answers broker.status
                                      within 1 s and every writer lease it
                                      knows has a live holder, else 503 with
                                      Retry-After
        GET  /metrics                 Prometheus text: requests, latency, and
                                      the fleet (fleet.h): journal head, each
                                      instance's cursor and lag, writers
        GET  /openapi.json            the OpenAPI 3.1 document (openapi.h)
        /api/v1/…                     every service's routes, rows of data in
                                      services/<service>/routes.c (libshared
                                      route.h) linked into this program and
                                      run by the route engine (route.h)
        GET  /api/v1/events           the journal for integrators, pages or
                                      Server-Sent Events (feedout.h; its row is
                                      the journal's, services/broker/routes.c)
    The test build build/test/rapport-gateway-tally adds the rows of
    tests/system/tally_routes.c (/api/v1/tally/{key}, the demo of the
    forwarding path); this program does not answer them.
    Everything under /api needs `Authorization: Bearer <key>` (auth.h) and is
    rate limited per key (ratelimit.h; not the bootstrap admin key). /ready
    also waits for the key directory's first replay of the journal. The
    HTTP API reference: docs/api.md.
*/
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include "route.h"

#include <event2/event.h>
#include <rapport/config.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct _gw_gateway_t gw_gateway_t;

//  Bind and connect; NULL (with a log line) if the port cannot be bound.
gw_gateway_t *gw_gateway_new(struct event_base *base, rp_config_t *config);

//  Begin a clean stop: accept no more connections, answer what is in
//  flight with 503 "shutting_down" (the loop must run a little longer to
//  write those answers out), refuse further requests with 503.
void gw_gateway_stop(gw_gateway_t *self);

//  Stop (if not yet), close every connection and the broker socket.
void gw_gateway_destroy(gw_gateway_t **self_p);

//  The port listened on (useful when configured as 0).
int gw_gateway_port(gw_gateway_t *self);

//  The routing table of this program, read-only (route.h's gw_route_info_t:
//  the template, "/api/v1/customers/{id}", also the metrics label and the
//  OpenAPI path, and the methods it answers; get also answers HEAD). Copy
//  up to max routes into routes; returns how many there are.
size_t gw_gateway_routes(gw_route_info_t *routes, size_t max);

#endif
