/*  router.c — request/reply routing between clients and service workers.

    Data structures first:
      service_t  one per service name: its workers (registration order),
                 its queue of waiting requests, and for "<S>.writer" its
                 lease. Services with no worker and an empty queue are
                 deleted, so hostile clients cannot grow the table.
      worker_t   one per worker socket identity: its service, credit (how
                 many requests it may hold), the requests in flight (so a
                 lost worker's clients hear about it), its expiry.
      request_t  a client request: client address, body, the request id
                 (packed, for error replies), the deadline while queued.

    The loop polls the ROUTER and the journal actor's pipe. Sends to the
    pipe never block (a full pipe is a 503), and replies from it are read on
    every turn, so the two threads can never wait on each other.
*/
#include "router.h"
#include "journal.h"
#include "lease.h"

#include <rapport/envelope.h>
#include <rapport/log.h>
#include <rapport/mdp.h>

#include <assert.h>
#include <string.h>

#define SERVICES_MAX 10000 //  distinct service entries at most
#define EXPIRY_MS    (MDP_HEARTBEAT_INTERVAL * MDP_HEARTBEAT_LIVENESS)

typedef struct _service_t service_t;

typedef struct {
    zframe_t *client; //  the client's ROUTER identity
    zframe_t *body;
    zframe_t *id; //  the request's id, packed (nil when unreadable)
    int64_t deadline;
} request_t;

typedef struct {
    char *identity; //  hex, the key in router->workers
    zframe_t *address;
    service_t *service;
    int credit, in_flight;
    zlist_t *pending; //  request_t in flight, oldest first (body sent: NULL)
    int64_t expiry;
} worker_t;

struct _service_t {
    char *name;
    zlist_t *workers; //  worker_t, registration order
    zlist_t *queue;   //  request_t waiting for a worker
    lease_t *lease;   //  for "<S>.writer" only
    uint64_t served;
};

struct _router_t {
    zsock_t *socket;
    zactor_t *journal;
    zhash_t *services; //  name → service_t
    zhash_t *workers;  //  identity → worker_t
    size_t queued;     //  requests waiting, over all services
    size_t queue_max, queue_total;
    int64_t request_timeout;
    int64_t heartbeat_at;
    rp_packer_t packer;
};

//  ---------------------------------------------------------------------
//  Requests

//  The id of a request body, packed, so any error reply can echo it.
static zframe_t *request_id(zframe_t *body, rp_packer_t *packer)
{
    rp_packer_reset(packer);
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    const msgpack_object *id = doc ? rp_obj_get(rp_doc_root(doc), "id") : NULL;
    if (id && id->type != MSGPACK_OBJECT_MAP && id->type != MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(&packer->pk, *id);
    else
        msgpack_pack_nil(&packer->pk);
    rp_doc_destroy(&doc);
    return zframe_new(packer->buffer.data, packer->buffer.size);
}

static void request_destroy(request_t **self_p)
{
    request_t *self = *self_p;
    if (!self)
        return;
    zframe_destroy(&self->client);
    zframe_destroy(&self->body);
    zframe_destroy(&self->id);
    free(self);
    *self_p = NULL;
}

//  Send a reply body to a client: ["client", "", "MDPC01", service, body].
static void send_to_client(router_t *self, zframe_t *client, const char *service, const void *body,
                           size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, body, size);
    zmsg_send(&msg, self->socket);
}

//  Answer a request with an error body {id, status, error:{code, message}}.
static void reply_error(router_t *self, zframe_t *client, zframe_t *id, const char *service,
                        int status, const char *code, const char *message)
{
    msgpack_object idobj = {.type = MSGPACK_OBJECT_NIL};
    rp_doc_t *doc = id ? rp_doc_new(zframe_data(id), zframe_size(id), NULL) : NULL;
    if (doc)
        idobj = *rp_doc_root(doc);
    rp_packer_reset(&self->packer);
    rp_reply_pack_error(&self->packer.pk, &idobj, status, code, message);
    send_to_client(self, client, service, self->packer.buffer.data, self->packer.buffer.size);
    rp_doc_destroy(&doc);
}

