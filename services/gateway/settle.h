/*  settle.h — a write's answer held until the gateway's feed has its
    event (route.h's RP_ROUTE_SETTLE), so what the write changed is
    already true in this gateway when the client reads the answer: a key
    answered by POST /api/v1/users works here at once, and a rotated or
    revoked one is already refused here.

    An answer waits at most GW_SETTLE_MS; a seq the feed has reached (or
    0: the reply carried none) goes out at once.
*/
#ifndef GW_SETTLE_H
#define GW_SETTLE_H

#include "exchange.h"

#include <event2/event.h>
#include <jansson.h>
#include <stdint.h>

#define GW_SETTLE_MS 1000 //  longest wait for the feed after a write

typedef struct _gw_settle_t gw_settle_t;

//  base NULL: nothing waits (every answer goes out at once).
gw_settle_t *gw_settle_new(struct event_base *base);
//  Answer every waiting write (at a stop), then free.
void gw_settle_destroy(gw_settle_t **self_p);
//  Answer every waiting write now.
void gw_settle_flush(gw_settle_t *self);

//  The feed has reached cursor: answer the writes it covers.
void gw_settle_progress(gw_settle_t *self, uint64_t cursor);

//  Answer status and body (taken over) once the feed has seq.
void gw_settle_send(gw_settle_t *self, gw_exchange_t **ex_p, int status, json_t *body,
                    uint64_t seq);

void gw_settle_test(void);

#endif
