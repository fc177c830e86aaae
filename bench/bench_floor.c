/*  bench_floor — the write path of DESIGN.md §2 with nothing else in it.

    Usage: bench_floor HTTP_PORT ROUTER_PORT FEED_PORT DIR

    Runs until SIGTERM, or until one of its processes ends. DIR/pids names
    them, a line each: broker, writer, gateway (for CPU time per request).

    Three processes, placed as Rapport's are:

    - a gateway: libevent's evhttp on 127.0.0.1:HTTP_PORT, a DEALER to the
      router and a SUB on the feed (Rapport's gateway follows the feed);
    - a broker: a ROUTER thread, and a journal thread that group-commits to
      LMDB with both of LMDB's syncs (as the real journal does) and
      publishes every committed event on a PUB socket;
    - one writer: a DEALER to the router and a SUB on the feed, with an
      LMDB store committed without sync (as service stores are).

    A POST travels gateway → router → writer → router → journal → commit →
    feed → writer → router → gateway. The writer sends a turn's new writes
    as one append and answers a write once it has both the append's seq and
    the event back from the feed, applied to its store — the real writer's
    rule. Every process runs under the scheduling policy Rapport's do
    (SCHED_BATCH unless RAPPORT_SCHED_POLICY says otherwise).

    What is left out is everything else: MDP framing and heartbeats,
    MessagePack, JSON, authentication, validation, indexes, idempotency
    keys, metrics. So what this serves is the most the design's hops and
    syncs allow on this machine; tools/bench_http.sh prints it beside the
    real POST.
*/
#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <lmdb.h>
#include <pthread.h>
#include <rapport/config.h>
#include <rapport/sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#define MAX_BODY   4096 //  a POST body larger than this is refused (413)
#define SLOTS      4096 //  requests in flight in the gateway (a power of 2)
#define BATCH      256  //  messages one turn takes from a socket
#define MAX_FRAMES 4096 //  frames the journal holds for one commit
#define REPLY_SIZE 573  //  the real customer answer's size
static const char *s_host = "tcp://127.0.0.1";

static void s_die(const char *what)
{
    fprintf(stderr, "bench_floor: %s: %s\n", what, errno ? strerror(errno) : "failed");
    exit(1);
}

//  The scheduling policy Rapport's processes run under (rapport/sched.h,
//  RAPPORT_SCHED_POLICY), so the floor is measured as they are.
static void s_sched(void)
{
    rp_config_t *config = rp_config_new("bench_floor");
    if (rp_sched_init(config))
        exit(2);
    rp_config_destroy(&config);
}

static void s_endpoint(char *buf, size_t size, const char *port)
{
    snprintf(buf, size, "%s:%s", s_host, port);
}

//  More frames follow the one just received?
static int s_more(void *socket)
{
    int more = 0;
    size_t size = sizeof more;
    zmq_getsockopt(socket, ZMQ_RCVMORE, &more, &size);
    return more;
}

//  Receive one frame into msg without waiting; 0, or -1 when there is none.
static int s_recv(void *socket, zmq_msg_t *msg, int flags)
{
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, socket, flags) >= 0)
        return 0;
    zmq_msg_close(msg);
    return -1;
}

static void s_send(void *socket, zmq_msg_t *msg, int more)
{
    if (zmq_msg_send(msg, socket, more ? ZMQ_SNDMORE : 0) < 0)
        s_die("send");
}

static void s_send_bytes(void *socket, const void *data, size_t size, int more)
{
    if (zmq_send(socket, data, size, more ? ZMQ_SNDMORE : 0) < 0)
        s_die("send");
}

//  Move the remaining frames of the message being received to another socket.
static void s_forward_rest(void *from, void *to)
{
    while (s_more(from)) {
        zmq_msg_t frame;
        if (s_recv(from, &frame, 0))
            s_die("receive");
        s_send(to, &frame, s_more(from));
    }
}

static void s_skip_rest(void *socket)
{
    while (s_more(socket)) {
        zmq_msg_t frame;
        if (s_recv(socket, &frame, 0) == 0)
            zmq_msg_close(&frame);
    }
}

static MDB_env *s_env_open(const char *dir, unsigned flags)
{
    MDB_env *env;
    mkdir(dir, 0700);
    if (mdb_env_create(&env) || mdb_env_set_mapsize(env, (size_t)4 << 30) ||
        mdb_env_open(env, dir, flags, 0600))
        s_die(dir);
    return env;
}

// ---------------------------------------------------------------------------
//  Broker: the journal thread

typedef struct {
    void *ctx;
    MDB_env *env;
    const char *feed_endpoint;
} journal_t;