//  ---------------------------------------------------------------------
//  Services

static bool is_writer_name(const char *name)
{
    size_t len = strlen(name), suffix = strlen(MDP_WRITER_SUFFIX);
    return len > suffix && streq(name + len - suffix, MDP_WRITER_SUFFIX);
}

static service_t *service_require(router_t *self, const char *name)
{
    service_t *service = zhash_lookup(self->services, name);
    if (service || zhash_size(self->services) >= SERVICES_MAX)
        return service;
    service = calloc(1, sizeof *service);
    assert(service);
    service->name = strdup(name);
    service->workers = zlist_new();
    service->queue = zlist_new();
    if (is_writer_name(name))
        service->lease = lease_new();
    zhash_insert(self->services, name, service);
    return service;
}

//  Forget a service that has nothing left: no workers, nothing queued.
static void service_release(router_t *self, service_t *service)
{
    if (zlist_size(service->workers) || zlist_size(service->queue))
        return;
    zhash_delete(self->services, service->name);
    lease_destroy(&service->lease);
    zlist_destroy(&service->workers);
    zlist_destroy(&service->queue);
    free(service->name);
    free(service);
}

//  ---------------------------------------------------------------------
//  Workers

static void send_to_worker(router_t *self, worker_t *worker, int command, zmsg_t **body_p)
{
    zmsg_t *msg = body_p && *body_p ? *body_p : zmsg_new();
    if (body_p)
        *body_p = NULL;
    zmsg_pushmem(msg, &(uint8_t){(uint8_t)command}, 1);
    zmsg_pushstr(msg, MDPW_WORKER);
    zmsg_pushmem(msg, "", 0);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(worker->address)});
    zmsg_send(&msg, self->socket);
}

//  The journal is asked for an epoch for the (pending) holder; the token
//  that comes back is the worker's identity.
static void lease_ask(router_t *self, service_t *service)
{
    worker_t *holder = lease_holder(service->lease);
    if (holder)
        zsock_send(self->journal, "sss", "GRANT", service->name, holder->identity);
}

static void worker_delete(router_t *self, worker_t *worker, bool disconnect)
{
    if (disconnect)
        send_to_worker(self, worker, MDPW_DISCONNECT, NULL);
    service_t *service = worker->service;
    //  Its clients learn at once that their requests are lost; they retry
    //  with the same idem key if they want (we never resend on our own).
    request_t *request;
    while ((request = zlist_pop(worker->pending))) {
        reply_error(self, request->client, request->id, service->name, 503, "worker_lost",
                    "the worker died with the request in flight; retry");
        request_destroy(&request);
    }
    zlist_destroy(&worker->pending);
    if (service) {
        zlist_remove(service->workers, worker);
        if (service->lease && lease_leave(service->lease, worker)) {
            zsock_send(self->journal, "ss", "REVOKE", service->name);
            rp_info("router: writer of %s gone, lease vacant", service->name);
            lease_ask(self, service);
        }
    }
    rp_info("router: worker %s of %s removed", worker->identity,
            service ? service->name : "(none)");
    zhash_delete(self->workers, worker->identity);
    zframe_destroy(&worker->address);
    free(worker->identity);
    free(worker);
    if (service)
        service_release(self, service);
}

//  The credit a worker asked for in READY's options frame, else 1.
static int ready_credit(zframe_t *options)
{
    uint64_t credit = 1;
    if (options) {
        rp_doc_t *doc = rp_doc_new(zframe_data(options), zframe_size(options), NULL);
        if (doc && rp_obj_u64(rp_obj_get(rp_doc_root(doc), "credit"), &credit))
            credit = credit < 1 ? 1 : credit > MDP_CREDIT_MAX ? MDP_CREDIT_MAX : credit;
        rp_doc_destroy(&doc);
    }
    return (int)credit;
}

