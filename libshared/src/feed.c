/*  feed.c — the journal feed: exactly once, in order, with Clone-style
    replay through journal.read.
*/
#include <rapport/feed.h>
#include <rapport/journal.h>
#include <rapport/log.h>
#include <rapport/mdp.h>

#include <assert.h>
#include <inttypes.h>
#include <string.h>

struct _rp_feed_t {
    zsock_t *sub;
    rp_client_t *client;
    rp_feed_fn *fn;
    void *arg;
    uint64_t cursor;
    uint64_t head;
    bool drained;        //  the last rp_feed_recv found nothing waiting
    int64_t progress_at; //  last delivery or replay (zclock_mono ms)
    int lag_ms, timeout_ms;
    rp_packer_t packer; //  re-packs replayed events
    bool checking;      //  rp_feed_set_journal was called
    char journal[RP_FEED_JOURNAL_MAX + 1];
    char foreign[200]; //  why the journal is refused, "" while it is not
    char logged[200];  //  the last reason logged
};

rp_feed_t *rp_feed_new(const char *feed_endpoint, const char *broker_endpoint, uint64_t cursor,
                       rp_feed_fn *fn, void *arg)
{
    rp_feed_t *self = calloc(1, sizeof *self);
    assert(self);
    //  Subscribe first (Clone order): what is committed during the replay
    //  queues here and is then dropped as seq ≤ cursor.
    self->sub = zsock_new(ZMQ_SUB);
    assert(self->sub);
    zsock_set_maxmsgsize(self->sub, MDP_MESSAGE_MAX + 65536);
    zsock_set_rcvhwm(self->sub, 100000);
    zsock_set_subscribe(self->sub, "");
    //  Receives never block: an empty receive costs what asking
    //  ZMQ_EVENTS costs (one look at the mailbox), a full one nothing more.
    zsock_set_rcvtimeo(self->sub, 0);
    self->client = rp_client_new(broker_endpoint);
    if (!self->client || zsock_connect(self->sub, "%s", feed_endpoint)) {
        rp_error("feed: cannot connect to %s / %s", feed_endpoint, broker_endpoint);
        rp_feed_destroy(&self);
        return NULL;
    }
    self->fn = fn;
    self->arg = arg;
    self->cursor = self->head = cursor;
    self->progress_at = zclock_mono();
    self->lag_ms = RP_FEED_LAG_MS;
    self->timeout_ms = RP_FEED_TIMEOUT_MS;
    rp_packer_init(&self->packer);
    return self;
}

void rp_feed_destroy(rp_feed_t **self_p)
{
    rp_feed_t *self = *self_p;
    if (!self)
        return;
    zsock_destroy(&self->sub);
    rp_client_destroy(&self->client);
    rp_packer_destroy(&self->packer);
    free(self);
    *self_p = NULL;
}

zsock_t *rp_feed_sock(rp_feed_t *self)
{
    return self->sub;
}

uint64_t rp_feed_cursor(rp_feed_t *self)
{
    return self->cursor;
}

uint64_t rp_feed_head(rp_feed_t *self)
{
    return self->head;
}

void rp_feed_set_timing(rp_feed_t *self, int lag_ms, int timeout_ms)
{
    self->lag_ms = lag_ms;
    self->timeout_ms = timeout_ms;
}

void rp_feed_set_journal(rp_feed_t *self, const char *id)
{
    self->checking = true;
    snprintf(self->journal, sizeof self->journal, "%s", id ? id : "");
}

const char *rp_feed_journal(rp_feed_t *self)
{
    return self->journal;
}

const char *rp_feed_foreign(rp_feed_t *self)
{
    return self->foreign[0] ? self->foreign : NULL;
}

void rp_feed_reset(rp_feed_t *self, uint64_t cursor)
{
    self->cursor = self->head = cursor;
    self->journal[0] = self->foreign[0] = 0;
    self->progress_at = zclock_mono();
}