//  An append waiting for its commit: the writer's identity and tag, and
//  where its events start in the journal's frame array.
typedef struct {
    zmq_msg_t identity, tag;
    int first;
} journal_item_t;

static void *s_journal_run(void *arg)
{
    journal_t *self = arg;
    void *pipe = zmq_socket(self->ctx, ZMQ_PAIR);
    void *pub = zmq_socket(self->ctx, ZMQ_PUB);
    if (zmq_connect(pipe, "inproc://journal") || zmq_bind(pub, self->feed_endpoint))
        s_die("journal sockets");
    static zmq_msg_t events[MAX_FRAMES];
    static journal_item_t items[BATCH];
    uint64_t head = 0;
    MDB_dbi dbi;
    MDB_txn *txn;
    if (mdb_txn_begin(self->env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
        mdb_txn_commit(txn))
        s_die("journal dbi");
    while (1) {
        //  Idle for 100 ms: say the head, so a subscriber knows it is joined.
        zmq_pollitem_t ready = {pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&ready, 1, 100) == 0) {
            uint64_t seq = __builtin_bswap64(head);
            s_send_bytes(pub, "$head", 5, 1);
            s_send_bytes(pub, &seq, sizeof seq, 1);
            s_send_bytes(pub, NULL, 0, 0);
            continue;
        }
        //  Take the appends waiting: one commit. An append holds at most
        //  BATCH events (a writer's turn), so the next one always fits.
        int n = 0, frames = 0, flags = 0;
        while (n < BATCH && frames <= MAX_FRAMES - BATCH) {
            journal_item_t *item = &items[n];
            if (s_recv(pipe, &item->identity, flags))
                break;
            if (s_recv(pipe, &item->tag, 0))
                s_die("journal tag");
            item->first = frames;
            while (s_more(pipe) && frames < MAX_FRAMES)
                if (s_recv(pipe, &events[frames++], 0))
                    s_die("journal event");
            s_skip_rest(pipe);
            n++;
            flags = ZMQ_DONTWAIT;
        }
        if (mdb_txn_begin(self->env, NULL, 0, &txn))
            s_die("journal txn");
        for (int i = 0; i < frames; i++) {
            uint64_t seq = __builtin_bswap64(head + 1 + i);
            MDB_val key = {sizeof seq, &seq};
            MDB_val data = {zmq_msg_size(&events[i]), zmq_msg_data(&events[i])};
            if (mdb_put(txn, dbi, &key, &data, MDB_APPEND))
                s_die("journal put");
        }
        if (mdb_txn_commit(txn))
            s_die("journal commit");
        //  Committed and synced: publish, then answer each append.
        for (int i = 0; i < frames; i++) {
            uint64_t seq = __builtin_bswap64(head + 1 + i);
            s_send_bytes(pub, "ev", 2, 1);
            s_send_bytes(pub, &seq, sizeof seq, 1);
            s_send(pub, &events[i], 0);
        }
        for (int i = 0; i < n; i++) {
            uint64_t first = head + 1 + (uint64_t)items[i].first;
            s_send(pipe, &items[i].identity, 1);
            s_send(pipe, &items[i].tag, 1);
            s_send_bytes(pipe, &first, sizeof first, 0);
        }
        head += (uint64_t)frames;
    }
    return NULL;
}

// ---------------------------------------------------------------------------
//  Broker: the router thread
//
//  From the gateway: [gateway, "G", id, body]   → writer [writer, "Q", gateway, id, body]
//  From the writer:  [writer, "W"]               (hello: the writer's identity)
//                    [writer, "A", tag, event…]  → journal
//                    [writer, "R", gateway, id, reply] → [gateway, id, reply]
//  From the journal: [writer, tag, first_seq]    → [writer, "S", tag, first_seq]

//  Route one message from the router socket; false if none was waiting.
static bool s_router_message(void *router, void *pipe, zmq_msg_t *writer)
{
    zmq_msg_t identity, kind;
    if (s_recv(router, &identity, ZMQ_DONTWAIT))
        return false;
    if (s_recv(router, &kind, 0))
        s_die("router kind");
    char k = zmq_msg_size(&kind) ? *(char *)zmq_msg_data(&kind) : 0;
    zmq_msg_close(&kind);
    if (k == 'W') {
        zmq_msg_copy(writer, &identity);
        zmq_msg_close(&identity);
    } else if (k == 'G' && zmq_msg_size(writer) == 0) { //  no writer: answered empty, a 503
        zmq_msg_t id;
        s_send(router, &identity, 1);
        if (s_recv(router, &id, 0))
            s_die("router id");
        s_skip_rest(router);
        s_send(router, &id, 1);
        s_send_bytes(router, NULL, 0, 0);
    } else if (k == 'G') {
        zmq_msg_t to;
        zmq_msg_init(&to);
        zmq_msg_copy(&to, writer);
        s_send(router, &to, 1);
        s_send_bytes(router, "Q", 1, 1);
        s_send(router, &identity, 1);
        s_forward_rest(router, router);
    } else if (k == 'A') {
        s_send(pipe, &identity, 1);
        s_forward_rest(router, pipe);
    } else if (k == 'R') {
        zmq_msg_close(&identity);
        s_forward_rest(router, router);
    } else {
        zmq_msg_close(&identity);
        s_skip_rest(router);
    }
    return true;
}

