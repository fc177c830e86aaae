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
    gw_follower_restart_fn *restart;
    void *arg;
};

static void s_progress(gw_follower_t *self)
{
    if (self->progress)
        self->progress(self->arg, rp_feed_cursor(self->feed));
}

//  Another journal answers: start over in it from seq 1, as a restarted
//  gateway would (follower.h).
static void s_restart(gw_follower_t *self)
{
    rp_warn("gateway: %s; starting over: user keys, cached reads and callers' seqs are "
            "folded again from the new journal's seq 1",
            rp_feed_foreign(self->feed));
    rp_feed_reset(self->feed, 0);
    self->synced = self->tried = self->signs = false;
    if (self->restart)
        self->restart(self->arg);
    s_progress(self);                        //  not synced: keys wait for the replay
    event_active(self->tick, EV_TIMEOUT, 0); //  which runs at once
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
        if (rc == RP_FEED_FOREIGN) {
            s_restart(self);
            return;
        }
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
        int rc = rp_feed_sync(self->feed);
        if (rc == RP_FEED_FOREIGN)
            s_restart(self);
        if (rc)
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
    rp_feed_set_journal(feed, ""); //  the first journal that answers
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

void gw_follower_on_restart(gw_follower_t *self, gw_follower_restart_fn *restart)
{
    self->restart = restart;
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
    int restarts;
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

static void s_test_restart(void *arg)
{
    test_log_t *log = (test_log_t *)arg;
    assert(log->progress == 6); //  before the cursor goes back
    log->restarts++;
    log->count = 0;
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
    rp_testbroker_set_journal(broker, "j1");
    for (int i = 0; i < 3; i++) //  in the journal before the gateway starts
        rp_testbroker_append(broker, "user.created", false);
    struct event_base *base = event_base_new();
    test_log_t *log = (test_log_t *)zmalloc(sizeof *log);
    gw_follower_t *follower =
        gw_follower_new(base, rp_testbroker_feed(broker), rp_testbroker_endpoint(broker), s_test_fn,
                        log, s_test_progress);
    assert(follower && !gw_follower_synced(follower));
    gw_follower_on_restart(follower, s_test_restart);

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

    //  Another journal answers the replay a gap makes: the follower starts
    //  over from seq 1 in it, and is synced again once it has replayed.
    rp_testbroker_set_journal(broker, "j2");
    rp_testbroker_append(broker, "user.created", false); //  7, lost: 8 makes a gap
    rp_testbroker_append(broker, "user.created", true);
    int64_t end = zclock_mono() + 5000;
    while (!log->restarts && zclock_mono() < end)
        event_base_loop(base, EVLOOP_ONCE);
    assert(log->restarts == 1);
    s_test_until(base, follower, 8);
    assert(gw_follower_synced(follower) && log->count == 8 && log->progress == 8);
    for (size_t i = 0; i < log->count; i++)
        assert(log->seqs[i] == i + 1);

    gw_follower_destroy(&follower);
    assert(follower == NULL);
    event_base_free(base);
    free(log);
    rp_testbroker_destroy(&broker);
}