//  The worker that should take the next request of a service: a granted
//  lease holder for "<S>.writer", else the one with the most free credit
//  (the earliest registered on ties).
static worker_t *service_pick(service_t *service)
{
    if (service->lease) {
        worker_t *holder = lease_holder(service->lease);
        return lease_granted(service->lease) && holder->in_flight < holder->credit ? holder : NULL;
    }
    worker_t *best = NULL;
    for (worker_t *w = zlist_first(service->workers); w; w = zlist_next(service->workers))
        if (w->in_flight < w->credit &&
            (!best || w->credit - w->in_flight > best->credit - best->in_flight))
            best = w;
    return best;
}

//  Send queued requests to workers with free credit.
static void service_dispatch(router_t *self, service_t *service)
{
    worker_t *worker;
    while (zlist_size(service->queue) && (worker = service_pick(service))) {
        request_t *request = zlist_pop(service->queue);
        self->queued--;
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &(zframe_t *){zframe_dup(request->client)});
        zmsg_addmem(msg, "", 0);
        zmsg_append(msg, &request->body);
        send_to_worker(self, worker, MDPW_REQUEST, &msg);
        worker->in_flight++;
        service->served++;
        zlist_append(worker->pending, request);
    }
}

static void worker_ready(router_t *self, zframe_t *address, const char *identity, const char *name,
                         zframe_t *options)
{
    service_t *service = NULL;
    bool reserved = !*name || strncmp(name, "mmi.", 4) == 0 || streq(name, "journal") ||
                    streq(name, "broker.status");
    if (!reserved)
        service = service_require(self, name);
    if (!service) {
        rp_warn("router: refused READY for '%s' from %s", name, identity);
        zmsg_t *msg = zmsg_new();
        zmsg_addmem(msg, zframe_data(address), zframe_size(address));
        zmsg_addmem(msg, "", 0);
        zmsg_addstr(msg, MDPW_WORKER);
        zmsg_addmem(msg, &(uint8_t){MDPW_DISCONNECT}, 1);
        zmsg_send(&msg, self->socket);
        return;
    }
    worker_t *worker = calloc(1, sizeof *worker);
    assert(worker);
    worker->identity = strdup(identity);
    worker->address = zframe_dup(address);
    worker->service = service;
    worker->credit = ready_credit(options);
    worker->pending = zlist_new();
    worker->expiry = zclock_mono() + EXPIRY_MS;
    zhash_insert(self->workers, identity, worker);
    zlist_append(service->workers, worker);
    rp_info("router: worker %s ready for %s (credit %d)", identity, name, worker->credit);
    if (service->lease && lease_join(service->lease, worker))
        lease_ask(self, service);
    service_dispatch(self, service);
}

//  A REPLY: pass it to the client and free one credit.
static void worker_reply(router_t *self, worker_t *worker, zmsg_t *msg)
{
    zframe_t *client = zmsg_pop(msg), *empty = zmsg_pop(msg), *body = zmsg_pop(msg);
    if (!client || !empty || zframe_size(empty) || !body || zmsg_size(msg)) {
        rp_warn("router: malformed REPLY from %s, dropped", worker->identity);
    } else if (zframe_size(client) == 0) {
        //  A reply to the broker's own lease.granted message: nothing to do.
    } else {
        //  Replies normally come back in order; match the oldest request of
        //  that client (the id only matters if the worker dies later).
        for (request_t *r = zlist_first(worker->pending); r; r = zlist_next(worker->pending))
            if (zframe_eq(r->client, client)) {
                zlist_remove(worker->pending, r);
                request_destroy(&r);
                worker->in_flight--;
                break;
            }
        send_to_client(self, client, worker->service->name, zframe_data(body), zframe_size(body));
    }
    zframe_destroy(&client), zframe_destroy(&empty), zframe_destroy(&body);
    service_dispatch(self, worker->service);
}