//  Is the journal that answered (its id, "" if it gave none, and head) the
//  one the cursor counts in? Refuse it once, loudly, if not.
static bool s_same_journal(rp_feed_t *self, const char *id, size_t len, uint64_t head)
{
    if (!self->checking)
        return true;
    if (len > RP_FEED_JOURNAL_MAX)
        len = RP_FEED_JOURNAL_MAX;
    if (!self->journal[0] && len) {
        memcpy(self->journal, id, len); //  the first journal seen is ours
        self->journal[len] = 0;
    }
    if (len && (strlen(self->journal) != len || memcmp(self->journal, id, len) != 0))
        snprintf(self->foreign, sizeof self->foreign,
                 "the journal is %.*s, not %s, which the cursor %" PRIu64 " counts in", (int)len,
                 id, self->journal, self->cursor);
    else if (head < self->cursor)
        snprintf(self->foreign, sizeof self->foreign,
                 "the journal's head %" PRIu64 " is behind the cursor %" PRIu64 ": it lost events",
                 head, self->cursor);
    else
        return true;
    if (strcmp(self->foreign, self->logged)) //  once, not at every retry
        rp_error("feed: %s; delivering nothing until the journal is back or rebuilt",
                 self->foreign);
    memcpy(self->logged, self->foreign, sizeof self->logged);
    return false;
}

//  Give the next event to fn; the cursor moves only if fn took it.
static int s_deliver(rp_feed_t *self, uint64_t seq, const char *type, size_t type_len,
                     const uint8_t *event, size_t size)
{
    assert(seq == self->cursor + 1);
    int rc = self->fn(self->arg, seq, type, type_len, event, size);
    if (rc == 0) {
        self->cursor = seq;
        if (seq > self->head)
            self->head = seq;
        self->progress_at = zclock_mono();
    }
    return rc;
}

//  Deliver one replayed event (a map with seq and type).
static int s_replay_event(rp_feed_t *self, const msgpack_object *event)
{
    uint64_t seq = 0;
    const char *type;
    size_t type_len;
    if (!rp_obj_u64(rp_obj_get(event, "seq"), &seq) ||
        !rp_obj_str(rp_obj_get(event, "type"), &type, &type_len) || type_len == 0 ||
        type_len > RP_MAX_TYPE) {
        rp_error("feed: journal.read returned an event without seq or type");
        return -1;
    }
    if (seq <= self->cursor)
        return 0;
    if (seq != self->cursor + 1) {
        rp_error("feed: journal.read skipped from %" PRIu64 " to %" PRIu64, self->cursor, seq);
        return -1;
    }
    rp_packer_reset(&self->packer);
    msgpack_pack_object(&self->packer.pk, *event);
    return s_deliver(self, seq, type, type_len, (const uint8_t *)self->packer.buffer.data,
                     self->packer.buffer.size);
}

//  Replay cursor+1 … head through journal.read, page by page.
static int s_replay(rp_feed_t *self)
{
    while (true) {
        rp_reply_t reply;
        rp_doc_t *doc = rp_journal_read(self->client, self->cursor + 1, RP_JOURNAL_READ_MAX,
                                        self->timeout_ms, &reply);
        const msgpack_object *events;
        uint64_t head;
        if (!doc || !rp_journal_read_page(&reply, &events, &head)) {
            rp_warn("feed: journal.read from %" PRIu64 " failed: %d %.*s", self->cursor + 1,
                    doc ? reply.status : -1, doc ? (int)reply.error_code_len : 0,
                    doc && reply.error_code ? reply.error_code : "");
            rp_doc_destroy(&doc);
            return -1;
        }
        const char *id = "";
        size_t id_len = 0;
        rp_obj_str(rp_obj_get(reply.data, "journal"), &id, &id_len);
        if (!s_same_journal(self, id, id_len, head)) {
            rp_doc_destroy(&doc);
            return RP_FEED_FOREIGN;
        }
        if (head > self->head)
            self->head = head;
        int rc = 0;
        uint32_t count = events->via.array.size;
        for (uint32_t i = 0; i < count && rc == 0; i++)
            rc = s_replay_event(self, &events->via.array.ptr[i]);
        rp_doc_destroy(&doc);
        if (rc)
            return rc;
        self->progress_at = zclock_mono();
        if (count == 0 || self->cursor >= head)
            return 0;
    }
}

