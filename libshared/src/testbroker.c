/*  testbroker.c — a tiny in-process stand-in for the broker, for self-tests.

    The actor owns every socket and the in-memory journal; the test thread
    talks to it over the actor pipe with string frames (command, args…)
    and gets one string frame back, so each call is synchronous.
*/
#include <rapport/client.h>
#include <rapport/envelope.h>
#include <rapport/journal.h>
#include <rapport/log.h>
#include <rapport/mdp.h>
#include <rapport/pack.h>
#include <rapport/testbroker.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <string.h>

struct _rp_testbroker_t {
    zactor_t *actor;
    char *endpoint;
    char *feed;
};

typedef struct {
    char *type;
    zchunk_t *bytes;
} tb_event_t;

typedef struct {
    zsock_t *pipe, *router, *xpub;
    tb_event_t *events; //  events[seq - 1]
    size_t count, capacity;
    int subscribers;
    zhashx_t *workers;  //  service → routing id (zframe_t, owned)
    zhashx_t *services; //  routing id (hex) → service (string, owned)
    char last_writer[64];
    uint64_t last_epoch;
    char last_token[80]; //  carried by the last journal.append
    char granted[80];    //  the token of the last grant
    char journal[65];    //  the identity journal.read and .head answer ("" none)
} tb_t;

//  ---------------------------------------------------------------------
//  The journal and the feed

static void s_publish(tb_t *self, uint64_t seq)
{
    if (seq == 0 || seq > self->count)
        return;
    tb_event_t *event = &self->events[seq - 1];
    uint8_t be[8];
    rp_seq_put(be, seq);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, event->type);
    zmsg_addmem(msg, be, 8);
    zmsg_addmem(msg, zchunk_data(event->bytes), zchunk_size(event->bytes));
    zmsg_send(&msg, self->xpub);
}

static void s_publish_head(tb_t *self)
{
    uint8_t be[8];
    rp_seq_put(be, self->count);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "$head");
    zmsg_addmem(msg, be, 8);
    zmsg_send(&msg, self->xpub);
}

//  Store an event: the map given (any "seq" in it replaced), with seq set.
static uint64_t s_store(tb_t *self, const char *type, const msgpack_object *map)
{
    if (self->count == self->capacity) {
        self->capacity = self->capacity ? self->capacity * 2 : 64;
        self->events = realloc(self->events, self->capacity * sizeof *self->events);
        assert(self->events);
    }
    uint64_t seq = ++self->count;
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint32_t keep = 0;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        keep += !rp_obj_streq(&map->via.map.ptr[i].key, "seq");
    msgpack_pack_map(&packer.pk, keep + 1);
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (!rp_obj_streq(&map->via.map.ptr[i].key, "seq")) {
            msgpack_pack_object(&packer.pk, map->via.map.ptr[i].key);
            msgpack_pack_object(&packer.pk, map->via.map.ptr[i].val);
        }
    rp_pack_kv_u64(&packer.pk, "seq", seq);
    self->events[seq - 1].type = strdup(type);
    self->events[seq - 1].bytes = zchunk_new(packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return seq;
}

//  A test event {type, id, source, data: {n}} built here.
static uint64_t s_store_new(tb_t *self, const char *type)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    char id[32];
    snprintf(id, sizeof id, "t-%zu", self->count + 1);
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_kv_cstr(&packer.pk, "type", type);
    rp_pack_kv_cstr(&packer.pk, "id", id);
    rp_pack_kv_cstr(&packer.pk, "source", "test");
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_u64(&packer.pk, "n", self->count + 1);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    uint64_t seq = s_store(self, type, rp_doc_root(doc));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    return seq;
}

//  ---------------------------------------------------------------------
//  The router

static void s_send_client(tb_t *self, zframe_t *client, const char *service, const void *body,
                          size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, body, size);
    zmsg_send(&msg, self->router);
}

