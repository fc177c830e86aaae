/*  forward.h — an HTTP request answered by a service, through the broker.

    gw_forward packs the request envelope
        {id, op, actor: {user, role, team}, min_seq?, idem?, args}
    with min_seq = the last seq this caller has seen, sends it to the
    service, and answers the HTTP request when the reply comes:
      - status   → the HTTP status (a status outside 200..599 is a 502);
      - seq      → header X-Rapport-Seq, and the caller's last seq;
      - data     → the JSON body ({} when absent);
      - error    → problem+json with the service's code and message, and
                   `errors` from error.details.errors when that is a list;
                   503 and 504 carry Retry-After. A 409 whose
                   error.details has `fields` and `ids` lists carries
                   them as `fields` and `matches` (which records clash).
    A read (a service not "<S>.writer") answered 503 worker_lost — its
    instance died with it, and the broker noticed when the heartbeats
    stopped — is sent once more (another instance answers it); a write is
    not: the caller retries it with its Idempotency-Key.
*/
#ifndef GW_FORWARD_H
#define GW_FORWARD_H

#include "exchange.h"
#include "fleet.h"
#include "seqs.h"
#include "upstream.h"

typedef struct _gw_forwarder_t gw_forwarder_t;
//  Pack a request envelope {id, op, min_seq?, idem?, actor: {user, role,
//  team}, args: …} up to args' value, which the caller packs next (one
//  map). idem may be NULL, min_seq 0.
void gw_forward_envelope(msgpack_packer *pk, uint64_t id, const char *op, uint64_t min_seq,
                         const char *idem, const gw_actor_t *actor);

gw_forwarder_t *gw_forwarder_new(gw_upstream_t *upstream, gw_seqs_t *seqs, int timeout_ms);
void gw_forwarder_destroy(gw_forwarder_t **self_p);

//  With a fleet, a write (to "<S>.writer") whose lease the last fresh
//  broker.status showed vacant, no standby waiting, is answered 503
//  "no_writer" (Retry-After) at once instead of waiting in the broker's
//  queue.
void gw_forwarder_set_fleet(gw_forwarder_t *self, gw_fleet_t *fleet);

//  Forward and answer later; the exchange is taken over (and answered
//  with a 503 at once if the request cannot be sent). args is one packed
//  MessagePack map; idem may be NULL. The exchange's actor must be set.
void gw_forward(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service, const char *op,
                const char *idem, const void *args, size_t args_size);

//  A successful (2xx) reply, for a caller that shapes its own answer: the
//  exchange and the reply's data (taken over; {} when absent) are handed
//  over, and the callback must answer (send, or forward again).
typedef void(gw_forward_fn)(void *arg, gw_exchange_t **ex_p, int status, json_t *data);

//  gw_forward, with on_success (arg is not freed; errors answer as above).
void gw_forward_then(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, const void *args, size_t args_size,
                     gw_forward_fn *on_success, void *arg);

//  gw_forward_then with args as a JSON object (taken over), packed here;
//  answers 400 "bad_args" for NULL (a json_pack that refused a value) and
//  400 "bad_json" for one nested too deeply. on_success may be NULL.
void gw_forward_json(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, json_t *args, gw_forward_fn *on_success,
                     void *arg);

void gw_forwarder_test(void);

#endif