static void on_worker(router_t *self, zframe_t *address, zmsg_t *msg)
{
    char *identity = zframe_strhex(address);
    worker_t *worker = zhash_lookup(self->workers, identity);
    zframe_t *command = zmsg_pop(msg);
    int cmd = command && zframe_size(command) == 1 ? *zframe_data(command) : -1;
    zframe_destroy(&command);
    if (worker)
        worker->expiry = zclock_mono() + EXPIRY_MS;

    if (cmd == MDPW_READY && !worker) {
        char *name = zmsg_popstr(msg);
        zframe_t *options = zmsg_pop(msg);
        if (name && strlen(name) <= MDP_SERVICE_MAX && zmsg_size(msg) == 0)
            worker_ready(self, address, identity, name, options);
        else
            rp_warn("router: malformed READY from %s, dropped", identity);
        zstr_free(&name);
        zframe_destroy(&options);
    } else if (cmd == MDPW_REPLY && worker) {
        worker_reply(self, worker, msg);
    } else if (cmd == MDPW_HEARTBEAT && worker) {
        //  expiry refreshed above
    } else if (cmd == MDPW_DISCONNECT && worker) {
        worker_delete(self, worker, false);
    } else if (worker) {
        rp_warn("router: unexpected command %d from worker %s, disconnecting", cmd, identity);
        worker_delete(self, worker, true);
    } else if (cmd != MDPW_DISCONNECT) {
        //  MDP: a message from a worker we do not know gets DISCONNECT.
        rp_warn("router: command %d from unknown worker %s, disconnecting", cmd, identity);
        zmsg_t *out = zmsg_new();
        zmsg_addmem(out, zframe_data(address), zframe_size(address));
        zmsg_addmem(out, "", 0);
        zmsg_addstr(out, MDPW_WORKER);
        zmsg_addmem(out, &(uint8_t){MDPW_DISCONNECT}, 1);
        zmsg_send(&out, self->socket);
    }
    free(identity);
}

//  ---------------------------------------------------------------------
//  The broker's own services

//  RFC 8: the body names a service; "200" if it has a worker, else "404".
static void on_mmi(router_t *self, zframe_t *client, const char *service, zframe_t *body)
{
    const char *code = "501";
    if (streq(service, "mmi.service")) {
        char *name = zframe_strdup(body);
        service_t *target = zhash_lookup(self->services, name);
        code = target && zlist_size(target->workers) ? "200" : "404";
        free(name);
    }
    send_to_client(self, client, service, code, strlen(code));
}

static void on_status(router_t *self, zframe_t *client, zframe_t *body)
{
    zframe_t *id = request_id(body, &self->packer);
    rp_doc_t *iddoc = rp_doc_new(zframe_data(id), zframe_size(id), NULL);
    rp_packer_t *p = &self->packer;
    rp_packer_reset(p);
    rp_reply_pack(&p->pk, rp_doc_root(iddoc), 200, 0, 1);
    rp_pack_cstr(&p->pk, "data");
    msgpack_pack_map(&p->pk, 3);
    rp_pack_cstr(&p->pk, "services");
    msgpack_pack_map(&p->pk, zhash_size(self->services));
    size_t leases = 0;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        size_t in_flight = 0;
        for (worker_t *w = zlist_first(s->workers); w; w = zlist_next(s->workers))
            in_flight += w->in_flight;
        rp_pack_cstr(&p->pk, s->name);
        msgpack_pack_map(&p->pk, 4);
        rp_pack_kv_u64(&p->pk, "workers", zlist_size(s->workers));
        rp_pack_kv_u64(&p->pk, "queued", zlist_size(s->queue));
        rp_pack_kv_u64(&p->pk, "in_flight", in_flight);
        rp_pack_kv_u64(&p->pk, "served", s->served);
        leases += s->lease != NULL;
    }
    rp_pack_cstr(&p->pk, "leases");
    msgpack_pack_map(&p->pk, leases);
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services))
        if (s->lease) {
            //  Leases are reported by service name, without ".writer".
            rp_pack_strn(&p->pk, s->name, strlen(s->name) - strlen(MDP_WRITER_SUFFIX));
            msgpack_pack_map(&p->pk, 3);
            rp_pack_kv_bool(&p->pk, "holder", lease_granted(s->lease));
            rp_pack_kv_u64(&p->pk, "epoch", lease_epoch(s->lease));
            rp_pack_kv_u64(&p->pk, "standbys", lease_standbys(s->lease));
        }
    rp_pack_cstr(&p->pk, "journal");
    msgpack_pack_map(&p->pk, 2);
    rp_pack_kv_u64(&p->pk, "head", journal_head());
    rp_pack_kv_u64(&p->pk, "queued", self->queued);
    send_to_client(self, client, "broker.status", p->buffer.data, p->buffer.size);
    rp_doc_destroy(&iddoc);
    zframe_destroy(&id);
}

