/*  follower.c — see follower.h. */
#include "follower.h"

#include <assert.h>
#include <inttypes.h>
#include <rapport/log.h>

#define FOLLOWER_BATCH   1000 //  messages per wake-up before yielding to HTTP
#define FOLLOWER_TICK_MS 1000

struct _gw_follower_t {
    rp_feed_t *feed;
    struct event *readable; //  on the SUB socket's ZMQ_FD
    struct event *tick;     //  first replay until it succeeds; safety drain
    bool synced;
    bool tried; //  a first replay was attempted
    bool signs; //  the feed delivered something since the last attempt
    gw_follower_progress_fn *progress;
    void *arg;
};

static void s_progress(gw_follower_t *self)
{
    if (self->progress)
        self->progress(self->arg, rp_feed_cursor(self->feed));
}

//  Take what the feed holds, up to a batch; come back for the rest.
static void s_drain(gw_follower_t *self)
{
    zsock_t *sub = rp_feed_sock(self->feed);
    if (!self->synced) {
        //  Fed events wait in the socket until the replay is done; reading
        //  ZMQ_EVENTS still clears the edge (else the fd stays readable
        //  and the loop spins), and notes that the broker is there.
        self->signs |= (zsock_events(sub) & ZMQ_POLLIN) != 0;
        return;
    }
    //  Receive until one finds nothing (rp_feed's receives do not block):
    //  that also clears the edge, and a message found costs no more.
    int count = 0;
    while (count < FOLLOWER_BATCH) {
        int rc = rp_feed_recv(self->feed);
        if (rp_feed_drained(self->feed))
            break;
        if (rc)
            rp_warn("gateway: feed delivery stopped at %" PRIu64 " (%d)",
                    rp_feed_cursor(self->feed), rc);
        count++;
    }
    if (count == FOLLOWER_BATCH)
        event_active(self->readable, EV_READ, 0);
    if (count)
        s_progress(self);
}

static void s_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_drain((gw_follower_t *)arg);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_follower_t *self = (gw_follower_t *)arg;
    if (!self->synced) {
        //  A replay blocks the loop up to GW_FOLLOWER_READ_MS when the
        //  broker is away: after a failed one, try again only once the feed
        //  shows the broker is back (it sends $head every second).
        self->signs |= (zsock_events(rp_feed_sock(self->feed)) & ZMQ_POLLIN) != 0;
        if (self->tried && !self->signs)
            return;
        self->tried = true;
        self->signs = false;
        if (rp_feed_sync(self->feed) != 0)
            return; //  logged by rp_feed; again at a later tick
        self->synced = true;
        rp_info("gateway: journal replayed to seq %" PRIu64 ", following the feed",
                rp_feed_cursor(self->feed));
        s_progress(self);
    }
    s_drain(self);
}

gw_follower_t *gw_follower_new(struct event_base *base, const char *feed_endpoint,
                               const char *broker_endpoint, rp_feed_fn *fn, void *arg,
                               gw_follower_progress_fn *progress)
{
    rp_feed_t *feed = rp_feed_new(feed_endpoint, broker_endpoint, 0, fn, arg);
    if (!feed)
        return NULL;
    rp_feed_set_timing(feed, RP_FEED_LAG_MS, GW_FOLLOWER_READ_MS);
    gw_follower_t *self = (gw_follower_t *)zmalloc(sizeof *self);
    self->feed = feed;
    self->progress = progress;
    self->arg = arg;
    evutil_socket_t sock = (evutil_socket_t)zsock_fd(rp_feed_sock(feed));
    self->readable = event_new(base, sock, EV_READ | EV_PERSIST, s_on_readable, self);
    self->tick = event_new(base, -1, EV_PERSIST, s_on_tick, self);
    assert(self->readable && self->tick);
    event_add(self->readable, NULL);
    struct timeval tick = {FOLLOWER_TICK_MS / 1000, (FOLLOWER_TICK_MS % 1000) * 1000};
    event_add(self->tick, &tick);
    event_active(self->tick, EV_TIMEOUT, 0); //  the first replay, as soon as the loop runs
    return self;
}

void gw_follower_destroy(gw_follower_t **self_p)
{
    gw_follower_t *self = *self_p;
    if (!self)
        return;
    event_free(self->readable);
    event_free(self->tick);
    rp_feed_destroy(&self->feed);
    free(self);
    *self_p = NULL;
}

bool gw_follower_synced(gw_follower_t *self)
{
    return self->synced;
}

uint64_t gw_follower_cursor(gw_follower_t *self)
{
    return rp_feed_cursor(self->feed);
}

//  ---------------------------------------------------------------------
//  Self-test, against rp_testbroker's journal and feed.

#include <rapport/testbroker.h>

typedef struct {
    uint64_t seqs[64];
    size_t count;
    uint64_t progress;
} test_log_t;

static int s_test_fn(void *arg, uint64_t seq, const char *type, size_t type_len,
                     const uint8_t *event, size_t size)
{
    (void)type, (void)type_len, (void)event, (void)size;
    test_log_t *log = (test_log_t *)arg;
    assert(log->count < 64);
    log->seqs[log->count++] = seq;
    return 0;
}

static void s_test_progress(void *arg, uint64_t cursor)
{
    ((test_log_t *)arg)->progress = cursor;
}

//  Run the loop until the follower reaches seq (or 5 s pass: the tick
//  wakes the loop every second, so each turn is bounded).
static void s_test_until(struct event_base *base, gw_follower_t *self, uint64_t seq)
{
    int64_t end = zclock_mono() + 5000;
    while (gw_follower_cursor(self) < seq && zclock_mono() < end)
        event_base_loop(base, EVLOOP_ONCE);
}

void gw_follower_test(void)
{
    rp_testbroker_t *broker = rp_testbroker_new();
    for (int i = 0; i < 3; i++) //  in the journal before the gateway starts
        rp_testbroker_append(broker, "user.created", false);
    struct event_base *base = event_base_new();
    test_log_t *log = (test_log_t *)zmalloc(sizeof *log);
    gw_follower_t *follower =
        gw_follower_new(base, rp_testbroker_feed(broker), rp_testbroker_endpoint(broker), s_test_fn,
                        log, s_test_progress);
    assert(follower && !gw_follower_synced(follower));

    //  The replay from seq 1, at the first turn of the loop.
    s_test_until(base, follower, 3);
    assert(gw_follower_synced(follower) && log->count == 3 && log->progress == 3);

    //  Then the feed, through ZMQ_FD in the loop; a lost message (5) is
    //  found by the gap and replayed; every seq once, in order.
    assert(rp_testbroker_wait_subscribers(broker, 1, 5000));
    rp_testbroker_append(broker, "customer.created", true);
    rp_testbroker_append(broker, "user.updated", false);
    rp_testbroker_append(broker, "user.revoked", true);
    rp_testbroker_publish(broker, 4); //  a duplicate
    s_test_until(base, follower, 6);
    assert(log->count == 6 && log->progress == 6);
    for (size_t i = 0; i < log->count; i++)
        assert(log->seqs[i] == i + 1);

    gw_follower_destroy(&follower);
    assert(follower == NULL);
    event_base_free(base);
    free(log);
    rp_testbroker_destroy(&broker);
}
