/*  worker.h — an MDP worker (RFC 7 "MDPW01") for one service, on a DEALER.

    Made for an event loop: poll rp_worker_sock; when it is readable, call
    rp_worker_recv; call rp_worker_tick on every turn (or at least every
    rp_worker_next_tick_ms) so heartbeats go out and a silent broker is
    noticed. A loop looks like:

        zpoller_t *poller = zpoller_new (rp_worker_sock (worker), NULL);
        while (!zsys_interrupted) {
            zsock_t *which = zpoller_wait (poller, rp_worker_next_tick_ms (worker));
            if (which) {
                zframe_t *client;
                zframe_t *body = rp_worker_recv (worker, &client);
                if (body) {
                    ...handle, then (now or later)...
                    rp_worker_reply (worker, &client, reply, reply_size);
                    zframe_destroy (&body);
                }
            }
            rp_worker_tick (worker);
        }

    Liveness: heartbeats every 2.5 s both ways; when the broker has been
    silent for 3 intervals, or tells us DISCONNECT, the worker drops the
    connection and connects again after a back-off (250 ms, doubling to
    8 s; reset by the first sign of life). Each new connection is a new
    worker to the broker: requests in flight on the old one are lost (the
    broker answers them 503 worker_lost) and replies to them are dropped.

    Credit: with credit N ≥ 1, READY carries {credit: N, instance} so the
    broker keeps up to N requests in flight to us (instance, our log
    instance id, only labels us in broker.status); with 0 we are a plain
    MDP worker (one at a time).

    Leases: for a service named "<S>.writer" the broker tells the lease
    holder its epoch with a REQUEST from an empty client address, body
    {id: 0, op: "lease.granted", args: {service: "<S>", epoch: N, token: T}}.
    The worker takes it in itself (rp_worker_recv returns NULL, nothing is
    sent back) and rp_worker_epoch returns N from then on, rp_worker_token
    T; 0 (and NULL) means "not the holder", which is also the state after
    every reconnect until the next grant. The token is the lease holder's
    proof to the journal (docs/protocol.md § Journal, "Ownership and
    fencing"): it travels only on this connection, and a grant without one
    is ignored.
*/
#ifndef RAPPORT_WORKER_H
#define RAPPORT_WORKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _rp_worker_t rp_worker_t;

//  Connect to the broker's router and send READY for service. Returns NULL
//  if the endpoint or service name is invalid.
rp_worker_t *rp_worker_new(const char *endpoint, const char *service, int credit);

//  The same for "<S>.writer" claiming event-type prefixes besides "S."
//  (owns: NULL-terminated, e.g. {"customer.", NULL}; copied), sent in
//  READY's options as {owns: [...]}: the journal makes S their owner when
//  it grants the lease, unless another service owns one (then the broker
//  says DISCONNECT). Ignored for a service that is no writer.
rp_worker_t *rp_worker_new_owner(const char *endpoint, const char *service, int credit,
                                 const char *const *owns);

//  Send DISCONNECT (if connected) and close the socket.
void rp_worker_destroy(rp_worker_t **self_p);

//  The socket to poll for readability. It stays the same socket for the
//  worker's whole life, across reconnects.
zsock_t *rp_worker_sock(rp_worker_t *self);

//  Read one message if one is waiting (never blocks). Returns the body of a
//  request, which the caller destroys, and sets *client_p to the client's
//  address frame (also the caller's, given back through rp_worker_reply or
//  destroyed). Returns NULL for heartbeats, lease grants, malformed
//  messages, or when nothing was waiting.
zframe_t *rp_worker_recv(rp_worker_t *self, zframe_t **client_p);

//  True if the last rp_worker_recv found nothing waiting (rather than a
//  heartbeat or a grant): a loop that drains several messages per turn
//  stops there, without asking the socket once more.
bool rp_worker_drained(rp_worker_t *self);

//  Send a reply body to the client of a request; takes and destroys
//  *client_p. Returns -1 (and drops the reply) while the worker waits to
//  reconnect, or if the socket would block.
int rp_worker_reply(rp_worker_t *self, zframe_t **client_p, const void *body, size_t size);

//  Heartbeats, liveness and reconnects: call on every loop turn.
void rp_worker_tick(rp_worker_t *self);

//  Milliseconds until rp_worker_tick has something to do (≥ 0).
int rp_worker_next_tick_ms(rp_worker_t *self);

//  The lease epoch for a "<S>.writer" worker holding the lease, else 0.
uint64_t rp_worker_epoch(rp_worker_t *self);

//  The lease token given with that epoch (1..RP_WORKER_TOKEN_MAX bytes), or
//  NULL while the worker holds no lease.
#define RP_WORKER_TOKEN_MAX 64
const char *rp_worker_token(rp_worker_t *self);

//  The service name given at creation.
const char *rp_worker_service(rp_worker_t *self);

//  True while connected (READY sent, broker not yet found silent).
bool rp_worker_connected(rp_worker_t *self);

//  Override timing (tests): heartbeat interval and liveness, reconnect
//  back-off bounds, all in ms. Takes effect from the next reconnect or tick.
void rp_worker_set_timing(rp_worker_t *self, int heartbeat_ms, int liveness, int reconnect_min,
                          int reconnect_max);

void rp_worker_test(void);

#endif
