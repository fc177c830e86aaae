/*  client.c — an asynchronous MDP client on one DEALER.

    Requests in flight live in a list sorted by deadline (so the next expiry
    is the head, and inserting with equal timeouts is O(1) from the tail)
    and in a hash by id (so a reply finds its request in O(1)). Replies
    ready for the caller but not yet returned (timeouts made up here, or
    replies to other requests that came during rp_client_call) wait in a
    FIFO.
*/
#include <rapport/client.h>
#include <rapport/log.h>
#include <rapport/mdp.h>

#include <assert.h>
#include <inttypes.h>
#include <string.h>

typedef struct {
    uint64_t id;
    int64_t deadline; //  zclock_mono ms
    int timeout_ms;
    void *handle; //  in self->by_deadline
} pending_t;

struct _rp_client_t {
    zsock_t *sock;
    uint64_t next_id;
    int sndtimeo;          //  last value set on the socket
    zlistx_t *by_deadline; //  pending_t, owned, soonest first
    zhashx_t *by_id;       //  "id" → pending_t, borrowed
    zlistx_t *ready;       //  rp_doc_t, owned, oldest first
};

static void s_pending_free(void **item)
{
    free(*item);
    *item = NULL;
}

static int s_pending_compare(const void *a, const void *b)
{
    int64_t x = ((const pending_t *)a)->deadline, y = ((const pending_t *)b)->deadline;
    return (x > y) - (x < y);
}

static void s_doc_free(void **item)
{
    rp_doc_destroy((rp_doc_t **)item);
}

rp_client_t *rp_client_new(const char *endpoint)
{
    rp_client_t *self = calloc(1, sizeof *self);
    assert(self);
    self->sock = zsock_new(ZMQ_DEALER);
    assert(self->sock);
    zsock_set_maxmsgsize(self->sock, RP_CLIENT_REPLY_MAX);
    //  Pipelining: let many requests queue before send blocks.
    zsock_set_sndhwm(self->sock, 100000);
    zsock_set_rcvhwm(self->sock, 100000);
    //  Receives do not block (s_next): one that finds nothing looks at the
    //  mailbox as ZMQ_EVENTS would, one that finds a reply costs nothing more.
    zsock_set_rcvtimeo(self->sock, 0);
    if (zsock_connect(self->sock, "%s", endpoint)) {
        rp_error("client: cannot connect to %s", endpoint);
        zsock_destroy(&self->sock);
        free(self);
        return NULL;
    }
    self->sndtimeo = -1;
    self->by_deadline = zlistx_new();
    zlistx_set_destructor(self->by_deadline, s_pending_free);
    zlistx_set_comparator(self->by_deadline, s_pending_compare);
    self->by_id = zhashx_new();
    self->ready = zlistx_new();
    zlistx_set_destructor(self->ready, s_doc_free);
    return self;
}

void rp_client_destroy(rp_client_t **self_p)
{
    rp_client_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->by_id);
    zlistx_destroy(&self->by_deadline);
    zlistx_destroy(&self->ready);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

zsock_t *rp_client_sock(rp_client_t *self)
{
    return self->sock;
}

uint64_t rp_client_next_id(rp_client_t *self)
{
    return ++self->next_id;
}

size_t rp_client_pending(rp_client_t *self)
{
    return zlistx_size(self->by_deadline);
}

static void s_id_key(uint64_t id, char key[24])
{
    snprintf(key, 24, "%" PRIu64, id);
}

int rp_client_send(rp_client_t *self, const char *service, uint64_t id, const void *body,
                   size_t size, int timeout_ms)
{
    size_t service_len = strlen(service);
    if (service_len == 0 || service_len > MDP_SERVICE_MAX || size > MDP_MESSAGE_MAX)
        return -1;
    char key[24];
    s_id_key(id, key);
    if (zhashx_lookup(self->by_id, key))
        return -1;
    if (timeout_ms <= 0)
        timeout_ms = RP_CLIENT_TIMEOUT;
    //  Sending blocks at the high-water mark: never longer than the deadline.
    if (self->sndtimeo != timeout_ms) {
        zsock_set_sndtimeo(self->sock, timeout_ms);
        self->sndtimeo = timeout_ms;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addmem(msg, service, service_len);
    zmsg_addmem(msg, body, size);
    if (zmsg_send(&msg, self->sock)) {
        zmsg_destroy(&msg);
        rp_warn("client: cannot send to %s: %s", service, zmq_strerror(zmq_errno()));
        return -1;
    }
    pending_t *pending = calloc(1, sizeof *pending);
    assert(pending);
    pending->id = id;
    pending->timeout_ms = timeout_ms;
    pending->deadline = zclock_mono() + timeout_ms;
    pending->handle = zlistx_insert(self->by_deadline, pending, false);
    zhashx_insert(self->by_id, key, pending);
    return 0;
}

//  Forget a request in flight.
static void s_pending_remove(rp_client_t *self, pending_t *pending)
{
    char key[24];
    s_id_key(pending->id, key);
    zhashx_delete(self->by_id, key);
    zlistx_delete(self->by_deadline, pending->handle);
}

//  The reply of a request whose deadline passed.
static rp_doc_t *s_timeout_reply(const pending_t *pending)
{
    msgpack_object id = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
    id.via.u64 = pending->id;
    char message[64];
    snprintf(message, sizeof message, "no reply within %d ms", pending->timeout_ms);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack_error(&packer.pk, &id, 504, "timeout", message);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&packer);
    return doc;
}