static void s_broker_run(const char *router_endpoint, const char *feed_endpoint, const char *dir)
{
    s_sched();
    void *ctx = zmq_ctx_new();
    void *router = zmq_socket(ctx, ZMQ_ROUTER);
    void *pipe = zmq_socket(ctx, ZMQ_PAIR);
    if (zmq_bind(router, router_endpoint) || zmq_bind(pipe, "inproc://journal"))
        s_die("broker sockets");
    journal_t journal = {ctx, s_env_open(dir, 0), feed_endpoint};
    pthread_t thread;
    pthread_create(&thread, NULL, s_journal_run, &journal);
    zmq_msg_t writer; //  its identity, empty until its hello
    zmq_msg_init(&writer);
    zmq_pollitem_t items[] = {{router, 0, ZMQ_POLLIN, 0}, {pipe, 0, ZMQ_POLLIN, 0}};
    while (1) {
        zmq_poll(items, 2, -1);
        for (int i = 0; i < BATCH && s_router_message(router, pipe, &writer); i++)
            ;
        for (int i = 0; i < BATCH; i++) {
            zmq_msg_t identity;
            if (s_recv(pipe, &identity, ZMQ_DONTWAIT))
                break;
            s_send(router, &identity, 1);
            s_send_bytes(router, "S", 1, 1);
            s_forward_rest(pipe, router);
        }
    }
}

// ---------------------------------------------------------------------------
//  Writer

//  A write between its request and its answer.
typedef struct {
    zmq_msg_t gateway, id;
    uint64_t seq; //  0 until the append's answer gives it
} write_t;

typedef struct {
    write_t writes[SLOTS];
    uint64_t head, tail;         //  writes [tail, head) are in flight, in append order
    uint64_t batch_first[SLOTS]; //  by append tag: its first write
    uint64_t batch_count[SLOTS];
    uint64_t tags;
    uint64_t cursor; //  the last seq applied to the store
} writer_t;

static void s_writer_appended(writer_t *self, void *dealer)
{
    uint64_t tag, first;
    if (zmq_recv(dealer, &tag, sizeof tag, 0) != sizeof tag ||
        zmq_recv(dealer, &first, sizeof first, 0) != sizeof first)
        s_die("writer append answer");
    tag %= SLOTS;
    for (uint64_t i = 0; i < self->batch_count[tag]; i++)
        self->writes[(self->batch_first[tag] + i) % SLOTS].seq = first + i;
}

static void s_writer_apply(writer_t *self, void *sub, MDB_env *env, MDB_dbi dbi)
{
    MDB_txn *txn = NULL;
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t type, seq, event; //  ["ev", seq, event] or ["$head", seq, ""]
        if (s_recv(sub, &type, ZMQ_DONTWAIT))
            break;
        if (s_recv(sub, &seq, 0) || s_recv(sub, &event, 0) || zmq_msg_size(&seq) != 8)
            s_die("writer feed");
        if (zmq_msg_size(&type) != 2) { //  "$head"
            zmq_msg_close(&type);
            zmq_msg_close(&seq);
            zmq_msg_close(&event);
            continue;
        }
        if (!txn && mdb_txn_begin(env, NULL, 0, &txn))
            s_die("writer txn");
        MDB_val key = {zmq_msg_size(&seq), zmq_msg_data(&seq)};
        MDB_val data = {zmq_msg_size(&event), zmq_msg_data(&event)};
        if (mdb_put(txn, dbi, &key, &data, 0))
            s_die("writer put");
        uint64_t cursor;
        memcpy(&cursor, zmq_msg_data(&seq), sizeof cursor);
        self->cursor = __builtin_bswap64(cursor);
        zmq_msg_close(&type);
        zmq_msg_close(&seq);
        zmq_msg_close(&event);
    }
    if (txn && mdb_txn_commit(txn))
        s_die("writer commit");
}