int rp_feed_sync(rp_feed_t *self)
{
    self->foreign[0] = 0; //  look again
    return s_replay(self);
}

//  ["$head", seq]: a lost tail shows as a head we never reached.
static int s_head(rp_feed_t *self, uint64_t head)
{
    if (!s_same_journal(self, "", 0, head))
        return RP_FEED_FOREIGN;
    if (head > self->head)
        self->head = head;
    if (head > self->cursor && zclock_mono() - self->progress_at >= self->lag_ms) {
        rp_info("feed: head %" PRIu64 " beyond cursor %" PRIu64 ", replaying", head, self->cursor);
        return s_replay(self);
    }
    return 0;
}

//  [type, seq, event]: deliver the next one, drop duplicates, fill gaps.
//  [type, seq] (event NULL) is an event too large for the feed: replay
//  through it at once.
static int s_event(rp_feed_t *self, uint64_t seq, zframe_t *type, zframe_t *event)
{
    if (seq <= self->cursor)
        return 0;
    if (!event) {
        int rc = s_replay(self);
        return rc || seq <= self->cursor ? rc : -1; //  not reached: it will come again
    }
    if (seq > self->cursor + 1) {
        rp_info("feed: gap %" PRIu64 "..%" PRIu64 ", replaying", self->cursor + 1, seq - 1);
        int rc = s_replay(self);
        if (rc || seq <= self->cursor)
            return rc;
        if (seq > self->cursor + 1)
            return -1; //  the journal did not reach it: it will come again
    }
    return s_deliver(self, seq, (const char *)zframe_data(type), zframe_size(type),
                     zframe_data(event), zframe_size(event));
}

int rp_feed_handle(rp_feed_t *self, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return 0;
    if (self->foreign[0]) { //  nothing of that journal is delivered
        zmsg_destroy(&msg);
        return RP_FEED_FOREIGN;
    }
    zframe_t *type = zmsg_first(msg);
    zframe_t *seq = zmsg_next(msg);
    zframe_t *event = zmsg_next(msg);
    int rc = 0;
    if (!seq || zframe_size(seq) != 8)
        rp_warn("feed: dropped a malformed message");
    else if (zmsg_size(msg) == 2 && zframe_streq(type, "$head"))
        rc = s_head(self, rp_seq_get(zframe_data(seq)));
    else if ((zmsg_size(msg) == 3 || zmsg_size(msg) == 2) && zframe_size(type) > 0 &&
             zframe_size(type) <= RP_MAX_TYPE && *zframe_data(type) != '$')
        rc = s_event(self, rp_seq_get(zframe_data(seq)), type, event);
    else
        rp_warn("feed: dropped a malformed message");
    zmsg_destroy(&msg);
    return rc;
}

int rp_feed_recv(rp_feed_t *self)
{
    zmsg_t *msg = zmsg_recv(self->sub);
    self->drained = !msg;
    return rp_feed_handle(self, &msg);
}

bool rp_feed_drained(rp_feed_t *self)
{
    return self->drained;
}

//  ---------------------------------------------------------------------
//  Self-test, against rp_testbroker's journal and feed.

#include <rapport/testbroker.h>

typedef struct {
    uint64_t seqs[4096];
    size_t count;
    uint64_t refuse; //  fn refuses this seq once
} test_log_t;

static int s_test_fn(void *arg, uint64_t seq, const char *type, size_t type_len,
                     const uint8_t *event, size_t size)
{
    test_log_t *log = (test_log_t *)arg;
    if (seq == log->refuse) {
        log->refuse = 0;
        return 7;
    }
    //  The event is a whole map carrying its own seq and type.
    rp_doc_t *doc = rp_doc_new(event, size, NULL);
    rp_event_t parsed;
    assert(doc && rp_event_parse(rp_doc_root(doc), &parsed) == NULL);
    assert(parsed.seq == seq && parsed.type_len == type_len);
    assert(memcmp(parsed.type, type, type_len) == 0);
    rp_doc_destroy(&doc);
    assert(log->count < 4096);
    log->seqs[log->count++] = seq;
    return 0;
}