//  The timeout reply of the oldest expired request, or NULL.
static rp_doc_t *s_expire_one(rp_client_t *self, int64_t now, uint64_t *id)
{
    pending_t *first = (pending_t *)zlistx_first(self->by_deadline);
    if (!first || first->deadline > now)
        return NULL;
    rp_doc_t *doc = s_timeout_reply(first);
    *id = first->id;
    s_pending_remove(self, first);
    return doc;
}

//  Read one message from the socket; return it if it is a well-formed reply
//  to a request in flight (which is then forgotten), else drop it.
//  The next reply waiting, without blocking; *received says whether a
//  message was taken at all (NULL then means it was dropped).
static rp_doc_t *s_read_reply(rp_client_t *self, uint64_t *id, bool *received)
{
    zmsg_t *msg = zmsg_recv(self->sock);
    *received = msg != NULL;
    if (!msg)
        return NULL;
    rp_doc_t *doc = NULL;
    rp_reply_t reply = {0};
    zframe_t *empty = zmsg_first(msg);
    zframe_t *header = zmsg_next(msg);
    zmsg_next(msg); //  service
    zframe_t *body = zmsg_next(msg);
    const char *err = NULL;
    if (zmsg_size(msg) != 4 || zframe_size(empty) != 0 || !zframe_streq(header, MDPC_CLIENT))
        err = "not an MDPC01 reply";
    else
        doc = rp_doc_new(zframe_data(body), zframe_size(body), &err);
    if (doc && !err)
        err = rp_reply_parse(rp_doc_root(doc), &reply);
    if (!err && !rp_obj_u64(reply.id, id))
        err = "reply id is not one of ours";
    pending_t *pending = NULL;
    if (!err) {
        char key[24];
        s_id_key(*id, key);
        pending = (pending_t *)zhashx_lookup(self->by_id, key);
        if (!pending)
            err = "late or unknown reply id";
    }
    zmsg_destroy(&msg);
    if (err) {
        rp_debug("client: dropped reply: %s", err);
        rp_doc_destroy(&doc);
        return NULL;
    }
    s_pending_remove(self, pending);
    return doc;
}

//  Sleep until the socket may be readable or `until` (zclock_mono ms, -1
//  never); the caller has just found it empty.
static void s_wait(rp_client_t *self, int64_t until)
{
    long timeout = until < 0 ? -1 : (long)(until - zclock_mono());
    if (timeout < 0 && until >= 0)
        return;
    zmq_pollitem_t item = {zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0};
    zmq_poll(&item, 1, timeout);
}

