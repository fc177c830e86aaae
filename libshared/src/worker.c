/*  worker.c — an MDP worker for one service, on a DEALER.

    The socket lives as long as the worker, so an event loop can keep it in
    its poller; a reconnect is zmq_disconnect + zmq_connect on it, which
    gives the broker a fresh routing id (a new worker) as MDP expects.
*/
#include <rapport/envelope.h>
#include <rapport/log.h>
#include <rapport/mdp.h>
#include <rapport/pack.h>
#include <rapport/worker.h>

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <string.h>

struct _rp_worker_t {
    zsock_t *sock;
    char *endpoint;
    char *service;
    char *lease;   //  "<S>" when service is "<S>.writer", else NULL
    zlist_t *owns; //  the prefixes a writer claims (READY's owns), or NULL
    int credit;
    bool connected;
    bool drained;         //  the last rp_worker_recv found nothing waiting
    int64_t heartbeat_at; //  next HEARTBEAT to send (zclock_mono ms)
    int64_t expiry_at;    //  broker presumed dead after this
    int64_t reconnect_at; //  while !connected
    int backoff;          //  next reconnect delay
    uint64_t epoch;
    char token[RP_WORKER_TOKEN_MAX + 1]; //  the lease token of that epoch, "" if none
    int heartbeat_ms, liveness, reconnect_min, reconnect_max;
};

//  Send [ "", MDPW01, command, frames… ]; takes the frames in msg (may be NULL).
static int s_send(rp_worker_t *self, uint8_t command, zmsg_t *msg)
{
    if (!msg)
        msg = zmsg_new();
    zmsg_pushmem(msg, &command, 1);
    zmsg_pushstr(msg, MDPW_WORKER);
    zmsg_pushmem(msg, "", 0);
    if (zmsg_send(&msg, self->sock)) {
        zmsg_destroy(&msg);
        return -1;
    }
    self->heartbeat_at = zclock_mono() + self->heartbeat_ms;
    return 0;
}

//  A lease is held by one connection: a new one starts without it.
static void s_lease_lost(rp_worker_t *self)
{
    self->epoch = 0;
    sodium_memzero(self->token, sizeof self->token);
}

static void s_connect(rp_worker_t *self)
{
    if (zsock_connect(self->sock, "%s", self->endpoint)) {
        rp_error("worker %s: cannot connect to %s", self->service, self->endpoint);
        return;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, self->service);
    if (self->credit > 0 || self->owns) {
        rp_packer_t packer;
        rp_packer_init(&packer);
        //  The instance name only labels us in broker.status.
        msgpack_pack_map(&packer.pk, 2 + (self->owns != NULL));
        rp_pack_kv_u64(&packer.pk, "credit", (uint64_t)(self->credit > 0 ? self->credit : 1));
        rp_pack_kv_cstr(&packer.pk, "instance", rp_log_instance());
        if (self->owns) {
            rp_pack_cstr(&packer.pk, "owns");
            msgpack_pack_array(&packer.pk, zlist_size(self->owns));
            for (char *prefix = zlist_first(self->owns); prefix; prefix = zlist_next(self->owns))
                rp_pack_cstr(&packer.pk, prefix);
        }
        zmsg_addmem(msg, packer.buffer.data, packer.buffer.size);
        rp_packer_destroy(&packer);
    }
    self->connected = true;
    s_lease_lost(self);
    self->expiry_at = zclock_mono() + (int64_t)self->heartbeat_ms * self->liveness;
    s_send(self, MDPW_READY, msg);
    rp_debug("worker %s: ready at %s", self->service, self->endpoint);
}

//  Drop the connection; connect again after the back-off.
static void s_disconnect(rp_worker_t *self, const char *why)
{
    rp_warn("worker %s: %s; reconnecting in %d ms", self->service, why, self->backoff);
    zsock_disconnect(self->sock, "%s", self->endpoint);
    self->connected = false;
    if (self->epoch)
        rp_warn("worker %s: lease epoch %" PRIu64 " given up", self->service, self->epoch);
    s_lease_lost(self);
    self->reconnect_at = zclock_mono() + self->backoff;
    self->backoff =
        self->backoff * 2 > self->reconnect_max ? self->reconnect_max : self->backoff * 2;
}

rp_worker_t *rp_worker_new(const char *endpoint, const char *service, int credit)
{
    return rp_worker_new_owner(endpoint, service, credit, NULL);
}