static void s_journal_append(tb_t *self, rp_request_t *req, rp_packer_t *out)
{
    const msgpack_object *events = rp_obj_get(req->args, "events");
    if (!rp_obj_is_array(events) || events->via.array.size == 0) {
        rp_reply_pack_error(&out->pk, req->id, 422, "bad_event", "events must be a list");
        return;
    }
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        rp_event_t event;
        if (rp_event_parse(&events->via.array.ptr[i], &event)) {
            rp_reply_pack_error(&out->pk, req->id, 422, "bad_event", "bad event");
            return;
        }
    }
    const char *writer = "";
    size_t writer_len = 0;
    rp_obj_str(rp_obj_get(req->args, "writer"), &writer, &writer_len);
    snprintf(self->last_writer, sizeof self->last_writer, "%.*s", (int)writer_len, writer);
    self->last_epoch = 0;
    rp_obj_u64(rp_obj_get(req->args, "epoch"), &self->last_epoch);
    const char *token = "";
    size_t token_len = 0;
    rp_obj_str(rp_obj_get(req->args, "token"), &token, &token_len);
    snprintf(self->last_token, sizeof self->last_token, "%.*s", (int)token_len, token);
    uint64_t first = self->count + 1;
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        rp_event_t event;
        rp_event_parse(&events->via.array.ptr[i], &event);
        char type[RP_MAX_TYPE + 1];
        snprintf(type, sizeof type, "%.*s", (int)event.type_len, event.type);
        s_publish(self, s_store(self, type, &events->via.array.ptr[i]));
    }
    rp_reply_pack(&out->pk, req->id, 200, self->count, 1);
    rp_pack_cstr(&out->pk, "data");
    msgpack_pack_map(&out->pk, 1);
    rp_pack_cstr(&out->pk, "seqs");
    msgpack_pack_array(&out->pk, self->count - first + 1);
    for (uint64_t seq = first; seq <= self->count; seq++)
        msgpack_pack_uint64(&out->pk, seq);
}

static void s_journal_read(tb_t *self, rp_request_t *req, rp_packer_t *out)
{
    uint64_t from = 1, max = 100;
    rp_obj_u64(rp_obj_get(req->args, "from_seq"), &from);
    rp_obj_u64(rp_obj_get(req->args, "max"), &max);
    if (from == 0)
        from = 1;
    if (max == 0 || max > 1000)
        max = 1000;
    uint64_t last = from + max - 1 < self->count ? from + max - 1 : self->count;
    rp_reply_pack(&out->pk, req->id, 200, 0, 1);
    rp_pack_cstr(&out->pk, "data");
    msgpack_pack_map(&out->pk, 3);
    rp_pack_kv_cstr(&out->pk, "journal", self->journal);
    rp_pack_cstr(&out->pk, "events");
    msgpack_pack_array(&out->pk, last >= from ? last - from + 1 : 0);
    for (uint64_t seq = from; seq <= last; seq++)
        msgpack_sbuffer_write(&out->buffer, (const char *)zchunk_data(self->events[seq - 1].bytes),
                              zchunk_size(self->events[seq - 1].bytes));
    rp_pack_kv_u64(&out->pk, "head", self->count);
}

static void s_journal(tb_t *self, zframe_t *client, zframe_t *body)
{
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    rp_request_t req;
    rp_packer_t out;
    rp_packer_init(&out);
    if (!doc || rp_request_parse(rp_doc_root(doc), &req))
        rp_reply_pack_error(&out.pk, NULL, 400, "bad_request", "bad request");
    else if (rp_request_is(&req, "journal.append"))
        s_journal_append(self, &req, &out);
    else if (rp_request_is(&req, "journal.read"))
        s_journal_read(self, &req, &out);
    else if (rp_request_is(&req, "journal.head")) {
        rp_reply_pack(&out.pk, req.id, 200, 0, 1);
        rp_pack_cstr(&out.pk, "data");
        msgpack_pack_map(&out.pk, 2);
        rp_pack_kv_u64(&out.pk, "head", self->count);
        rp_pack_kv_cstr(&out.pk, "journal", self->journal);
    } else
        rp_reply_pack_error(&out.pk, req.id, 400, "unknown_op", "unknown op");
    s_send_client(self, client, "journal", out.buffer.data, out.buffer.size);
    rp_packer_destroy(&out);
    rp_doc_destroy(&doc);
}

static void s_to_worker(tb_t *self, zframe_t *worker, uint8_t command, zframe_t *client,
                        zframe_t *body)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(worker)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, &command, 1);
    if (client) {
        zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
        zmsg_addmem(msg, "", 0);
        zmsg_append(msg, &(zframe_t *){zframe_dup(body)});
    }
    zmsg_send(&msg, self->router);
}

