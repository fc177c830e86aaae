/*  upstream.c — see upstream.h. */
#include "upstream.h"

#include <assert.h>
#include <czmq.h>
#include <rapport/log.h>

typedef struct {
    gw_upstream_fn *fn;
    void *arg;
    char service[128]; //  for the observer (a longer name is not observed)
} call_t;

struct _gw_upstream_t {
    rp_client_t *client;
    struct event *readable; //  on ZMQ_FD
    struct event *timer;    //  at the earliest deadline
    zhashx_t *calls;        //  id (decimal) → call_t
    gw_upstream_observe_fn *observe;
    void *observe_arg;
};

static void s_id_key(uint64_t id, char key[24])
{
    snprintf(key, 24, "%" PRIu64, id);
}

static void s_schedule(gw_upstream_t *self)
{
    int timeout = rp_client_next_timeout(self->client);
    if (timeout < 0) {
        evtimer_del(self->timer);
        return;
    }
    struct timeval tv = {timeout / 1000, (timeout % 1000) * 1000};
    evtimer_add(self->timer, &tv);
}

//  Hand every reply that is ready to its caller.
static void s_drain(gw_upstream_t *self)
{
    rp_reply_t reply;
    rp_doc_t *doc;
    while ((doc = rp_client_recv(self->client, &reply, 0))) {
        uint64_t id = 0;
        char key[24];
        rp_obj_u64(reply.id, &id); //  the client hands out only replies to our ids
        s_id_key(id, key);
        call_t *call = self->calls ? (call_t *)zhashx_lookup(self->calls, key) : NULL;
        if (call) {
            call_t copy = *call;
            zhashx_delete(self->calls, key); //  before the callback, which may send
            if (self->observe && copy.service[0])
                self->observe(self->observe_arg, copy.service, &reply);
            copy.fn(copy.arg, &reply, rp_doc_root(doc));
        }
        rp_doc_destroy(&doc);
    }
    s_schedule(self);
}

static void s_on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_drain((gw_upstream_t *)arg);
}

gw_upstream_t *gw_upstream_new(struct event_base *base, const char *endpoint)
{
    rp_client_t *client = rp_client_new(endpoint);
    if (!client)
        return NULL;
    gw_upstream_t *self = (gw_upstream_t *)zmalloc(sizeof *self);
    self->client = client;
    self->calls = zhashx_new();
    zhashx_set_destructor(self->calls, (zhashx_destructor_fn *)zstr_free);
    evutil_socket_t fd = (evutil_socket_t)zsock_fd(rp_client_sock(client));
    self->readable = event_new(base, fd, EV_READ | EV_PERSIST, s_on_event, self);
    self->timer = evtimer_new(base, s_on_event, self);
    assert(self->readable && self->timer);
    event_add(self->readable, NULL);
    return self;
}

void gw_upstream_close(gw_upstream_t *self)
{
    if (!self->calls)
        return;
    //  Detach the table first: callbacks may not send any more.
    zhashx_t *calls = self->calls;
    self->calls = NULL;
    rp_reply_t reply = {.status = 503,
                        .error_code = "shutting_down",
                        .error_code_len = 13,
                        .error_message = "the gateway is stopping",
                        .error_message_len = 23};
    for (call_t *call = (call_t *)zhashx_first(calls); call; call = (call_t *)zhashx_next(calls))
        call->fn(call->arg, &reply, NULL);
    zhashx_destroy(&calls);
}

void gw_upstream_destroy(gw_upstream_t **self_p)
{
    gw_upstream_t *self = *self_p;
    if (!self)
        return;
    gw_upstream_close(self);
    event_free(self->readable);
    event_free(self->timer);
    rp_client_destroy(&self->client);
    free(self);
    *self_p = NULL;
}

uint64_t gw_upstream_next_id(gw_upstream_t *self)
{
    return rp_client_next_id(self->client);
}

int gw_upstream_send(gw_upstream_t *self, const char *service, uint64_t id, const void *body,
                     size_t size, int timeout_ms, gw_upstream_fn *fn, void *arg)
{
    if (!self->calls)
        return -1; //  stopping
    //  The socket queues while the broker is away (up to its high-water
    //  mark, where the send would wait up to timeout_ms: a known limit).
    if (rp_client_send(self->client, service, id, body, size, timeout_ms))
        return -1;
    call_t *call = (call_t *)zmalloc(sizeof *call);
    call->fn = fn;
    call->arg = arg;
    if (strlen(service) < sizeof call->service)
        strcpy(call->service, service);
    char key[24];
    s_id_key(id, key);
    zhashx_insert(self->calls, key, call);
    //  Wake up once: the send may have swallowed the edge of a reply.
    event_active(self->readable, EV_READ, 0);
    s_schedule(self);
    return 0;
}

void gw_upstream_observe(gw_upstream_t *self, gw_upstream_observe_fn *fn, void *arg)
{
    self->observe = fn;
    self->observe_arg = arg;
}

size_t gw_upstream_pending(gw_upstream_t *self)
{
    return self->calls ? zhashx_size(self->calls) : 0;
}
