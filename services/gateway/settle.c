/*  settle.c — see settle.h. */
#include "settle.h"

#include <czmq.h>

#define SETTLE_TICK_MS 50

//  A write answered by the service, waiting for the feed.
typedef struct {
    gw_exchange_t *ex;
    int status;
    json_t *body;
    uint64_t seq;
    int64_t deadline; //  zclock_mono ms
} waiter_t;

struct _gw_settle_t {
    zlistx_t *waiters; //  waiter_t, oldest first
    struct event *timer;
    uint64_t cursor; //  the feed's, as last told
};

static void s_waiter_send(waiter_t *waiter)
{
    gw_exchange_send_json(&waiter->ex, waiter->status, waiter->body);
    free(waiter);
}

//  Answer the waiters the cursor covers, and those out of time (now_ms < 0: all).
static void s_settle(gw_settle_t *self, int64_t now_ms)
{
    waiter_t *waiter = (waiter_t *)zlistx_first(self->waiters);
    while (waiter) {
        if (now_ms < 0 || waiter->seq <= self->cursor || now_ms >= waiter->deadline) {
            zlistx_delete(self->waiters, zlistx_cursor(self->waiters));
            s_waiter_send(waiter);
            waiter = (waiter_t *)zlistx_first(self->waiters); //  the cursor is gone
        } else
            waiter = (waiter_t *)zlistx_next(self->waiters);
    }
}

static void s_tick_add(gw_settle_t *self)
{
    struct timeval tick = {0, SETTLE_TICK_MS * 1000};
    evtimer_add(self->timer, &tick);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_settle_t *self = (gw_settle_t *)arg;
    s_settle(self, zclock_mono());
    if (zlistx_size(self->waiters))
        s_tick_add(self);
}

gw_settle_t *gw_settle_new(struct event_base *base)
{
    gw_settle_t *self = (gw_settle_t *)zmalloc(sizeof *self);
    self->waiters = zlistx_new();
    self->timer = base ? evtimer_new(base, s_on_tick, self) : NULL;
    return self;
}

void gw_settle_flush(gw_settle_t *self)
{
    s_settle(self, -1);
}

void gw_settle_destroy(gw_settle_t **self_p)
{
    gw_settle_t *self = *self_p;
    if (!self)
        return;
    gw_settle_flush(self);
    zlistx_destroy(&self->waiters);
    if (self->timer)
        event_free(self->timer);
    free(self);
    *self_p = NULL;
}

void gw_settle_progress(gw_settle_t *self, uint64_t cursor)
{
    self->cursor = cursor;
    if (zlistx_size(self->waiters))
        s_settle(self, zclock_mono());
}

void gw_settle_send(gw_settle_t *self, gw_exchange_t **ex_p, int status, json_t *body, uint64_t seq)
{
    if (!self->timer || seq <= self->cursor) {
        gw_exchange_send_json(ex_p, status, body);
        return;
    }
    waiter_t *waiter = (waiter_t *)zmalloc(sizeof *waiter);
    waiter->ex = *ex_p;
    *ex_p = NULL;
    waiter->status = status;
    waiter->body = body;
    waiter->seq = seq;
    waiter->deadline = zclock_mono() + GW_SETTLE_MS;
    zlistx_add_end(self->waiters, waiter);
    if (!evtimer_pending(self->timer, NULL))
        s_tick_add(self);
}

//  ---------------------------------------------------------------------
//  Self-test: answers held for the feed, and let go by it, by time, at a stop.

//  How many answers the metrics counted (requests nobody sent: without a
//  connection evhttp_send_reply just frees them, and the exchange counts).
static int s_test_answered(gw_metrics_t *metrics)
{
    size_t size;
    char *text = gw_metrics_render(metrics, &size);
    int count = 0;
    const char *line =
        strstr(text, "rapport_http_requests_total{route=\"unmatched\",status=\"200\"} ");
    if (line)
        count = atoi(strchr(line, '}') + 2);
    free(text);
    return count;
}

static gw_exchange_t *s_test_exchange(gw_metrics_t *metrics)
{
    return gw_exchange_new(evhttp_request_new(NULL, NULL), metrics);
}

void gw_settle_test(void)
{
    struct event_base *base = event_base_new();
    gw_metrics_t *metrics = gw_metrics_new();
    gw_settle_t *self = gw_settle_new(base);
    gw_exchange_t *ex = s_test_exchange(metrics);
    gw_settle_progress(self, 5);
    gw_settle_send(self, &ex, 200, json_object(), 4); //  the feed has it: at once
    assert(!ex && s_test_answered(metrics) == 1);
    for (uint64_t seq = 7; seq <= 9; seq += 2) {
        ex = s_test_exchange(metrics);
        gw_settle_send(self, &ex, 200, json_object(), seq);
        assert(!ex);
    }
    assert(s_test_answered(metrics) == 1);
    gw_settle_progress(self, 8); //  covers seq 7 only
    assert(s_test_answered(metrics) == 2);
    int64_t start = zclock_mono(); //  seq 9 goes out by time
    while (s_test_answered(metrics) < 3 && zclock_mono() - start < GW_SETTLE_MS * 3)
        event_base_loop(base, EVLOOP_ONCE);
    assert(s_test_answered(metrics) == 3 && zclock_mono() - start >= GW_SETTLE_MS - 100);
    ex = s_test_exchange(metrics); //  and at a stop, every one
    gw_settle_send(self, &ex, 200, json_object(), 99);
    assert(s_test_answered(metrics) == 3);
    gw_settle_destroy(&self);
    assert(!self && s_test_answered(metrics) == 4);
    gw_metrics_destroy(&metrics);
    event_base_free(base);
}
