/*  router.h — request/reply routing between clients and service workers.

    RFC 7/MDP 0.1 on a ROUTER socket (docs/protocol.md § Request router):
    many workers per service, load-balanced by free credit; heartbeats;
    bounded queues with timeouts; writer leases (lease.h); the broker's own
    services mmi.service, broker.status and journal (forwarded to the
    journal actor, journal.h).
*/
#ifndef RAPPORT_BROKER_ROUTER_H
#define RAPPORT_BROKER_ROUTER_H

#include <czmq.h>
#include <rapport/config.h>

typedef struct _router_t router_t;

//  Bind the request socket (broker/bind, default broker/endpoint) and take
//  the journal actor's pipe. Returns NULL if the endpoint cannot be bound.
router_t *router_new(rp_config_t *config, zactor_t *journal);
void router_destroy(router_t **self_p);

//  Route until interrupted (SIGINT/SIGTERM).
void router_run(router_t *self);

//  One turn of that loop: wait for input (at most until the next tick, 20
//  ms), handle what came, run the timers. For tests and embedding.
void router_turn(router_t *self);

void router_test(void);

#endif