static void s_client(tb_t *self, zframe_t *client, zmsg_t *msg)
{
    char *service = zmsg_popstr(msg);
    zframe_t *body = zmsg_pop(msg);
    zframe_t *worker = service ? (zframe_t *)zhashx_lookup(self->workers, service) : NULL;
    if (!service || !body)
        ;
    else if (streq(service, "journal"))
        s_journal(self, client, body);
    else if (worker)
        s_to_worker(self, worker, MDPW_REQUEST, client, body);
    else {
        rp_packer_t out;
        rp_packer_init(&out);
        rp_reply_pack_error(&out.pk, NULL, 503, "no_worker", "no worker");
        s_send_client(self, client, service, out.buffer.data, out.buffer.size);
        rp_packer_destroy(&out);
    }
    zframe_destroy(&body);
    zstr_free(&service);
}

static void s_worker(tb_t *self, zframe_t *worker, zmsg_t *msg)
{
    zframe_t *command = zmsg_pop(msg);
    char *hex = zframe_strhex(worker);
    uint8_t cmd = command && zframe_size(command) == 1 ? zframe_data(command)[0] : 0;
    if (cmd == MDPW_READY) {
        char *service = zmsg_popstr(msg);
        zhashx_update(self->workers, service, zframe_dup(worker));
        zhashx_update(self->services, hex, service);
    } else if (cmd == MDPW_HEARTBEAT)
        s_to_worker(self, worker, MDPW_HEARTBEAT, NULL, NULL);
    else if (cmd == MDPW_REPLY && zmsg_size(msg) == 3) {
        const char *service = (const char *)zhashx_lookup(self->services, hex);
        zframe_t *client = zmsg_pop(msg);
        zframe_t *empty = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        if (service && zframe_size(client))
            s_send_client(self, client, service, zframe_data(body), zframe_size(body));
        zframe_destroy(&client);
        zframe_destroy(&empty);
        zframe_destroy(&body);
    } else if (cmd == MDPW_DISCONNECT) {
        const char *service = (const char *)zhashx_lookup(self->services, hex);
        zframe_t *current = service ? (zframe_t *)zhashx_lookup(self->workers, service) : NULL;
        if (current && zframe_eq(current, worker))
            zhashx_delete(self->workers, service);
        zhashx_delete(self->services, hex);
    }
    free(hex);
    zframe_destroy(&command);
}

static void s_router(tb_t *self)
{
    zmsg_t *msg = zmsg_recv(self->router);
    if (!msg)
        return;
    zframe_t *peer = zmsg_pop(msg);
    zframe_t *empty = zmsg_pop(msg);
    char *header = zmsg_popstr(msg);
    if (header && streq(header, MDPC_CLIENT))
        s_client(self, peer, msg);
    else if (header && streq(header, MDPW_WORKER))
        s_worker(self, peer, msg);
    zstr_free(&header);
    zframe_destroy(&empty);
    zframe_destroy(&peer);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------------
//  The pipe: commands from the test thread

static void s_grant(tb_t *self, const char *service, uint64_t epoch)
{
    char name[300];
    snprintf(name, sizeof name, "%s" MDP_WRITER_SUFFIX, service);
    zframe_t *worker = (zframe_t *)zhashx_lookup(self->workers, name);
    if (!worker) {
        zstr_send(self->pipe, "-1");
        return;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, 0, "lease.granted", 0, NULL, 1);
    snprintf(self->granted, sizeof self->granted, "tb-%s-%" PRIu64, service, epoch);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "service", service);
    rp_pack_kv_u64(&packer.pk, "epoch", epoch);
    rp_pack_kv_cstr(&packer.pk, "token", self->granted);
    zframe_t *empty = zframe_new_empty();
    zframe_t *body = zframe_new(packer.buffer.data, packer.buffer.size);
    s_to_worker(self, worker, MDPW_REQUEST, empty, body);
    zframe_destroy(&empty);
    zframe_destroy(&body);
    rp_packer_destroy(&packer);
    zstr_send(self->pipe, "0");
}