//  Forward to the journal actor without ever blocking the router: if the
//  pipe is full the client gets a 503 now rather than the broker stalling.
static void on_journal(router_t *self, zframe_t *client, zframe_t *body)
{
    void *pipe = zsock_resolve(self->journal);
    //  A multipart message is queued whole once its first part is.
    if (zmq_send(pipe, "REQ", 3, ZMQ_DONTWAIT | ZMQ_SNDMORE) == 3) {
        zmq_send(pipe, zframe_data(client), zframe_size(client), ZMQ_SNDMORE);
        zmq_send(pipe, zframe_data(body), zframe_size(body), 0);
        return;
    }
    zframe_t *id = request_id(body, &self->packer);
    reply_error(self, client, id, "journal", 503, "journal_busy",
                "the journal is saturated; retry");
    zframe_destroy(&id);
}

//  A client request: ["MDPC01" popped] service, body.
static void on_client(router_t *self, zframe_t *client, zmsg_t *msg)
{
    char *name = zmsg_popstr(msg);
    zframe_t *body = zmsg_pop(msg);
    if (!name || !body || zmsg_size(msg) || strlen(name) > MDP_SERVICE_MAX || !*name) {
        rp_warn("router: malformed client request, dropped");
    } else if (strncmp(name, "mmi.", 4) == 0) {
        on_mmi(self, client, name, body);
    } else if (streq(name, "broker.status")) {
        on_status(self, client, body);
    } else if (streq(name, "journal")) {
        on_journal(self, client, body);
    } else {
        zframe_t *id = request_id(body, &self->packer);
        service_t *service = service_require(self, name);
        if (!service)
            reply_error(self, client, id, name, 503, "queue_full", "too many services");
        else if (zlist_size(service->queue) >= self->queue_max || self->queued >= self->queue_total)
            reply_error(self, client, id, name, 503, "queue_full",
                        "too many requests waiting for this service; retry later");
        else {
            request_t *request = calloc(1, sizeof *request);
            assert(request);
            request->client = zframe_dup(client);
            request->body = body;
            request->id = id;
            request->deadline = zclock_mono() + self->request_timeout;
            body = id = NULL;
            zlist_append(service->queue, request);
            self->queued++;
            service_dispatch(self, service);
        }
        zframe_destroy(&id);
        if (service)
            service_release(self, service);
    }
    zstr_free(&name);
    zframe_destroy(&body);
}

