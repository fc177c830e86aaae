/*  feed.c — the journal's event feed (see feed.h).  */
#include "feed.h"

#include <rapport/log.h>
#include <rapport/pack.h>

#include <assert.h>
#include <czmq.h>
#include <limits.h>
#include <string.h>

struct _feed_t {
    zsock_t *pub;
    void *handle; //  the libzmq socket, for frame-by-frame sends
    char *endpoint;
    size_t inline_max;
};

int feed_hwm(const feed_bounds_t *bounds)
{
    size_t inline_max = bounds->inline_max ? bounds->inline_max : 1;
    size_t hwm = bounds->queue_bytes / inline_max;
    if (bounds->sndhwm > 0 && hwm > (size_t)bounds->sndhwm)
        hwm = (size_t)bounds->sndhwm;
    return hwm < 1 ? 1 : hwm > INT_MAX ? INT_MAX : (int)hwm;
}

feed_t *feed_new(const char *endpoint, const feed_bounds_t *bounds)
{
    zsock_t *pub = zsock_new(ZMQ_PUB);
    if (!pub)
        return NULL;
    //  libzmq bounds a subscriber's queue in messages; with every message
    //  at most inline_max bytes that is a bound in bytes too.
    zsock_set_sndhwm(pub, feed_hwm(bounds));
    zsock_set_linger(pub, 0); //  a slow subscriber must not hold up shutdown
    if (zsock_bind(pub, "%s", endpoint) < 0) {
        rp_error("journal: cannot bind feed on %s: %s", endpoint, zmq_strerror(zmq_errno()));
        zsock_destroy(&pub);
        return NULL;
    }
    feed_t *self = calloc(1, sizeof *self);
    assert(self);
    self->pub = pub;
    self->handle = zsock_resolve(pub);
    self->endpoint = zsock_last_endpoint(pub);
    self->inline_max = bounds->inline_max;
    rp_info("journal: feed queue %d messages per subscriber, events over %zu B by reference",
            feed_hwm(bounds), bounds->inline_max);
    return self;
}

void feed_destroy(feed_t **self_p)
{
    feed_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->pub);
    zstr_free(&self->endpoint);
    free(self);
    *self_p = NULL;
}

const char *feed_endpoint(feed_t *self)
{
    return self->endpoint ? self->endpoint : "?";
}

//  PUB never blocks: at the high-water mark libzmq drops the message for
//  that subscriber, which then recovers by replay. A large event goes as
//  [type, seq]: a consumer reads it from the journal at once.
void feed_publish(feed_t *self, const char *type, size_t type_len, uint64_t seq, const void *event,
                  size_t event_size)
{
    uint8_t be[8];
    rp_seq_put(be, seq);
    bool whole = event_size <= self->inline_max;
    zmq_send(self->handle, type, type_len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->handle, be, 8, whole ? ZMQ_SNDMORE | ZMQ_DONTWAIT : ZMQ_DONTWAIT);
    if (whole)
        zmq_send(self->handle, event, event_size, ZMQ_DONTWAIT);
}

void feed_head(feed_t *self, uint64_t head)
{
    uint8_t be[8];
    rp_seq_put(be, head);
    zmq_send(self->handle, "$head", 5, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(self->handle, be, 8, ZMQ_DONTWAIT);
}

//  ---------------------------------------------------------------------
//  Self-test

void feed_test(void)
{
    //  The high-water mark in messages from the bound in bytes.
    assert(feed_hwm(&(feed_bounds_t){100000, 64 << 20, 16 << 10}) == 4096);
    assert(feed_hwm(&(feed_bounds_t){1000, 64 << 20, 16 << 10}) == 1000);
    assert(feed_hwm(&(feed_bounds_t){0, 1, 16 << 10}) == 1);
    feed_t *feed = feed_new("tcp://127.0.0.1:*", &(feed_bounds_t){1000, 1 << 20, 100});
    assert(feed && strncmp(feed_endpoint(feed), "tcp://127.0.0.1:", 16) == 0);
    zsock_t *sub = zsock_new_sub(feed_endpoint(feed), "");
    assert(sub);
    zsock_set_rcvtimeo(sub, 100);
    //  Until the subscription has reached the PUB, messages are dropped:
    //  publish $head until one arrives (bounded).
    zmsg_t *msg = NULL;
    for (int attempt = 0; attempt < 100 && !msg; attempt++) {
        feed_head(feed, 7);
        msg = zmsg_recv(sub);
    }
    assert(msg && zmsg_size(msg) == 2 && zframe_streq(zmsg_first(msg), "$head"));
    assert(rp_seq_get(zframe_data(zmsg_last(msg))) == 7);
    zmsg_destroy(&msg);
    while ((msg = zmsg_recv(sub))) //  the extra $heads
        zmsg_destroy(&msg);
    feed_publish(feed, "order.placed", 12, 8, "\x80", 1);
    zsock_set_rcvtimeo(sub, 5000);
    msg = zmsg_recv(sub);
    assert(msg && zmsg_size(msg) == 3 && zframe_streq(zmsg_first(msg), "order.placed"));
    zframe_t *seq = zmsg_next(msg);
    assert(zframe_size(seq) == 8 && rp_seq_get(zframe_data(seq)) == 8);
    zmsg_destroy(&msg);
    //  Over inline_max: [type, seq] alone.
    char big[101] = {0};
    big[0] = (char)0x80;
    feed_publish(feed, "order.placed", 12, 9, big, 101);
    msg = zmsg_recv(sub);
    assert(msg && zmsg_size(msg) == 2 && zframe_streq(zmsg_first(msg), "order.placed"));
    assert(rp_seq_get(zframe_data(zmsg_last(msg))) == 9);
    zmsg_destroy(&msg);
    zsock_destroy(&sub);
    feed_destroy(&feed);
}
