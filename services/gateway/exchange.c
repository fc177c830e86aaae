/*  exchange.c — see exchange.h. */
#include "exchange.h"
#include "json.h"

#include <czmq.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

struct _gw_exchange_t {
    struct evhttp_request *req;
    gw_metrics_t *metrics;
    const char *route;
    const rp_route_t *row;
    int64_t started_us;
    gw_actor_t actor;
    char user[128], role[16], team[128]; //  what actor points to, once set
    uint64_t cursor;                     //  of the instance that answered
};

void gw_exchange_set_cursor(gw_exchange_t *self, uint64_t cursor)
{
    self->cursor = cursor;
}

uint64_t gw_exchange_cursor(gw_exchange_t *self)
{
    return self->cursor;
}

gw_exchange_t *gw_exchange_new(struct evhttp_request *req, gw_metrics_t *metrics)
{
    gw_exchange_t *self = (gw_exchange_t *)zmalloc(sizeof *self);
    self->req = req;
    self->metrics = metrics;
    self->route = "unmatched";
    self->started_us = zclock_usecs();
    return self;
}

void gw_exchange_set_route(gw_exchange_t *self, const char *route)
{
    self->route = route;
}

struct evhttp_request *gw_exchange_req(gw_exchange_t *self)
{
    return self->req;
}

void gw_exchange_set_row(gw_exchange_t *self, const rp_route_t *row)
{
    self->row = row;
}

const rp_route_t *gw_exchange_row(gw_exchange_t *self)
{
    return self->row;
}

gw_actor_t *gw_exchange_actor(gw_exchange_t *self)
{
    return &self->actor;
}

void gw_exchange_set_actor(gw_exchange_t *self, const char *user, const char *role,
                           const char *team)
{
    snprintf(self->user, sizeof self->user, "%s", user);
    snprintf(self->role, sizeof self->role, "%s", role);
    snprintf(self->team, sizeof self->team, "%s", team);
    self->actor = (gw_actor_t){self->user, self->role, self->team};
}

const char *gw_exchange_header(gw_exchange_t *self, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(self->req), name);
}

void gw_exchange_add_header(gw_exchange_t *self, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(self->req), name, value);
}

void gw_exchange_send(gw_exchange_t **self_p, int status, const char *content_type,
                      const char *body, size_t size)
{
    gw_exchange_t *self = *self_p;
    struct evbuffer *out = evbuffer_new();
    if (content_type)
        gw_exchange_add_header(self, "Content-Type", content_type);
    if (evhttp_request_get_command(self->req) == EVHTTP_REQ_HEAD) {
        //  evhttp would write the body after a HEAD's headers, where a
        //  keep-alive client reads it as the start of the next answer.
        char length[24];
        snprintf(length, sizeof length, "%zu", body ? size : 0);
        gw_exchange_add_header(self, "Content-Length", length);
    } else if (body && size)
        evbuffer_add(out, body, size);
    evhttp_send_reply(self->req, status, gw_status_phrase(status), out);
    evbuffer_free(out);
    double seconds = (double)(zclock_usecs() - self->started_us) / 1e6;
    gw_metrics_record(self->metrics, self->route, status, seconds);
    free(self);
    *self_p = NULL;
}

void gw_exchange_done(gw_exchange_t **self_p, int status)
{
    gw_exchange_t *self = *self_p;
    double seconds = (double)(zclock_usecs() - self->started_us) / 1e6;
    gw_metrics_record(self->metrics, self->route, status, seconds);
    free(self);
    *self_p = NULL;
}

void gw_exchange_send_json(gw_exchange_t **self_p, int status, json_t *body)
{
    size_t size = 0;
    char *text = body ? gw_json_dump(body, &size) : NULL;
    json_decref(body);
    if (!text) {
        static const char failed[] = "{\"type\":\"/problems/internal\",\"title\":\"Internal "
                                     "Server Error\",\"status\":500,\"code\":\"internal\"}";
        gw_exchange_send(self_p, 500, "application/problem+json", failed, sizeof failed - 1);
        return;
    }
    gw_exchange_send(self_p, status, "application/json", text, size);
    free(text);
}

const char *gw_status_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    default:
        return "Unknown";
    }
}