//  One message on the ROUTER: [address, "", header, ...].
static void on_socket(router_t *self, zmsg_t *msg)
{
    zframe_t *address = zmsg_pop(msg), *empty = zmsg_pop(msg);
    char *header = zmsg_popstr(msg);
    if (!address || !empty || zframe_size(empty) || !header)
        rp_warn("router: malformed message (%zu frames), dropped", zmsg_size(msg) + 3);
    else if (streq(header, MDPC_CLIENT))
        on_client(self, address, msg);
    else if (streq(header, MDPW_WORKER))
        on_worker(self, address, msg);
    else
        rp_warn("router: unknown protocol header, dropped");
    zstr_free(&header);
    zframe_destroy(&empty);
    zframe_destroy(&address);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------------
//  From the journal actor

static void on_granted(router_t *self, zmsg_t *msg)
{
    char *name = zmsg_popstr(msg), *token = zmsg_popstr(msg);
    zframe_t *epoch_frame = zmsg_pop(msg);
    service_t *service = name ? zhash_lookup(self->services, name) : NULL;
    worker_t *holder = service && service->lease ? lease_holder(service->lease) : NULL;
    uint64_t epoch =
        epoch_frame && zframe_size(epoch_frame) == 8 ? rp_seq_get(zframe_data(epoch_frame)) : 0;
    if (holder && token && streq(holder->identity, token) &&
        lease_grant(service->lease, holder, epoch)) {
        //  The documented grant: a REQUEST with an empty client address.
        rp_packer_reset(&self->packer);
        rp_request_pack(&self->packer.pk, 0, "lease.granted", 0, NULL, 1);
        rp_pack_cstr(&self->packer.pk, "args");
        msgpack_pack_map(&self->packer.pk, 2);
        rp_pack_cstr(&self->packer.pk, "service");
        rp_pack_strn(&self->packer.pk, name, strlen(name) - strlen(MDP_WRITER_SUFFIX));
        rp_pack_kv_u64(&self->packer.pk, "epoch", epoch);
        zmsg_t *out = zmsg_new();
        zmsg_addmem(out, "", 0);
        zmsg_addmem(out, "", 0);
        zmsg_addmem(out, self->packer.buffer.data, self->packer.buffer.size);
        send_to_worker(self, holder, MDPW_REQUEST, &out);
        rp_info("router: lease %s granted to %s, epoch %" PRIu64, name, token, epoch);
        service_dispatch(self, service);
    } else if (holder && epoch == 0) {
        rp_warn("router: journal refused lease %s", name ? name : "?");
    }
    zstr_free(&name);
    zstr_free(&token);
    zframe_destroy(&epoch_frame);
}

static void on_pipe(router_t *self, zmsg_t *msg)
{
    char *kind = zmsg_popstr(msg);
    if (kind && streq(kind, "REP") && zmsg_size(msg) == 2) {
        zframe_t *client = zmsg_pop(msg), *body = zmsg_pop(msg);
        send_to_client(self, client, "journal", zframe_data(body), zframe_size(body));
        zframe_destroy(&client);
        zframe_destroy(&body);
    } else if (kind && streq(kind, "GRANTED"))
        on_granted(self, msg);
    zstr_free(&kind);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------------
//  Timers

//  Heartbeat every worker and drop those that went silent.
static void heartbeat(router_t *self)
{
    int64_t now = zclock_mono();
    zlist_t *dead = zlist_new();
    for (worker_t *w = zhash_first(self->workers); w; w = zhash_next(self->workers))
        if (w->expiry < now)
            zlist_append(dead, w);
        else if (now >= self->heartbeat_at)
            send_to_worker(self, w, MDPW_HEARTBEAT, NULL);
    for (worker_t *w = zlist_first(dead); w; w = zlist_next(dead)) {
        rp_warn("router: worker %s of %s expired", w->identity, w->service->name);
        worker_delete(self, w, true);
    }
    zlist_destroy(&dead);
    if (now >= self->heartbeat_at)
        self->heartbeat_at = now + MDP_HEARTBEAT_INTERVAL;
}

//  Answer requests that waited too long for a worker. Queues are in
//  arrival order and share one timeout, so only their heads need looking at.
static void expire_requests(router_t *self)
{
    int64_t now = zclock_mono();
    zlist_t *idle = zlist_new();
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        request_t *request;
        while ((request = zlist_first(s->queue)) && request->deadline <= now) {
            zlist_pop(s->queue);
            self->queued--;
            reply_error(self, request->client, request->id, s->name, 503, "no_worker",
                        s->lease ? "no writer holds the lease for this service"
                                 : "no worker is available for this service");
            request_destroy(&request);
        }
        if (!zlist_size(s->queue) && !zlist_size(s->workers))
            zlist_append(idle, s);
    }
    for (service_t *s = zlist_first(idle); s; s = zlist_next(idle))
        service_release(self, s);
    zlist_destroy(&idle);
}

//  ---------------------------------------------------------------------
//  Lifecycle

router_t *router_new(rp_config_t *config, zactor_t *journal)
{
    const char *endpoint = rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT);
    const char *bind = rp_config_get(config, "broker/bind", endpoint);
    zsock_t *socket = zsock_new(ZMQ_ROUTER);
    assert(socket);
    zsock_set_maxmsgsize(socket, (int)rp_config_int(config, "router/max_message", MDP_MESSAGE_MAX));
    zsock_set_sndhwm(socket, 100000);
    zsock_set_rcvhwm(socket, 100000);
    if (zsock_bind(socket, "%s", bind) < 0) {
        rp_error("router: cannot bind %s: %s", bind, zmq_strerror(zmq_errno()));
        zsock_destroy(&socket);
        return NULL;
    }
    router_t *self = calloc(1, sizeof *self);
    assert(self);
    self->socket = socket;
    self->journal = journal;
    self->services = zhash_new();
    self->workers = zhash_new();
    self->queue_max = (size_t)rp_config_int(config, "router/queue_max", 1000);
    self->queue_total = (size_t)rp_config_int(config, "router/queue_total", 10000);
    self->request_timeout = rp_config_int(config, "router/request_timeout_ms", 5000);
    self->heartbeat_at = zclock_mono() + MDP_HEARTBEAT_INTERVAL;
    rp_packer_init(&self->packer);
    rp_info("router: requests on %s", bind);
    return self;
}