static int64_t s_min_deadline(int64_t a, int64_t b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

//  The next reply from the socket or a passed deadline, waiting until `end`
//  (-1: for ever). Replies kept in self->ready are not looked at.
static rp_doc_t *s_next(rp_client_t *self, int64_t end, uint64_t *id)
{
    while (true) {
        int64_t now = zclock_mono();
        rp_doc_t *doc = s_expire_one(self, now, id);
        if (doc)
            return doc;
        bool received = false;
        doc = s_read_reply(self, id, &received);
        if (doc)
            return doc;
        if (received)
            continue; //  a reply dropped as late or malformed: look again
        pending_t *first = (pending_t *)zlistx_first(self->by_deadline);
        if (zsys_interrupted && end < 0 && !first)
            return NULL; //  nothing could ever come: do not block a dying process
        if (end >= 0 && now >= end)
            return NULL; //  the receive that found nothing was the last look
        s_wait(self, s_min_deadline(end, first ? first->deadline : -1));
    }
}

static rp_doc_t *s_parsed(rp_doc_t *doc, rp_reply_t *reply)
{
    if (doc) {
        const char *err = rp_reply_parse(rp_doc_root(doc), reply);
        assert(!err); //  checked when it was received or made
        (void)err;
    }
    return doc;
}

rp_doc_t *rp_client_recv(rp_client_t *self, rp_reply_t *reply, int timeout_ms)
{
    if (zlistx_size(self->ready))
        return s_parsed((rp_doc_t *)zlistx_detach(self->ready, NULL), reply);
    uint64_t id;
    int64_t end = timeout_ms < 0 ? -1 : zclock_mono() + timeout_ms;
    return s_parsed(s_next(self, end, &id), reply);
}

rp_doc_t *rp_client_call(rp_client_t *self, const char *service, uint64_t id, const void *body,
                         size_t size, int timeout_ms, rp_reply_t *reply)
{
    if (rp_client_send(self, service, id, body, size, timeout_ms))
        return NULL;
    //  Our own deadline ends the wait at the latest (with a made-up 504).
    while (true) {
        uint64_t got;
        rp_doc_t *doc = s_next(self, -1, &got);
        if (!doc)
            return NULL;
        if (got == id)
            return s_parsed(doc, reply);
        zlistx_add_end(self->ready, doc);
    }
}

bool rp_client_ready(rp_client_t *self)
{
    pending_t *first = (pending_t *)zlistx_first(self->by_deadline);
    return zlistx_size(self->ready) > 0 || (first && first->deadline <= zclock_mono());
}

int rp_client_next_timeout(rp_client_t *self)
{
    if (zlistx_size(self->ready))
        return 0;
    pending_t *first = (pending_t *)zlistx_first(self->by_deadline);
    if (!first)
        return -1;
    int64_t left = first->deadline - zclock_mono();
    return left < 0 ? 0 : (int)left;
}

//  ---------------------------------------------------------------------
//  Self-test: a ROUTER driven by hand stands in for the broker.

static size_t s_test_request(uint64_t id, rp_packer_t *packer)
{
    rp_packer_reset(packer);
    rp_request_pack(&packer->pk, id, "echo", 0, NULL, 0);
    return packer->buffer.size;
}

//  Receive one request on the router; return its id and keep its envelope.
static uint64_t s_test_serve(zsock_t *router, zframe_t **peer)
{
    zmsg_t *msg = zmsg_recv(router);
    assert(msg && zmsg_size(msg) == 5);
    *peer = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    assert(zframe_size(empty) == 0);
    zframe_destroy(&empty);
    char *header = zmsg_popstr(msg);
    assert(streq(header, MDPC_CLIENT));
    free(header);
    char *service = zmsg_popstr(msg);
    assert(streq(service, "echo"));
    free(service);
    zframe_t *body = zmsg_pop(msg);
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    assert(doc);
    rp_request_t req;
    assert(rp_request_parse(rp_doc_root(doc), &req) == NULL);
    uint64_t id;
    assert(rp_obj_u64(req.id, &id));
    rp_doc_destroy(&doc);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    return id;
}

static void s_test_answer(zsock_t *router, zframe_t *peer, uint64_t id, int status)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_object oid = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER};
    oid.via.u64 = id;
    rp_reply_pack(&packer.pk, &oid, status, id * 10, 0);
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, "echo");
    zmsg_addmem(msg, packer.buffer.data, packer.buffer.size);
    zmsg_send(&msg, router);
    rp_packer_destroy(&packer);
}

//  Answers every request with status 200, in arrival order.
static void s_test_echo(zsock_t *pipe, void *arg)
{
    (void)arg;
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(port > 0);
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "tcp://127.0.0.1:%d", port);
    zpoller_t *poller = zpoller_new(pipe, router, NULL);
    while (zpoller_wait(poller, -1) == router) {
        zframe_t *peer;
        uint64_t id = s_test_serve(router, &peer);
        s_test_answer(router, peer, id, 200);
        zframe_destroy(&peer);
    }
    zpoller_destroy(&poller);
    zsock_destroy(&router);
}