rp_worker_t *rp_worker_new_owner(const char *endpoint, const char *service, int credit,
                                 const char *const *owns)
{
    size_t len = strlen(service);
    if (len == 0 || len > MDP_SERVICE_MAX || !endpoint || !*endpoint)
        return NULL;
    rp_worker_t *self = calloc(1, sizeof *self);
    assert(self);
    self->sock = zsock_new(ZMQ_DEALER);
    assert(self->sock);
    zsock_set_maxmsgsize(self->sock, MDP_MESSAGE_MAX + 65536);
    zsock_set_sndtimeo(self->sock, 0); //  a loop never blocks on send
    //  Nor on receive: a recv on an empty socket answers at once, which
    //  costs no more than asking ZMQ_EVENTS first (both poll the mailbox).
    zsock_set_rcvtimeo(self->sock, 0);
    self->endpoint = strdup(endpoint);
    self->service = strdup(service);
    size_t base = rp_mdp_base_len(service, len);
    if (base != len)
        self->lease = strndup(service, base);
    self->credit = credit < 0 ? 0 : credit > MDP_CREDIT_MAX ? MDP_CREDIT_MAX : credit;
    if (self->lease && owns && *owns) {
        self->owns = zlist_new();
        zlist_autofree(self->owns);
        for (; *owns; owns++)
            zlist_append(self->owns, (void *)*owns);
    }
    rp_worker_set_timing(self, MDP_HEARTBEAT_INTERVAL, MDP_HEARTBEAT_LIVENESS, MDP_RECONNECT_MIN,
                         MDP_RECONNECT_MAX);
    s_connect(self);
    if (!self->connected)
        rp_worker_destroy(&self);
    return self;
}

void rp_worker_destroy(rp_worker_t **self_p)
{
    rp_worker_t *self = *self_p;
    if (!self)
        return;
    if (self->connected) {
        //  Give the DISCONNECT a moment to leave when the process exits.
        zsock_set_linger(self->sock, 200);
        s_send(self, MDPW_DISCONNECT, NULL);
    }
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self->service);
    free(self->lease);
    zlist_destroy(&self->owns);
    free(self);
    *self_p = NULL;
}

zsock_t *rp_worker_sock(rp_worker_t *self)
{
    return self->sock;
}

const char *rp_worker_service(rp_worker_t *self)
{
    return self->service;
}

uint64_t rp_worker_epoch(rp_worker_t *self)
{
    return self->epoch;
}

const char *rp_worker_token(rp_worker_t *self)
{
    return self->epoch ? self->token : NULL;
}

bool rp_worker_connected(rp_worker_t *self)
{
    return self->connected;
}

void rp_worker_set_timing(rp_worker_t *self, int heartbeat_ms, int liveness, int reconnect_min,
                          int reconnect_max)
{
    self->heartbeat_ms = heartbeat_ms;
    self->liveness = liveness;
    self->reconnect_min = reconnect_min;
    self->reconnect_max = reconnect_max;
    self->backoff = reconnect_min;
    int64_t now = zclock_mono();
    if (self->heartbeat_at > now + heartbeat_ms)
        self->heartbeat_at = now + heartbeat_ms;
    if (self->expiry_at > now + (int64_t)heartbeat_ms * liveness)
        self->expiry_at = now + (int64_t)heartbeat_ms * liveness;
}

//  A lease grant: {id: 0, op: "lease.granted", args: {service: S, epoch: N,
//  token: T}}. The token is never logged.
static void s_lease_granted(rp_worker_t *self, zframe_t *body)
{
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    rp_request_t req;
    const msgpack_object *service = NULL;
    uint64_t epoch = 0;
    const char *token = NULL;
    size_t token_len = 0;
    if (doc && !rp_request_parse(rp_doc_root(doc), &req) && rp_request_is(&req, "lease.granted")) {
        service = rp_obj_get(req.args, "service");
        rp_obj_u64(rp_obj_get(req.args, "epoch"), &epoch);
        rp_obj_str(rp_obj_get(req.args, "token"), &token, &token_len);
    }
    if (epoch > 0 && rp_obj_streq(service, self->lease) && token_len > 0 &&
        token_len <= RP_WORKER_TOKEN_MAX && !memchr(token, 0, token_len)) {
        self->epoch = epoch;
        memcpy(self->token, token, token_len);
        self->token[token_len] = 0;
        rp_info("worker %s: lease granted, epoch %" PRIu64, self->service, epoch);
    } else
        rp_warn("worker %s: ignored a malformed or foreign lease grant", self->service);
    if (doc)
        sodium_memzero(zframe_data(body), zframe_size(body));
    rp_doc_destroy(&doc);
}