static void s_writer_answer(writer_t *self, void *dealer)
{
    static char reply[REPLY_SIZE];
    while (self->tail < self->head) {
        write_t *write = &self->writes[self->tail % SLOTS];
        if (!write->seq || write->seq > self->cursor)
            break;
        s_send_bytes(dealer, "R", 1, 1);
        s_send(dealer, &write->gateway, 1);
        s_send(dealer, &write->id, 1);
        memset(reply, ' ', sizeof reply);
        snprintf(reply, sizeof reply, "{\"seq\":%llu}", (unsigned long long)write->seq);
        s_send_bytes(dealer, reply, sizeof reply, 0);
        self->tail++;
    }
}

//  Take the requests and append answers waiting; the turn's new writes go
//  out as one append, frames ["A", tag, body…].
static void s_writer_take(writer_t *self, void *dealer)
{
    static zmq_msg_t bodies[BATCH];
    int n = 0;
    uint64_t first = self->head;
    for (int i = 0; i < BATCH && self->head - self->tail < SLOTS - 1; i++) {
        zmq_msg_t kind;
        if (s_recv(dealer, &kind, ZMQ_DONTWAIT))
            break;
        char k = zmq_msg_size(&kind) ? *(char *)zmq_msg_data(&kind) : 0;
        zmq_msg_close(&kind);
        if (k == 'S')
            s_writer_appended(self, dealer);
        else if (k == 'Q') {
            write_t *write = &self->writes[self->head++ % SLOTS];
            write->seq = 0;
            if (s_recv(dealer, &write->gateway, 0) || s_recv(dealer, &write->id, 0) ||
                s_recv(dealer, &bodies[n++], 0))
                s_die("writer request");
        } else
            s_skip_rest(dealer);
    }
    if (n == 0)
        return;
    uint64_t tag = self->tags++ % SLOTS;
    self->batch_first[tag] = first;
    self->batch_count[tag] = (uint64_t)n;
    s_send_bytes(dealer, "A", 1, 1);
    s_send_bytes(dealer, &tag, sizeof tag, 1);
    for (int i = 0; i < n; i++)
        s_send(dealer, &bodies[i], i + 1 < n);
}

static void s_writer_run(const char *router_endpoint, const char *feed_endpoint, const char *dir)
{
    s_sched();
    void *ctx = zmq_ctx_new();
    void *dealer = zmq_socket(ctx, ZMQ_DEALER);
    void *sub = zmq_socket(ctx, ZMQ_SUB);
    if (zmq_connect(dealer, router_endpoint) || zmq_connect(sub, feed_endpoint) ||
        zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0))
        s_die("writer sockets");
    //  A PUB drops what it sends before the subscription reaches it: say
    //  hello (and so get writes) only once the feed has said something.
    zmq_msg_t first;
    if (s_recv(sub, &first, 0))
        s_die("writer feed");
    zmq_msg_close(&first);
    s_skip_rest(sub);
    s_send_bytes(dealer, "W", 1, 0);
    MDB_env *env = s_env_open(dir, MDB_NOSYNC | MDB_WRITEMAP);
    MDB_dbi dbi;
    MDB_txn *txn;
    if (mdb_txn_begin(env, NULL, 0, &txn) || mdb_dbi_open(txn, NULL, 0, &dbi) ||
        mdb_txn_commit(txn))
        s_die("writer dbi");
    static writer_t self;
    zmq_pollitem_t items[] = {{dealer, 0, ZMQ_POLLIN, 0}, {sub, 0, ZMQ_POLLIN, 0}};
    while (1) {
        zmq_poll(items, 2, -1);
        s_writer_take(&self, dealer);
        s_writer_apply(&self, sub, env, dbi);
        s_writer_answer(&self, dealer);
    }
}

// ---------------------------------------------------------------------------
//  Gateway

typedef struct {
    void *dealer, *sub;
    struct event *drain;
    struct evbuffer *out;
    struct evhttp_request *slots[SLOTS];
    uint64_t next_id;
} gateway_t;

static void s_gateway_drain(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    gateway_t *self = arg;
    for (int i = 0; i < BATCH; i++) {
        uint64_t id;
        zmq_msg_t reply;
        if (zmq_recv(self->dealer, &id, sizeof id, ZMQ_DONTWAIT) != sizeof id)
            break;
        if (s_recv(self->dealer, &reply, 0))
            s_die("gateway reply");
        struct evhttp_request *req = self->slots[id % SLOTS];
        self->slots[id % SLOTS] = NULL;
        if (req && !zmq_msg_size(&reply))
            evhttp_send_error(req, 503, NULL);
        else if (req) {
            evbuffer_add(self->out, zmq_msg_data(&reply), zmq_msg_size(&reply));
            evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                              "application/json");
            evhttp_send_reply(req, 201, "Created", self->out);
        }
        zmq_msg_close(&reply);
    }
    for (int i = 0; i < BATCH; i++) { //  the feed: followed, as the real gateway does
        zmq_msg_t frame;
        if (s_recv(self->sub, &frame, ZMQ_DONTWAIT))
            break;
        zmq_msg_close(&frame);
        s_skip_rest(self->sub);
    }
}