void rp_client_test(void)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert(router);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(port > 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    rp_client_t *client = rp_client_new(endpoint);
    assert(client);
    rp_packer_t packer;
    rp_packer_init(&packer);

    //  Pipelining: three requests in flight, answered out of order.
    uint64_t ids[3];
    for (int i = 0; i < 3; i++) {
        ids[i] = rp_client_next_id(client);
        size_t size = s_test_request(ids[i], &packer);
        int rc = rp_client_send(client, "echo", ids[i], packer.buffer.data, size, 5000);
        assert(rc == 0);
    }
    assert(rp_client_pending(client) == 3);
    //  The same id twice in flight is refused.
    int rc = rp_client_send(client, "echo", ids[0], packer.buffer.data, 1, 5000);
    assert(rc == -1);
    zframe_t *peer = NULL;
    for (int i = 0; i < 3; i++) {
        zframe_destroy(&peer);
        uint64_t served = s_test_serve(router, &peer);
        assert(served == ids[i]);
    }
    s_test_answer(router, peer, ids[2], 200);
    s_test_answer(router, peer, 999, 200); //  unknown: dropped
    //  Malformed replies are dropped: a wrong header, a bad body.
    const char *bad[][2] = {{"MDPC02", "\x80"}, {MDPC_CLIENT, "\xc1"}, {MDPC_CLIENT, "\x80"}};
    for (int i = 0; i < 3; i++) {
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
        zmsg_addmem(msg, "", 0);
        zmsg_addstr(msg, bad[i][0]);
        zmsg_addstr(msg, "echo");
        zmsg_addstr(msg, bad[i][1]);
        zmsg_send(&msg, router);
    }
    s_test_answer(router, peer, ids[0], 201);
    rp_reply_t reply;
    rp_doc_t *doc = rp_client_recv(client, &reply, 2000);
    uint64_t got;
    assert(doc && rp_obj_u64(reply.id, &got) && got == ids[2] && reply.status == 200);
    assert(reply.seq == ids[2] * 10);
    rp_doc_destroy(&doc);
    doc = rp_client_recv(client, &reply, 2000);
    assert(doc && rp_obj_u64(reply.id, &got) && got == ids[0] && reply.status == 201);
    rp_doc_destroy(&doc);
    assert(rp_client_pending(client) == 1);

    //  A short deadline passes (ids[1] is still waiting, on a longer one):
    //  the request gets a 504 made up here, its late reply is dropped.
    uint64_t quick = rp_client_next_id(client);
    size_t size = s_test_request(quick, &packer);
    rc = rp_client_send(client, "echo", quick, packer.buffer.data, size, 50);
    assert(rc == 0);
    zframe_destroy(&peer);
    uint64_t served = s_test_serve(router, &peer);
    assert(served == quick);
    assert(rp_client_next_timeout(client) <= 50);
    doc = rp_client_recv(client, &reply, 2000);
    assert(doc && rp_obj_u64(reply.id, &got) && got == quick && reply.status == 504);
    assert(reply.error_code_len == 7 && memcmp(reply.error_code, "timeout", 7) == 0);
    rp_doc_destroy(&doc);
    s_test_answer(router, peer, quick, 200);
    assert(rp_client_recv(client, &reply, 100) == NULL);

    zframe_destroy(&peer);
    rp_client_destroy(&client);
    zsock_destroy(&router);

    //  A call waits for its own id and keeps the other reply for later: an
    //  echo thread answers in arrival order, so the reply to the request
    //  sent first comes first.
    zactor_t *echo = zactor_new(s_test_echo, NULL);
    char *echo_endpoint = zstr_recv(echo);
    client = rp_client_new(echo_endpoint);
    zstr_free(&echo_endpoint);
    uint64_t first = rp_client_next_id(client);
    size = s_test_request(first, &packer);
    rc = rp_client_send(client, "echo", first, packer.buffer.data, size, 5000);
    assert(rc == 0);
    uint64_t call = rp_client_next_id(client);
    size = s_test_request(call, &packer);
    doc = rp_client_call(client, "echo", call, packer.buffer.data, size, 5000, &reply);
    assert(doc && rp_obj_u64(reply.id, &got) && got == call && reply.status == 200);
    rp_doc_destroy(&doc);
    assert(rp_client_ready(client));
    assert(rp_client_next_timeout(client) == 0);
    doc = rp_client_recv(client, &reply, 0);
    assert(doc && rp_obj_u64(reply.id, &got) && got == first);
    rp_doc_destroy(&doc);
    assert(!rp_client_ready(client));
    assert(rp_client_pending(client) == 0);
    assert(rp_client_next_timeout(client) == -1);
    assert(rp_client_recv(client, &reply, 0) == NULL);

    rp_packer_destroy(&packer);
    rp_client_destroy(&client);
    zactor_destroy(&echo);
}