//  Returns false on $TERM.
static bool s_command(tb_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    char *command = msg ? zmsg_popstr(msg) : NULL;
    char *arg1 = msg ? zmsg_popstr(msg) : NULL;
    char *arg2 = msg ? zmsg_popstr(msg) : NULL;
    bool alive = command && !streq(command, "$TERM");
    if (!alive)
        ;
    else if (streq(command, "APPEND")) {
        uint64_t seq = s_store_new(self, arg1);
        if (streq(arg2, "1"))
            s_publish(self, seq);
        zstr_sendf(self->pipe, "%" PRIu64, seq);
    } else if (streq(command, "PUBLISH")) {
        s_publish(self, strtoull(arg1, NULL, 10));
        zstr_send(self->pipe, "0");
    } else if (streq(command, "HEAD")) {
        s_publish_head(self);
        zstr_send(self->pipe, "0");
    } else if (streq(command, "SUBS"))
        zstr_sendf(self->pipe, "%d", self->subscribers);
    else if (streq(command, "WORKER"))
        zstr_send(self->pipe, zhashx_lookup(self->workers, arg1) ? "1" : "0");
    else if (streq(command, "JOURNAL")) {
        snprintf(self->journal, sizeof self->journal, "%s", arg1 ? arg1 : "");
        zstr_send(self->pipe, "0");
    } else if (streq(command, "GRANT"))
        s_grant(self, arg1, strtoull(arg2, NULL, 10));
    else if (streq(command, "EPOCH")) {
        zstr_sendm(self->pipe, self->last_writer);
        zstr_sendm(self->pipe, streq(self->last_token, self->granted) ? "1" : "0");
        zstr_sendf(self->pipe, "%" PRIu64, self->last_epoch);
    }
    zstr_free(&command);
    zstr_free(&arg1);
    zstr_free(&arg2);
    zmsg_destroy(&msg);
    return alive;
}

static void s_subscription(tb_t *self)
{
    zframe_t *frame = zframe_recv(self->xpub);
    if (frame && zframe_size(frame) > 0)
        self->subscribers += zframe_data(frame)[0] == 1 ? 1 : -1;
    zframe_destroy(&frame);
}

static void s_frame_free(void **item)
{
    zframe_destroy((zframe_t **)item);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    (void)arg;
    tb_t self = {.pipe = pipe};
    self.router = zsock_new(ZMQ_ROUTER);
    self.xpub = zsock_new(ZMQ_XPUB);
    zsock_set_xpub_verbose(self.xpub, 1);
    int router_port = zsock_bind(self.router, "tcp://127.0.0.1:*");
    int feed_port = zsock_bind(self.xpub, "tcp://127.0.0.1:*");
    assert(router_port > 0 && feed_port > 0);
    self.workers = zhashx_new();
    zhashx_set_destructor(self.workers, s_frame_free);
    self.services = zhashx_new();
    zhashx_set_destructor(self.services, (zhashx_destructor_fn *)zstr_free);
    zsock_signal(pipe, 0);
    zstr_sendf(pipe, "%d %d", router_port, feed_port);

    zpoller_t *poller = zpoller_new(pipe, self.router, self.xpub, NULL);
    bool alive = true;
    while (alive) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe)
            alive = s_command(&self);
        else if (which == self.router)
            s_router(&self);
        else if (which == self.xpub)
            s_subscription(&self);
        else
            alive = false; //  interrupted
    }
    zpoller_destroy(&poller);
    for (size_t i = 0; i < self.count; i++) {
        free(self.events[i].type);
        zchunk_destroy(&self.events[i].bytes);
    }
    free(self.events);
    zhashx_destroy(&self.workers);
    zhashx_destroy(&self.services);
    zsock_destroy(&self.router);
    zsock_destroy(&self.xpub);
}

rp_testbroker_t *rp_testbroker_new(void)
{
    rp_testbroker_t *self = calloc(1, sizeof *self);
    assert(self);
    self->actor = zactor_new(s_actor, NULL);
    assert(self->actor);
    char *ports = zstr_recv(self->actor);
    int router_port = 0, feed_port = 0;
    assert(ports && sscanf(ports, "%d %d", &router_port, &feed_port) == 2);
    zstr_free(&ports);
    self->endpoint = zsys_sprintf("tcp://127.0.0.1:%d", router_port);
    self->feed = zsys_sprintf("tcp://127.0.0.1:%d", feed_port);
    return self;
}

void rp_testbroker_destroy(rp_testbroker_t **self_p)
{
    rp_testbroker_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->actor);
    zstr_free(&self->endpoint);
    zstr_free(&self->feed);
    free(self);
    *self_p = NULL;
}

const char *rp_testbroker_endpoint(rp_testbroker_t *self)
{
    return self->endpoint;
}

const char *rp_testbroker_feed(rp_testbroker_t *self)
{
    return self->feed;
}

