/*  exchange.h — one HTTP request from its arrival to its answer.

    Every answer goes through gw_exchange_send, which counts it in the
    metrics under the route's label and frees the exchange: a route handler
    answers exactly once, now or from a callback later (the evhttp request
    stays valid until then, even if the client has gone away).
*/
#ifndef GW_EXCHANGE_H
#define GW_EXCHANGE_H

#include "metrics.h"

#include <event2/http.h>
#include <jansson.h>
#include <rapport/route.h>
#include <stdint.h>

//  Who is calling, as services see it (request envelope `actor`).
typedef struct {
    const char *user;
    const char *role;
    const char *team;
} gw_actor_t;

typedef struct _gw_exchange_t gw_exchange_t;

gw_exchange_t *gw_exchange_new(struct evhttp_request *req, gw_metrics_t *metrics);

//  The metrics label (a static string); "unmatched" until set.
void gw_exchange_set_route(gw_exchange_t *self, const char *route);

struct evhttp_request *gw_exchange_req(gw_exchange_t *self);

//  The route row the request runs (route.h), NULL before it is matched.
void gw_exchange_set_row(gw_exchange_t *self, const rp_route_t *row);
const rp_route_t *gw_exchange_row(gw_exchange_t *self);

//  The authenticated caller (set by the auth check; user NULL before).
gw_actor_t *gw_exchange_actor(gw_exchange_t *self);

//  Set the caller: the strings are copied (cut to 127 bytes), so the
//  actor stays valid while the exchange lives, whatever happens to the
//  key that named it meanwhile.
void gw_exchange_set_actor(gw_exchange_t *self, const char *user, const char *role,
                           const char *team);

//  The answering instance's cursor (reply stamp), set by forward.c before
//  a success callback runs; 0 before.
void gw_exchange_set_cursor(gw_exchange_t *self, uint64_t cursor);
uint64_t gw_exchange_cursor(gw_exchange_t *self);
//  A request header, or NULL.
const char *gw_exchange_header(gw_exchange_t *self, const char *name);

//  Add a response header.
void gw_exchange_add_header(gw_exchange_t *self, const char *name, const char *value);

//  Answer with a body of a content type, count it, free the exchange.
//  The answer to a HEAD is the headers alone (Content-Length the body's).
void gw_exchange_send(gw_exchange_t **self_p, int status, const char *content_type,
                      const char *body, size_t size);

//  For an answer sent by other means (a chunked reply, export.c): count it
//  under status and free the exchange, sending nothing.
void gw_exchange_done(gw_exchange_t **self_p, int status);

//  Answer with a JSON value (taken over), as application/json.
void gw_exchange_send_json(gw_exchange_t **self_p, int status, json_t *body);

//  The reason phrase for a status ("Not Found"), "Unknown" if none.
const char *gw_status_phrase(int status);

#endif