//  A REQUEST: [client, "", body]. Returns the body for the caller.
static zframe_t *s_request(rp_worker_t *self, zmsg_t *msg, zframe_t **client_p)
{
    if (zmsg_size(msg) != 3) {
        rp_warn("worker %s: dropped a REQUEST with %zu frames", self->service, zmsg_size(msg));
        return NULL;
    }
    zframe_t *client = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    zframe_t *body = zmsg_pop(msg);
    bool ok = zframe_size(empty) == 0;
    zframe_destroy(&empty);
    if (ok && zframe_size(client) == 0) {
        if (self->lease)
            s_lease_granted(self, body);
        else
            rp_warn("worker %s: dropped a request without a client address", self->service);
        ok = false;
    }
    if (!ok) {
        zframe_destroy(&client);
        zframe_destroy(&body);
        return NULL;
    }
    *client_p = client;
    return body;
}

bool rp_worker_drained(rp_worker_t *self)
{
    return self->drained;
}

zframe_t *rp_worker_recv(rp_worker_t *self, zframe_t **client_p)
{
    *client_p = NULL;
    zmsg_t *msg = zmsg_recv(self->sock);
    self->drained = !msg;
    if (!msg)
        return NULL;
    zframe_t *body = NULL;
    zframe_t *empty = zmsg_pop(msg);
    char *header = zmsg_popstr(msg);
    zframe_t *command = zmsg_pop(msg);
    if (!self->connected)
        ; //  left over from the connection we dropped
    else if (!command || zframe_size(empty) != 0 || !streq(header, MDPW_WORKER) ||
             zframe_size(command) != 1)
        rp_warn("worker %s: dropped a malformed message", self->service);
    else {
        uint8_t cmd = zframe_data(command)[0];
        self->expiry_at = zclock_mono() + (int64_t)self->heartbeat_ms * self->liveness;
        if (cmd != MDPW_DISCONNECT)
            self->backoff = self->reconnect_min;
        if (cmd == MDPW_REQUEST)
            body = s_request(self, msg, client_p);
        else if (cmd == MDPW_DISCONNECT)
            s_disconnect(self, "broker said DISCONNECT");
        else if (cmd != MDPW_HEARTBEAT)
            rp_warn("worker %s: dropped unknown command 0x%02x", self->service, cmd);
    }
    zframe_destroy(&empty);
    zstr_free(&header);
    zframe_destroy(&command);
    zmsg_destroy(&msg);
    return body;
}

int rp_worker_reply(rp_worker_t *self, zframe_t **client_p, const void *body, size_t size)
{
    zframe_t *client = *client_p;
    *client_p = NULL;
    if (!self->connected || !client || zframe_size(client) == 0) {
        zframe_destroy(&client);
        return -1;
    }
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &client);
    zmsg_addmem(msg, "", 0);
    zmsg_addmem(msg, body, size);
    if (s_send(self, MDPW_REPLY, msg)) {
        rp_warn("worker %s: reply dropped: %s", self->service, zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

void rp_worker_tick(rp_worker_t *self)
{
    int64_t now = zclock_mono();
    if (!self->connected) {
        if (now >= self->reconnect_at)
            s_connect(self);
        return;
    }
    if (now >= self->expiry_at)
        s_disconnect(self, "broker silent");
    else if (now >= self->heartbeat_at)
        s_send(self, MDPW_HEARTBEAT, NULL);
}

int rp_worker_next_tick_ms(rp_worker_t *self)
{
    int64_t at = self->connected
                     ? (self->heartbeat_at < self->expiry_at ? self->heartbeat_at : self->expiry_at)
                     : self->reconnect_at;
    int64_t left = at - zclock_mono();
    return left < 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

//  ---------------------------------------------------------------------
//  Self-test: a ROUTER driven by hand stands in for the broker.

//  Run the worker's loop until the router receives a message or timeout;
//  requests the worker receives meanwhile are answered with their body.
static zmsg_t *s_test_pump(rp_worker_t *worker, zsock_t *router, int timeout)
{
    int64_t end = zclock_mono() + timeout;
    zpoller_t *poller = zpoller_new(router, rp_worker_sock(worker), NULL);
    zmsg_t *got = NULL;
    while (!got && zclock_mono() < end) {
        int wait = rp_worker_next_tick_ms(worker);
        int64_t left = end - zclock_mono();
        void *which = zpoller_wait(poller, wait < left ? wait : (int)left);
        if (which == router)
            got = zmsg_recv(router);
        else if (which) {
            zframe_t *client;
            zframe_t *body = rp_worker_recv(worker, &client);
            if (body)
                rp_worker_reply(worker, &client, zframe_data(body), zframe_size(body));
            zframe_destroy(&body);
        }
        rp_worker_tick(worker);
    }
    zpoller_destroy(&poller);
    return got;
}

//  Expect [peer, "", MDPW01, command, …]; returns the peer frame, leaves
//  the remaining frames in msg.
static zframe_t *s_test_expect(zmsg_t *msg, uint8_t command)
{
    assert(msg);
    zframe_t *peer = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    assert(zframe_size(empty) == 0);
    zframe_destroy(&empty);
    char *header = zmsg_popstr(msg);
    assert(streq(header, MDPW_WORKER));
    free(header);
    zframe_t *cmd = zmsg_pop(msg);
    assert(zframe_size(cmd) == 1 && zframe_data(cmd)[0] == command);
    zframe_destroy(&cmd);
    return peer;
}

//  The command byte of [peer, "", MDPW01, command, …].
static uint8_t s_test_command(zmsg_t *msg)
{
    zmsg_first(msg);
    zmsg_next(msg);
    zmsg_next(msg);
    return zframe_data(zmsg_next(msg))[0];
}

static void s_test_send(zsock_t *router, zframe_t *peer, uint8_t command, zframe_t *client,
                        const void *body, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(peer)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, &command, 1);
    if (client) {
        zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
        zmsg_addmem(msg, "", 0);
        zmsg_addmem(msg, body, size);
    }
    zmsg_send(&msg, router);
}

static void s_test_grant(zsock_t *router, zframe_t *peer, const char *service, uint64_t epoch,
                         const char *token)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, 0, "lease.granted", 0, NULL, 1);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 2 + (token != NULL));
    rp_pack_kv_cstr(&packer.pk, "service", service);
    rp_pack_kv_u64(&packer.pk, "epoch", epoch);
    if (token)
        rp_pack_kv_cstr(&packer.pk, "token", token);
    zframe_t *empty = zframe_new_empty();
    s_test_send(router, peer, MDPW_REQUEST, empty, packer.buffer.data, packer.buffer.size);
    zframe_destroy(&empty);
    rp_packer_destroy(&packer);
}

