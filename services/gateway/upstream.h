/*  upstream.h — the broker, from inside the gateway's libevent loop.

    An rp_client (one DEALER) whose replies arrive through callbacks. The
    socket's ZMQ_FD is edge-triggered: it signals a change, not a level, so
    on every wake-up we receive until nothing is left, and we wake ourselves
    once after every send (a send can consume the very edge that announced
    a reply). A timer fires at the earliest request deadline so that a
    request nobody answers still gets its 504 on time.

    Every request gets exactly one callback: the reply, the client's 504
    "timeout", or at close a made-up 503 "shutting_down".
*/
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <event2/event.h>
#include <rapport/client.h>

typedef struct _gw_upstream_t gw_upstream_t;

//  reply and everything it points to are valid during the call only.
typedef void(gw_upstream_fn)(void *arg, const rp_reply_t *reply, const msgpack_object *root);

gw_upstream_t *gw_upstream_new(struct event_base *base, const char *endpoint);

//  Stop: answer every request in flight with 503 "shutting_down" and
//  refuse new ones (replies arriving later are dropped).
void gw_upstream_close(gw_upstream_t *self);

//  Close, then free the socket and the events.
void gw_upstream_destroy(gw_upstream_t **self_p);

//  A fresh request id, for the body's `id`.
uint64_t gw_upstream_next_id(gw_upstream_t *self);

//  Send a request body (whose `id` is id) to a service; fn(arg, …) is
//  called later with its answer. Returns 0, or -1 if it could not be sent
//  (then fn is never called).
int gw_upstream_send(gw_upstream_t *self, const char *service, uint64_t id, const void *body,
                     size_t size, int timeout_ms, gw_upstream_fn *fn, void *arg);

//  Call fn(arg, service, reply) for every reply that arrives from a
//  service, before the request's own callback (the fleet's cursors: every
//  reply is stamped with {cursor, instance}). service is the name the
//  request was sent to. One observer; NULL removes it.
typedef void(gw_upstream_observe_fn)(void *arg, const char *service, const rp_reply_t *reply);
void gw_upstream_observe(gw_upstream_t *self, gw_upstream_observe_fn *fn, void *arg);

//  Requests in flight.
size_t gw_upstream_pending(gw_upstream_t *self);

#endif