static void s_gateway_post(struct evhttp_request *req, void *arg)
{
    gateway_t *self = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t size = evbuffer_get_length(in);
    char body[MAX_BODY];
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        evhttp_send_error(req, 405, NULL);
        return;
    }
    uint64_t id = self->next_id++;
    if (size > sizeof body || self->slots[id % SLOTS]) {
        evhttp_send_error(req, size > sizeof body ? 413 : 503, NULL);
        return;
    }
    evbuffer_remove(in, body, size);
    self->slots[id % SLOTS] = req;
    s_send_bytes(self->dealer, "G", 1, 1);
    s_send_bytes(self->dealer, &id, sizeof id, 1);
    s_send_bytes(self->dealer, body, size, 0);
    //  A send may take the socket's wake-up: drain in this loop turn.
    event_active(self->drain, EV_READ, 0);
}

static void s_gateway_run(const char *port, const char *router_endpoint, const char *feed_endpoint)
{
    s_sched();
    static gateway_t self;
    void *ctx = zmq_ctx_new();
    self.dealer = zmq_socket(ctx, ZMQ_DEALER);
    self.sub = zmq_socket(ctx, ZMQ_SUB);
    if (zmq_connect(self.dealer, router_endpoint) || zmq_connect(self.sub, feed_endpoint) ||
        zmq_setsockopt(self.sub, ZMQ_SUBSCRIBE, "", 0))
        s_die("gateway sockets");
    struct event_config *config = event_config_new();
    event_config_set_flag(config, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(config);
    event_config_free(config);
    struct evhttp *http = evhttp_new(base);
    if (evhttp_bind_socket(http, "127.0.0.1", (uint16_t)atoi(port)))
        s_die("gateway bind");
    evhttp_set_gencb(http, s_gateway_post, &self);
    self.out = evbuffer_new();
    int fd;
    size_t size = sizeof fd;
    self.drain = event_new(base, -1, 0, s_gateway_drain, &self);
    zmq_getsockopt(self.dealer, ZMQ_FD, &fd, &size);
    event_add(event_new(base, fd, EV_READ | EV_PERSIST, s_gateway_drain, &self), NULL);
    zmq_getsockopt(self.sub, ZMQ_FD, &fd, &size);
    event_add(event_new(base, fd, EV_READ | EV_PERSIST, s_gateway_drain, &self), NULL);
    event_base_dispatch(base);
}

// ---------------------------------------------------------------------------

static pid_t s_children[3];

static void s_stop(int sig)
{
    (void)sig;
    for (int i = 0; i < 3; i++)
        if (s_children[i] > 0)
            kill(s_children[i], SIGKILL);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_floor HTTP_PORT ROUTER_PORT FEED_PORT DIR\n");
        return 2;
    }
    char router[64], feed[64], journal_dir[512], store_dir[512];
    s_endpoint(router, sizeof router, argv[2]);
    s_endpoint(feed, sizeof feed, argv[3]);
    mkdir(argv[4], 0700);
    snprintf(journal_dir, sizeof journal_dir, "%s/journal", argv[4]);
    snprintf(store_dir, sizeof store_dir, "%s/store", argv[4]);
    signal(SIGTERM, s_stop);
    signal(SIGINT, s_stop);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid < 0)
            s_die("fork");
        if (pid == 0) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            if (i == 0)
                s_broker_run(router, feed, journal_dir);
            else if (i == 1)
                s_writer_run(router, feed, store_dir);
            else
                s_gateway_run(argv[1], router, feed);
            return 0;
        }
        s_children[i] = pid;
    }
    char pids[512];
    snprintf(pids, sizeof pids, "%s/pids", argv[4]);
    FILE *file = fopen(pids, "w");
    if (!file)
        s_die(pids);
    fprintf(file, "%d\n%d\n%d\n", s_children[0], s_children[1], s_children[2]);
    fclose(file);
    //  One process ending ends them all.
    int status;
    while (wait(&status) < 0 && errno == EINTR)
        ;
    s_stop(0);
    while (wait(&status) > 0 || errno == EINTR)
        ;
    return 0;
}