void router_destroy(router_t **self_p)
{
    router_t *self = *self_p;
    if (!self)
        return;
    //  Tell workers we are going, so they reconnect at once to the next broker.
    zlist_t *workers = zhash_keys(self->workers);
    for (char *id = zlist_first(workers); id; id = zlist_next(workers))
        worker_delete(self, zhash_lookup(self->workers, id), true);
    zlist_destroy(&workers);
    //  Requests still queued are dropped with the services.
    zlist_t *names = zhash_keys(self->services);
    for (char *name = zlist_first(names); name; name = zlist_next(names)) {
        service_t *service = zhash_lookup(self->services, name);
        request_t *request;
        while ((request = zlist_pop(service->queue)))
            request_destroy(&request);
        service_release(self, service);
    }
    zlist_destroy(&names);
    zhash_destroy(&self->services);
    zhash_destroy(&self->workers);
    zsock_destroy(&self->socket);
    rp_packer_destroy(&self->packer);
    free(self);
    *self_p = NULL;
}

void router_run(router_t *self)
{
    zsock_set_rcvtimeo(self->socket, 0);
    zsock_set_rcvtimeo(zactor_sock(self->journal), 0);
    zpoller_t *poller = zpoller_new(self->socket, self->journal, NULL);
    while (!zsys_interrupted) {
        //  Wake at least every 100 ms for queue deadlines and heartbeats.
        void *which = zpoller_wait(poller, 100);
        if (zpoller_terminated(poller))
            break;
        //  Drain both sockets (they do not block: receive timeouts are 0),
        //  the ROUTER a bounded number of messages a turn. Receiving until
        //  empty is much cheaper than asking the socket for events.
        (void)which;
        zmsg_t *msg;
        for (int i = 0; i < 1000 && (msg = zmsg_recv(self->socket)); i++)
            on_socket(self, msg);
        while ((msg = zmsg_recv(self->journal)))
            on_pipe(self, msg);
        expire_requests(self);
        heartbeat(self);
    }
    zpoller_destroy(&poller);
}