void rp_worker_test(void)
{
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(port > 0);
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    rp_worker_t *nameless = rp_worker_new(endpoint, "", 1);
    assert(nameless == NULL);

    //  READY carries the service and the credit frame.
    rp_worker_t *worker = rp_worker_new(endpoint, "echo", 8);
    assert(worker && rp_worker_connected(worker) && rp_worker_epoch(worker) == 0);
    rp_worker_set_timing(worker, 100, 3, 50, 200);
    zmsg_t *msg = s_test_pump(worker, router, 2000);
    zframe_t *peer = s_test_expect(msg, MDPW_READY);
    char *service = zmsg_popstr(msg);
    assert(streq(service, "echo"));
    free(service);
    zframe_t *options = zmsg_pop(msg);
    rp_doc_t *doc = rp_doc_new(zframe_data(options), zframe_size(options), NULL);
    uint64_t credit = 0;
    assert(doc && rp_obj_u64(rp_obj_get(rp_doc_root(doc), "credit"), &credit) && credit == 8);
    assert(rp_obj_streq(rp_obj_get(rp_doc_root(doc), "instance"), rp_log_instance()));
    rp_doc_destroy(&doc);
    zframe_destroy(&options);
    zmsg_destroy(&msg);

    //  A request is answered (the pump echoes its body) to the same client.
    zframe_t *client = zframe_from("client-1");
    s_test_send(router, peer, MDPW_REQUEST, client, "ping", 4);
    msg = s_test_pump(worker, router, 2000);
    zframe_t *peer2 = s_test_expect(msg, MDPW_REPLY);
    assert(zframe_eq(peer, peer2));
    zframe_destroy(&peer2);
    assert(zmsg_size(msg) == 3);
    zframe_t *frame = zmsg_pop(msg);
    assert(zframe_eq(frame, client));
    zframe_destroy(&frame);
    frame = zmsg_pop(msg);
    assert(zframe_size(frame) == 0);
    zframe_destroy(&frame);
    assert(zframe_streq(zmsg_first(msg), "ping"));
    zmsg_destroy(&msg);

    //  Malformed messages and a plain-service lease grant are dropped; then
    //  heartbeats go out while the router keeps talking.
    zmsg_t *bad = zmsg_new();
    zmsg_append(bad, &(zframe_t *){zframe_dup(peer)});
    zmsg_addstr(bad, "");
    zmsg_addstr(bad, "MDPW02");
    zmsg_send(&bad, router);
    s_test_grant(router, peer, "echo", 3, "tok");
    s_test_send(router, peer, MDPW_HEARTBEAT, NULL, NULL, 0);
    msg = s_test_pump(worker, router, 2000);
    peer2 = s_test_expect(msg, MDPW_HEARTBEAT);
    assert(zframe_eq(peer, peer2) && rp_worker_epoch(worker) == 0);
    zframe_destroy(&peer2);
    zmsg_destroy(&msg);

    //  The router goes silent: after 3 intervals the worker reconnects and
    //  says READY again from a new routing id.
    int64_t silent_since = zclock_mono();
    while ((msg = s_test_pump(worker, router, 3000))) {
        zframe_t *from = s_test_expect(msg, s_test_command(msg));
        zmsg_destroy(&msg);
        if (!zframe_eq(from, peer)) {
            zframe_destroy(&peer);
            peer = from;
            break;
        }
        zframe_destroy(&from);
    }
    assert(zclock_mono() - silent_since >= 200); //  3 intervals from the last word
    assert(rp_worker_connected(worker));

    //  DISCONNECT from the broker: a new READY follows after the back-off.
    s_test_send(router, peer, MDPW_DISCONNECT, NULL, NULL, 0);
    msg = s_test_pump(worker, router, 2000);
    peer2 = s_test_expect(msg, MDPW_READY);
    assert(!zframe_eq(peer, peer2));
    zframe_destroy(&peer);
    peer = peer2;
    zmsg_destroy(&msg);

    //  Destroy says DISCONNECT.
    rp_worker_destroy(&worker);
    msg = zmsg_recv(router);
    peer2 = s_test_expect(msg, MDPW_DISCONNECT);
    assert(zframe_eq(peer, peer2));
    zframe_destroy(&peer2);
    zframe_destroy(&peer);
    zmsg_destroy(&msg);

    //  A writer takes its lease grant in and never answers it; the epoch
    //  is forgotten on reconnect.
    worker = rp_worker_new(endpoint, "x.writer", 0);
    rp_worker_set_timing(worker, 100, 3, 50, 200);
    msg = s_test_pump(worker, router, 2000);
    peer = s_test_expect(msg, MDPW_READY);
    assert(zmsg_size(msg) == 1); //  credit 0: no options frame
    zmsg_destroy(&msg);
    s_test_grant(router, peer, "y", 9, "tok-y"); //  another lease: ignored
    s_test_grant(router, peer, "x", 7, "tok-x");
    s_test_grant(router, peer, "x", 8, NULL); //  no token: ignored
    s_test_grant(router, peer, "x", 8, "");
    msg = s_test_pump(worker, router, 2000);
    peer2 = s_test_expect(msg, MDPW_HEARTBEAT); //  not a REPLY
    zframe_destroy(&peer2);
    zmsg_destroy(&msg);
    assert(rp_worker_epoch(worker) == 7 && streq(rp_worker_token(worker), "tok-x"));
    s_test_send(router, peer, MDPW_DISCONNECT, NULL, NULL, 0);
    msg = s_test_pump(worker, router, 2000);
    peer2 = s_test_expect(msg, MDPW_READY);
    assert(rp_worker_epoch(worker) == 0 && rp_worker_token(worker) == NULL);
    zframe_destroy(&peer2);
    zmsg_destroy(&msg);

    zframe_destroy(&peer);
    rp_worker_destroy(&worker);
    msg = zmsg_recv(router); //  its DISCONNECT
    zmsg_destroy(&msg);

    //  A writer's claims ride in READY's options (copied at creation).
    char claim[] = "q.";
    worker = rp_worker_new_owner(endpoint, "q.writer", 0, (const char *[]){claim, "r.", NULL});
    claim[0] = 'z';
    msg = s_test_pump(worker, router, 2000);
    peer = s_test_expect(msg, MDPW_READY);
    zframe_t *ready = zmsg_last(msg);
    rp_doc_t *owned = rp_doc_new(zframe_data(ready), zframe_size(ready), NULL);
    const msgpack_object *owns = rp_obj_get(rp_doc_root(owned), "owns");
    assert(rp_obj_is_array(owns) && owns->via.array.size == 2);
    assert(rp_obj_streq(&owns->via.array.ptr[0], "q.") &&
           rp_obj_streq(&owns->via.array.ptr[1], "r."));
    rp_doc_destroy(&owned);
    zmsg_destroy(&msg);
    zframe_destroy(&peer);
    rp_worker_destroy(&worker);

    zframe_destroy(&client);
    zsock_destroy(&router);
}