//  Send a command with up to two arguments; return the answer as a number.
static int64_t s_call(rp_testbroker_t *self, const char *command, const char *arg1,
                      const char *arg2)
{
    zstr_sendx(self->actor, command, arg1 ? arg1 : "", arg2 ? arg2 : "", NULL);
    char *answer = zstr_recv(self->actor);
    int64_t value = answer ? strtoll(answer, NULL, 10) : -1;
    zstr_free(&answer);
    return value;
}

uint64_t rp_testbroker_append(rp_testbroker_t *self, const char *type, bool publish)
{
    return (uint64_t)s_call(self, "APPEND", type, publish ? "1" : "0");
}

void rp_testbroker_publish(rp_testbroker_t *self, uint64_t seq)
{
    char arg[24];
    snprintf(arg, sizeof arg, "%" PRIu64, seq);
    s_call(self, "PUBLISH", arg, NULL);
}

void rp_testbroker_head(rp_testbroker_t *self)
{
    s_call(self, "HEAD", NULL, NULL);
}

void rp_testbroker_set_journal(rp_testbroker_t *self, const char *id)
{
    s_call(self, "JOURNAL", id, NULL);
}

//  Ask until the answer is at least n: a bounded readiness check.
static bool s_wait_for(rp_testbroker_t *self, const char *command, const char *arg, int n,
                       int timeout_ms)
{
    int64_t end = zclock_mono() + timeout_ms;
    while (s_call(self, command, arg, NULL) < n) {
        if (zclock_mono() >= end)
            return false;
        zclock_sleep(5);
    }
    return true;
}

bool rp_testbroker_wait_subscribers(rp_testbroker_t *self, int n, int timeout_ms)
{
    return s_wait_for(self, "SUBS", NULL, n, timeout_ms);
}

bool rp_testbroker_wait_worker(rp_testbroker_t *self, const char *service, int timeout_ms)
{
    return s_wait_for(self, "WORKER", service, 1, timeout_ms);
}

int rp_testbroker_grant(rp_testbroker_t *self, const char *service, uint64_t epoch)
{
    char arg[24];
    snprintf(arg, sizeof arg, "%" PRIu64, epoch);
    return (int)s_call(self, "GRANT", service, arg);
}

uint64_t rp_testbroker_last_epoch(rp_testbroker_t *self, char *writer, size_t size)
{
    zstr_sendx(self->actor, "EPOCH", NULL);
    char *name = NULL, *granted = NULL, *epoch = NULL;
    zstr_recvx(self->actor, &name, &granted, &epoch, NULL);
    snprintf(writer, size, "%s", name ? name : "");
    //  An append made as the writer without its lease token would be
    //  refused by the real journal: report no epoch.
    uint64_t value = epoch && granted && streq(granted, "1") ? strtoull(epoch, NULL, 10) : 0;
    zstr_free(&granted);
    zstr_free(&name);
    zstr_free(&epoch);
    return value;
}

//  ---------------------------------------------------------------------
//  Self-test: the journal answers; the feed counts its subscriber.

void rp_testbroker_test(void)
{
    rp_testbroker_t *broker = rp_testbroker_new();
    assert(rp_testbroker_append(broker, "order.placed", false) == 1);
    rp_client_t *client = rp_client_new(rp_testbroker_endpoint(broker));
    uint64_t head = 0;
    assert(rp_journal_head(client, 2000, &head) == 200 && head == 1);
    rp_reply_t reply;
    rp_doc_t *doc = rp_journal_read(client, 1, 10, 2000, &reply);
    const msgpack_object *events;
    assert(doc && rp_journal_read_page(&reply, &events, &head));
    assert(events->via.array.size == 1 && head == 1);
    rp_event_t event;
    assert(rp_event_parse(&events->via.array.ptr[0], &event) == NULL && event.seq == 1);
    rp_doc_destroy(&doc);

    zsock_t *sub = zsock_new_sub(rp_testbroker_feed(broker), "");
    assert(rp_testbroker_wait_subscribers(broker, 1, 5000));
    rp_testbroker_head(broker);
    zmsg_t *msg = zmsg_recv(sub);
    assert(msg && zmsg_size(msg) == 2 && zframe_streq(zmsg_first(msg), "$head"));
    assert(rp_seq_get(zframe_data(zmsg_next(msg))) == 1);
    zmsg_destroy(&msg);
    assert(!rp_testbroker_wait_worker(broker, "nobody", 0));
    assert(rp_testbroker_grant(broker, "nobody", 1) == -1);

    zsock_destroy(&sub);
    rp_client_destroy(&client);
    rp_testbroker_destroy(&broker);
}