static bool s_test_readable(zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = {zsock_resolve(sock), 0, ZMQ_POLLIN, 0};
    return zmq_poll(&item, 1, timeout_ms) == 1;
}

//  Feed messages until the cursor reaches seq (or 5 s pass).
static void s_test_until(rp_feed_t *feed, uint64_t seq)
{
    int64_t end = zclock_mono() + 5000;
    while (rp_feed_cursor(feed) < seq && zclock_mono() < end)
        if (s_test_readable(rp_feed_sock(feed), 100))
            rp_feed_recv(feed);
}

//  Every seq from..to delivered once, in order.
static void s_test_check(test_log_t *log, uint64_t from, uint64_t to)
{
    assert(log->count == to - from + 1);
    for (size_t i = 0; i < log->count; i++)
        assert(log->seqs[i] == from + i);
}

void rp_feed_test(void)
{
    rp_testbroker_t *broker = rp_testbroker_new();
    for (int i = 0; i < 5; i++)
        rp_testbroker_append(broker, "order.placed", false);
    test_log_t *log = calloc(1, sizeof *log);
    assert(log);

    //  Join at cursor 2: subscribe, replay 3..5.
    rp_feed_t *feed =
        rp_feed_new(rp_testbroker_feed(broker), rp_testbroker_endpoint(broker), 2, s_test_fn, log);
    assert(feed);
    rp_feed_set_timing(feed, 0, 2000);
    assert(rp_testbroker_wait_subscribers(broker, 1, 5000));
    assert(rp_feed_sync(feed) == 0 && rp_feed_cursor(feed) == 5 && rp_feed_head(feed) == 5);

    //  In order from the feed, then a duplicate, then a dropped message
    //  (7) found by the gap at 8.
    rp_testbroker_append(broker, "lead.captured", true); //  6
    s_test_until(feed, 6);
    rp_testbroker_publish(broker, 5);
    rp_testbroker_append(broker, "order.placed", false); //  7, lost
    rp_testbroker_append(broker, "order.placed", true);  //  8
    s_test_until(feed, 8);
    rp_testbroker_publish(broker, 8);

    //  A lost tail (9, 10) found by $head.
    rp_testbroker_append(broker, "order.placed", false);
    rp_testbroker_append(broker, "order.placed", false);
    rp_testbroker_head(broker);
    s_test_until(feed, 10);

    //  fn refusing an event stops delivery there; it is offered again.
    log->refuse = 11;
    rp_testbroker_append(broker, "order.placed", true); //  11
    assert(s_test_readable(rp_feed_sock(feed), 5000));
    assert(rp_feed_recv(feed) == 7 && rp_feed_cursor(feed) == 10);
    rp_testbroker_append(broker, "order.placed", true); //  12: a gap now
    s_test_until(feed, 12);

    //  A long replay goes page by page.
    for (int i = 0; i < 2100; i++)
        rp_testbroker_append(broker, "payment.received", false);
    assert(rp_feed_sync(feed) == 0 && rp_feed_cursor(feed) == 2112);
    s_test_check(log, 3, 2112);

    //  Malformed feed messages are dropped.
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "order.placed");
    zmsg_addstr(msg, "short");
    zmsg_addstr(msg, "{}");
    int rc = rp_feed_handle(feed, &msg);
    assert(rc == 0 && !msg);
    msg = zmsg_new();
    zmsg_addstr(msg, "$head");
    rc = rp_feed_handle(feed, &msg);
    assert(rc == 0);
    assert(rp_feed_cursor(feed) == 2112);
    rp_feed_destroy(&feed);

    //  A journal that never answers: the replay fails and can be retried.
    zsock_t *silent = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(silent, "tcp://127.0.0.1:*");
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    feed = rp_feed_new(rp_testbroker_feed(broker), endpoint, 0, s_test_fn, log);
    rp_feed_set_timing(feed, 0, 100);
    assert(rp_feed_sync(feed) == -1 && rp_feed_cursor(feed) == 0);
    rp_feed_destroy(&feed);
    zsock_destroy(&silent);

    free(log);
    rp_testbroker_destroy(&broker);
}
