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
    pipe never block: a message the pipe cannot take now waits in an
    outbox, in order, and replies from the journal are read on every turn,
    so the two threads can never wait on each other. Lease changes and
    journal requests share that one ordered path: that order is what makes
    fencing safe (journal.h).
*/
#include "router.h"
#include <rapport/integrator.h>
#include "fence.h"
#include "journal.h"
#include "lease.h"

#include <rapport/envelope.h>
#include <rapport/log.h>
#include <rapport/mdp.h>

#include <assert.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>

#define SERVICES_MAX 10000 //  distinct service entries at most
#define WORKERS_MAX  10000 //  registered workers at most
#define OUTBOX_MAX   10000 //  journal requests waiting for room in the pipe
#define TICK_MS      20    //  how often queue deadlines and heartbeats are checked
#define EXPIRY_MS    (MDP_HEARTBEAT_INTERVAL * MDP_HEARTBEAT_LIVENESS)

typedef struct _service_t service_t;

typedef struct {
    zframe_t *client; //  the client's ROUTER identity
    zframe_t *body;   //  NULL once sent to a worker
    zframe_t *id;     //  the request's id, packed (nil when unreadable)
    int64_t deadline;
} request_t;

typedef struct {
    char *identity; //  hex, the key in router->workers
    char *instance; //  from READY's options (for broker.status), or NULL
    zlist_t *owns;  //  a writer's claimed event-type prefixes (strings), from READY
    zframe_t *address;
    service_t *service;
    int credit, in_flight;
    uint64_t worked;  //  tick of its READY or last request: ties go to the oldest
    uint64_t served;  //  requests sent to it
    zlist_t *pending; //  request_t in flight, oldest first
    int64_t expiry;
} worker_t;

struct _service_t {
    char *name;
    zlist_t *workers; //  worker_t, registration order
    zlist_t *queue;   //  request_t waiting for a worker
    lease_t *lease;   //  for "<S>.writer" only
    char *grant;      //  ticket of the GRANT the journal has yet to answer
    uint64_t served;
};

struct _router_t {
    zsock_t *socket;
    zactor_t *journal;
    zlist_t *outbox;   //  zmsg_t for the journal, oldest first
    zhash_t *services; //  name → service_t
    zhash_t *workers;  //  identity → worker_t
    size_t queued;     //  requests waiting, over all services
    size_t queue_max, queue_total;
    int64_t request_timeout;
    int64_t heartbeat_at, tick_at;
    uint64_t ticks;  //  orders workers by when they last got work
    uint64_t grants; //  makes every GRANT ticket unique
    bool stopping;   //  shutting down: no more lease changes
    bool drain;      //  drain the sockets again before sleeping (router_turn)
    struct pollfd fds[2];
    rp_packer_t packer;
};

//  ---------------------------------------------------------------------
//  Requests

//  The id of a request body, packed, so any error reply can echo it.
static zframe_t *s_request_id(zframe_t *body, rp_packer_t *packer)
{
    rp_packer_reset(packer);
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
    const msgpack_object *id =
        root && root->type == MSGPACK_OBJECT_MAP ? rp_obj_get(root, "id") : NULL;
    if (id && id->type != MSGPACK_OBJECT_MAP && id->type != MSGPACK_OBJECT_ARRAY)
        msgpack_pack_object(&packer->pk, *id);
    else
        msgpack_pack_nil(&packer->pk);
    rp_doc_destroy(&doc);
    return zframe_new(packer->buffer.data, packer->buffer.size);
}

static void s_request_destroy(request_t **self_p)
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

//  Send a reply to a client: [client, "", "MDPC01", service, body]. The
//  body frame is taken (no copy of what may be megabytes).
static void s_send_frame_to_client(router_t *self, zframe_t *client, const char *service,
                                   zframe_t **body_p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_append(msg, body_p);
    zmsg_send(&msg, self->socket);
}

static void s_send_to_client(router_t *self, zframe_t *client, const char *service,
                             const void *body, size_t size)
{
    s_send_frame_to_client(self, client, service, &(zframe_t *){zframe_new(body, size)});
}

//  Answer a request with an error body {id, status, error:{code, message}}.
static void s_reply_error(router_t *self, zframe_t *client, zframe_t *id, const char *service,
                          int status, const char *code, const char *message)
{
    msgpack_object idobj = {.type = MSGPACK_OBJECT_NIL};
    rp_doc_t *doc = id ? rp_doc_new(zframe_data(id), zframe_size(id), NULL) : NULL;
    if (doc)
        idobj = *rp_doc_root(doc);
    rp_packer_reset(&self->packer);
    rp_reply_pack_error(&self->packer.pk, &idobj, status, code, message);
    s_send_to_client(self, client, service, self->packer.buffer.data, self->packer.buffer.size);
    rp_doc_destroy(&doc);
}

//  ---------------------------------------------------------------------
//  The journal actor's pipe

//  Send one message without blocking. Only the first frame can meet a full
//  pipe: libzmq queues a multipart message whole once its first part is in.
static bool s_pipe_try(router_t *self, zmsg_t *msg)
{
    zsock_t *pipe = zactor_sock(self->journal);
    zframe_t *frame = zmsg_first(msg);
    int more = zmsg_size(msg) > 1 ? ZFRAME_MORE : 0;
    if (zframe_send(&frame, pipe, ZFRAME_REUSE | ZFRAME_DONTWAIT | more) < 0)
        return false;
    frame = zmsg_pop(msg);
    zframe_destroy(&frame);
    while ((frame = zmsg_pop(msg))) {
        zframe_send(&frame, pipe, zmsg_size(msg) ? ZFRAME_MORE : 0);
        zframe_destroy(&frame); //  only if the send failed, which it cannot
    }
    return true;
}

//  Pass queued messages to the journal while it takes them.
static void s_pipe_flush(router_t *self)
{
    zmsg_t *msg;
    while ((msg = zlist_first(self->outbox)) && s_pipe_try(self, msg)) {
        zlist_pop(self->outbox);
        zmsg_destroy(&msg);
    }
}

//  Send to the journal in order with everything sent before. A lease
//  change is never refused (there is at most one per worker event); a
//  request is, when the outbox is full: returns false and leaves *msg_p.
static bool s_pipe_send(router_t *self, zmsg_t **msg_p, bool lease_change)
{
    if (zlist_size(self->outbox) == 0 && s_pipe_try(self, *msg_p)) {
        zmsg_destroy(msg_p);
        return true;
    }
    if (!lease_change && zlist_size(self->outbox) >= OUTBOX_MAX)
        return false;
    zlist_append(self->outbox, *msg_p);
    *msg_p = NULL;
    return true;
}

//  ---------------------------------------------------------------------
//  Services

//  A service name: 1..MDP_SERVICE_MAX bytes, no control characters (so no
//  NUL either: names are C strings and hash keys).
static char *s_name_pop(zmsg_t *msg)
{
    zframe_t *frame = zmsg_pop(msg);
    size_t size = frame ? zframe_size(frame) : 0;
    bool valid = size > 0 && size <= MDP_SERVICE_MAX;
    for (size_t i = 0; valid && i < size; i++)
        valid = zframe_data(frame)[i] >= 0x20 && zframe_data(frame)[i] != 0x7f;
    char *name = valid ? zframe_strdup(frame) : NULL;
    zframe_destroy(&frame);
    return name;
}

static bool is_writer_name(const char *name)
{
    return rp_mdp_base_len(name, strlen(name)) != strlen(name);
}

//  The broker answers these itself; no worker may take them over.
static bool is_broker_service(const char *name)
{
    return strncmp(name, "mmi.", 4) == 0 || streq(name, "journal") || streq(name, "broker.status");
}

static service_t *s_service_require(router_t *self, const char *name)
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

//  Free a service and whatever it still holds (at shutdown, or once idle).
static void s_service_destroy(router_t *self, service_t *service)
{
    zhash_delete(self->services, service->name);
    lease_destroy(&service->lease);
    zlist_destroy(&service->workers);
    zlist_destroy(&service->queue);
    zstr_free(&service->grant);
    free(service->name);
    free(service);
}

//  Forget a service that has nothing left: no workers, nothing queued. A
//  lease that was granted once stays, vacant, so broker.status shows that
//  the service has lost its writer (the gateway's /ready depends on it).
static void s_service_release(router_t *self, service_t *service)
{
    if (zlist_size(service->workers) || zlist_size(service->queue) ||
        (service->lease && lease_epoch(service->lease) > 0))
        return;
    s_service_destroy(self, service);
}

//  ---------------------------------------------------------------------
//  Workers

static void s_send_command(router_t *self, zframe_t *address, int command, zmsg_t **body_p)
{
    zmsg_t *msg = body_p && *body_p ? *body_p : zmsg_new();
    if (body_p)
        *body_p = NULL;
    zmsg_pushmem(msg, &(uint8_t){(uint8_t)command}, 1);
    zmsg_pushstr(msg, MDPW_WORKER);
    zmsg_pushmem(msg, "", 0);
    zmsg_prepend(msg, &(zframe_t *){zframe_dup(address)});
    zmsg_send(&msg, self->socket);
}

//  Ask the journal for the next epoch for the (pending) holder. The ticket
//  is unique per GRANT, so a late answer for a holder that left (even one
//  that came back under the same identity) cannot be taken for this one.
static void s_lease_ask(router_t *self, service_t *service)
{
    worker_t *holder = lease_holder(service->lease);
    zstr_free(&service->grant);
    if (!holder || self->stopping)
        return;
    service->grant = zsys_sprintf("%s/%" PRIu64, holder->identity, ++self->grants);
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "GRANT");
    zmsg_addstr(msg, service->name);
    zmsg_addstr(msg, service->grant);
    for (char *prefix = holder->owns ? zlist_first(holder->owns) : NULL; prefix;
         prefix = zlist_next(holder->owns))
        zmsg_addstr(msg, prefix);
    s_pipe_send(self, &msg, true);
}

//  The holder left: the journal refuses its epoch from now on (REVOKE goes
//  down the same ordered path as appends), then the oldest standby is asked
//  to take over.
static void s_lease_vacate(router_t *self, service_t *service)
{
    if (self->stopping)
        return;
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "REVOKE");
    zmsg_addstr(msg, service->name);
    s_pipe_send(self, &msg, true);
    rp_info("router: writer of %s gone, lease vacant", service->name);
    s_lease_ask(self, service);
}

static void s_worker_delete(router_t *self, worker_t *worker, bool disconnect)
{
    if (disconnect)
        s_send_command(self, worker->address, MDPW_DISCONNECT, NULL);
    service_t *service = worker->service;
    //  Its clients learn at once that their requests are lost; they retry
    //  with the same idem key if they want (we never resend on our own).
    request_t *request;
    while ((request = zlist_pop(worker->pending))) {
        s_reply_error(self, request->client, request->id, service->name, 503, "worker_lost",
                      "the worker died with the request in flight; retry");
        s_request_destroy(&request);
    }
    zlist_destroy(&worker->pending);
    zlist_remove(service->workers, worker);
    if (service->lease && lease_leave(service->lease, worker))
        s_lease_vacate(self, service);
    rp_info("router: worker %s of %s removed", worker->identity, service->name);
    zhash_delete(self->workers, worker->identity);
    zframe_destroy(&worker->address);
    free(worker->identity);
    free(worker->instance);
    zlist_destroy(&worker->owns);
    free(worker);
    s_service_release(self, service);
}

//  A writer's claims, {owns: ["customer.", …]} (fence.h): at most
//  FENCE_MAX_CLAIMS valid prefixes, else false (the READY is refused).
//  The journal decides them when it grants the lease.
static bool s_ready_owns(worker_t *worker, const msgpack_object *owns)
{
    if (!owns || owns->type == MSGPACK_OBJECT_NIL)
        return true;
    if (!rp_obj_is_array(owns) || owns->via.array.size > FENCE_MAX_CLAIMS ||
        !is_writer_name(worker->service->name))
        return false;
    worker->owns = zlist_new();
    zlist_autofree(worker->owns);
    for (uint32_t i = 0; i < owns->via.array.size; i++) {
        const char *str;
        size_t len;
        char prefix[FENCE_MAX_PREFIX + 1];
        if (!rp_obj_str(&owns->via.array.ptr[i], &str, &len) || !fence_prefix_valid(str, len))
            return false;
        memcpy(prefix, str, len);
        prefix[len] = 0;
        zlist_append(worker->owns, prefix);
    }
    return true;
}

//  READY's options frame, parsed once: the credit a worker asked for
//  (else 1), the instance name it gave ({instance: str}, 1–96 bytes of
//  UTF-8, as in its log lines; else NULL), which only broker.status
//  reports, so an operator can tell the workers apart, and a writer's
//  claims (ready_owns). Returns false if the claims are malformed.
static bool s_ready_options(worker_t *worker, zframe_t *options, const char *identity)
{
    bool ok = true;
    uint64_t credit = 1;
    worker->instance = NULL;
    if (options) {
        rp_doc_t *doc = rp_doc_new(zframe_data(options), zframe_size(options), NULL);
        const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
        const char *str;
        size_t len;
        if (!root || root->type != MSGPACK_OBJECT_MAP)
            rp_warn("router: unreadable READY options from %s, credit 1", identity);
        else {
            if (rp_obj_u64(rp_obj_get(root, "credit"), &credit))
                credit = credit < 1 ? 1 : credit > MDP_CREDIT_MAX ? MDP_CREDIT_MAX : credit;
            else
                credit = 1;
            if (rp_obj_str(rp_obj_get(root, "instance"), &str, &len) && len > 0 && len <= 96)
                worker->instance = strndup(str, len);
            ok = s_ready_owns(worker, rp_obj_get(root, "owns"));
        }
        rp_doc_destroy(&doc);
    }
    worker->credit = (int)credit;
    return ok;
}

//  The worker that should take the next request of a service: a granted
//  lease holder for "<S>.writer", else the one with the most free credit
//  (on ties, the one that has gone longest without work).
static worker_t *s_service_pick(service_t *service)
{
    if (service->lease) {
        worker_t *holder = lease_holder(service->lease);
        return lease_granted(service->lease) && holder->in_flight < holder->credit ? holder : NULL;
    }
    worker_t *best = NULL;
    int best_free = 0;
    for (worker_t *w = zlist_first(service->workers); w; w = zlist_next(service->workers)) {
        int free_credit = w->credit - w->in_flight;
        if (free_credit > best_free ||
            (free_credit == best_free && best && w->worked < best->worked))
            best = w, best_free = free_credit;
    }
    return best;
}

//  Send queued requests to workers with free credit.
static void s_service_dispatch(router_t *self, service_t *service)
{
    worker_t *worker;
    while (zlist_size(service->queue) && (worker = s_service_pick(service))) {
        request_t *request = zlist_pop(service->queue);
        self->queued--;
        zmsg_t *msg = zmsg_new();
        zmsg_append(msg, &(zframe_t *){zframe_dup(request->client)});
        zmsg_addmem(msg, "", 0);
        zmsg_append(msg, &request->body);
        s_send_command(self, worker->address, MDPW_REQUEST, &msg);
        worker->in_flight++;
        worker->worked = ++self->ticks;
        worker->served++;
        service->served++;
        zlist_append(worker->pending, request);
    }
}

static void s_worker_ready(router_t *self, zframe_t *address, const char *identity,
                           const char *name, zframe_t *options)
{
    service_t *service = NULL;
    if (!is_broker_service(name) && zhash_size(self->workers) < WORKERS_MAX)
        service = s_service_require(self, name);
    if (!service) {
        rp_warn("router: refused READY for '%s' from %s", name, identity);
        s_send_command(self, address, MDPW_DISCONNECT, NULL);
        return;
    }
    worker_t *worker = calloc(1, sizeof *worker);
    assert(worker);
    worker->identity = strdup(identity);
    worker->address = zframe_dup(address);
    worker->service = service;
    worker->pending = zlist_new();
    if (!s_ready_options(worker, options, identity)) {
        rp_warn("router: refused READY for '%s' from %s: malformed owns", name, identity);
        s_send_command(self, address, MDPW_DISCONNECT, NULL);
        free(worker->instance);
        zlist_destroy(&worker->owns);
        zlist_destroy(&worker->pending);
        zframe_destroy(&worker->address);
        free(worker->identity);
        free(worker);
        s_service_release(self, service);
        return;
    }
    worker->worked = ++self->ticks;
    worker->expiry = zclock_mono() + EXPIRY_MS;
    zhash_insert(self->workers, identity, worker);
    zlist_append(service->workers, worker);
    rp_info("router: worker %s ready for %s (credit %d)", identity, name, worker->credit);
    if (service->lease && lease_join(service->lease, worker))
        s_lease_ask(self, service);
    s_service_dispatch(self, service);
}

//  A REPLY [client, "", body]: pass it to the client and free one credit.
//  Returns false if the message is malformed.
static bool s_worker_reply(router_t *self, worker_t *worker, zmsg_t *msg)
{
    zframe_t *client = zmsg_first(msg), *empty = zmsg_next(msg), *body = zmsg_next(msg);
    if (zmsg_size(msg) != 3 || zframe_size(empty) != 0)
        return false;
    if (zframe_size(client) == 0) {
        //  A reply to the broker's own lease.granted message: dropped.
        rp_debug("router: reply to an empty address from %s, dropped", worker->identity);
        return true;
    }
    //  Replies normally come back in order; match the oldest request of
    //  that client (the id only matters if the worker dies later).
    request_t *r;
    for (r = zlist_first(worker->pending); r; r = zlist_next(worker->pending))
        if (zframe_eq(r->client, client))
            break;
    if (!r) {
        rp_warn("router: REPLY from %s for a request it does not hold, dropped", worker->identity);
        return true;
    }
    zlist_remove(worker->pending, r);
    s_request_destroy(&r);
    worker->in_flight--;
    zmsg_remove(msg, body);
    s_send_frame_to_client(self, client, worker->service->name, &body);
    s_service_dispatch(self, worker->service);
    return true;
}

//  MDP: a peer that breaks the protocol, or that we do not know, is told
//  DISCONNECT and forgotten.
static void s_worker_refuse(router_t *self, zframe_t *address, worker_t *worker, const char *why,
                            int cmd, const char *identity)
{
    rp_warn("router: %s (command %d) from %s worker %s, disconnecting", why, cmd,
            worker ? "registered" : "unknown", identity);
    if (worker)
        s_worker_delete(self, worker, true);
    else
        s_send_command(self, address, MDPW_DISCONNECT, NULL);
}

//  A worker message: ["MDPW01" popped] command, ...
static void s_on_worker(router_t *self, zframe_t *address, zmsg_t *msg)
{
    char *identity = zframe_strhex(address);
    worker_t *worker = zhash_lookup(self->workers, identity);
    zframe_t *command = zmsg_pop(msg);
    int cmd = command && zframe_size(command) == 1 ? *zframe_data(command) : -1;
    zframe_destroy(&command);
    if (worker)
        worker->expiry = zclock_mono() + EXPIRY_MS; //  any message is a sign of life

    if (cmd == MDPW_READY && !worker) {
        char *name = zmsg_size(msg) >= 1 && zmsg_size(msg) <= 2 ? s_name_pop(msg) : NULL;
        if (name) {
            zframe_t *options = zmsg_pop(msg);
            s_worker_ready(self, address, identity, name, options);
            zframe_destroy(&options);
            zstr_free(&name);
        } else
            s_worker_refuse(self, address, NULL, "malformed READY", cmd, identity);
    } else if (!worker) {
        if (cmd != MDPW_DISCONNECT)
            s_worker_refuse(self, address, NULL, "message before READY", cmd, identity);
    } else if (cmd == MDPW_REPLY) {
        if (!s_worker_reply(self, worker, msg))
            s_worker_refuse(self, address, worker, "malformed REPLY", cmd, identity);
    } else if (cmd == MDPW_HEARTBEAT && zmsg_size(msg) == 0) {
        //  expiry refreshed above
    } else if (cmd == MDPW_DISCONNECT && zmsg_size(msg) == 0) {
        rp_info("router: worker %s of %s disconnects", identity, worker->service->name);
        s_worker_delete(self, worker, false);
    } else
        s_worker_refuse(self, address, worker, "unexpected or malformed command", cmd, identity);
    free(identity);
}

//  ---------------------------------------------------------------------
//  The broker's own services

//  RFC 8: the body names a service; "200" if it has a worker (or is one of
//  the broker's own), else "404". Other mmi.* services answer "501".
static void s_on_mmi(router_t *self, zframe_t *client, const char *service, zframe_t *body)
{
    const char *code = "501";
    if (streq(service, "mmi.service")) {
        char *name = zframe_strdup(body);
        service_t *target = zhash_lookup(self->services, name);
        bool own =
            streq(name, "journal") || streq(name, "broker.status") || streq(name, "mmi.service");
        code = own || (target && zlist_size(target->workers)) ? "200" : "404";
        free(name);
    }
    s_send_to_client(self, client, service, code, strlen(code));
}

//  One worker in broker.status: {instance (nil if it gave none), served,
//  in_flight}.
static void status_pack_worker(msgpack_packer *pk, worker_t *w)
{
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "instance");
    if (w->instance)
        rp_pack_cstr(pk, w->instance);
    else
        msgpack_pack_nil(pk);
    rp_pack_kv_u64(pk, "served", w->served);
    rp_pack_kv_u64(pk, "in_flight", (uint64_t)w->in_flight);
}

//  The status data: {services: {name: {workers, queued, in_flight,
//  served, instances: [worker…]}}, leases: {S: {holder, epoch, standbys,
//  holder_instance}}, journal: {head, queued}} (queued: requests waiting
//  over all services).
static void status_pack(router_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "services");
    msgpack_pack_map(pk, zhash_size(self->services));
    size_t leases = 0;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        size_t in_flight = 0;
        for (worker_t *w = zlist_first(s->workers); w; w = zlist_next(s->workers))
            in_flight += w->in_flight;
        rp_pack_cstr(pk, s->name);
        msgpack_pack_map(pk, 5);
        rp_pack_kv_u64(pk, "workers", zlist_size(s->workers));
        rp_pack_kv_u64(pk, "queued", zlist_size(s->queue));
        rp_pack_kv_u64(pk, "in_flight", in_flight);
        rp_pack_kv_u64(pk, "served", s->served);
        rp_pack_cstr(pk, "instances");
        msgpack_pack_array(pk, zlist_size(s->workers));
        for (worker_t *w = zlist_first(s->workers); w; w = zlist_next(s->workers))
            status_pack_worker(pk, w);
        leases += s->lease != NULL;
    }
    rp_pack_cstr(pk, "leases");
    msgpack_pack_map(pk, leases);
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services))
        if (s->lease) {
            //  Leases are reported by service name, without ".writer".
            rp_pack_strn(pk, s->name, strlen(s->name) - strlen(MDP_WRITER_SUFFIX));
            msgpack_pack_map(pk, 4);
            rp_pack_kv_bool(pk, "holder", lease_granted(s->lease));
            rp_pack_kv_u64(pk, "epoch", lease_epoch(s->lease));
            rp_pack_kv_u64(pk, "standbys", lease_standbys(s->lease));
            worker_t *holder = lease_granted(s->lease) ? lease_holder(s->lease) : NULL;
            rp_pack_cstr(pk, "holder_instance");
            if (holder && holder->instance)
                rp_pack_cstr(pk, holder->instance);
            else
                msgpack_pack_nil(pk);
        }
    rp_pack_cstr(pk, "journal");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_u64(pk, "head", journal_head());
    rp_pack_kv_u64(pk, "queued", self->queued);
}

static void s_on_status(router_t *self, zframe_t *client, zframe_t *body)
{
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    rp_request_t request;
    if (!doc || rp_request_parse(rp_doc_root(doc), &request)) {
        zframe_t *id = s_request_id(body, &self->packer);
        s_reply_error(self, client, id, "broker.status", 400, "bad_request",
                      "the body is not a request envelope");
        zframe_destroy(&id);
    } else {
        rp_packer_t *p = &self->packer;
        rp_packer_reset(p);
        rp_reply_pack(&p->pk, request.id, 200, 0, 1);
        rp_pack_cstr(&p->pk, "data");
        status_pack(self, &p->pk);
        s_send_to_client(self, client, "broker.status", p->buffer.data, p->buffer.size);
    }
    rp_doc_destroy(&doc);
}

//  Forward to the journal actor: ["REQ", client, body]. If even the outbox
//  is full the client gets a 503 now rather than the broker stalling.
static void s_on_journal(router_t *self, zframe_t *client, zframe_t **body_p)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "REQ");
    zmsg_append(msg, &(zframe_t *){zframe_dup(client)});
    zmsg_append(msg, body_p);
    if (s_pipe_send(self, &msg, false))
        return;
    zframe_t *id = s_request_id(zmsg_last(msg), &self->packer);
    s_reply_error(self, client, id, "journal", 503, "journal_busy",
                  "the journal is saturated; retry");
    zframe_destroy(&id);
    zmsg_destroy(&msg);
}

//  Queue a request for a worker service, and dispatch what can be.
static void s_on_request(router_t *self, zframe_t *client, const char *name, zframe_t **body_p)
{
    zframe_t *id = s_request_id(*body_p, &self->packer);
    service_t *service = s_service_require(self, name);
    if (!service)
        s_reply_error(self, client, id, name, 503, "queue_full", "too many services; retry later");
    else if (zlist_size(service->queue) >= self->queue_max || self->queued >= self->queue_total)
        s_reply_error(self, client, id, name, 503, "queue_full",
                      "too many requests waiting for this service; retry later");
    else {
        request_t *request = calloc(1, sizeof *request);
        assert(request);
        request->client = zframe_dup(client);
        request->body = *body_p;
        *body_p = NULL;
        request->id = id;
        id = NULL;
        request->deadline = zclock_mono() + self->request_timeout;
        zlist_append(service->queue, request);
        self->queued++;
        s_service_dispatch(self, service);
    }
    zframe_destroy(&id);
    if (service)
        s_service_release(self, service);
}

//  A client request: ["MDPC01" popped] service, body.
static void s_on_client(router_t *self, zframe_t *client, zmsg_t *msg)
{
    char *name = zmsg_size(msg) == 2 ? s_name_pop(msg) : NULL;
    zframe_t *body = name ? zmsg_pop(msg) : NULL;
    if (!name)
        rp_warn("router: malformed client request (%zu frames or bad service name), dropped",
                zmsg_size(msg) + 1);
    else if (strncmp(name, "mmi.", 4) == 0)
        s_on_mmi(self, client, name, body);
    else if (streq(name, "broker.status"))
        s_on_status(self, client, body);
    else if (streq(name, "journal"))
        s_on_journal(self, client, &body);
    else
        s_on_request(self, client, name, &body);
    zstr_free(&name);
    zframe_destroy(&body);
}

//  One message on the ROUTER: [address, "", header, ...].
static void s_on_socket(router_t *self, zmsg_t *msg)
{
    size_t frames = zmsg_size(msg);
    zframe_t *address = zmsg_pop(msg), *empty = zmsg_pop(msg), *header = zmsg_pop(msg);
    if (!header || zframe_size(empty))
        rp_warn("router: malformed message (%zu frames), dropped", frames);
    else if (zframe_streq(header, MDPC_CLIENT))
        s_on_client(self, address, msg);
    else if (zframe_streq(header, MDPW_WORKER))
        s_on_worker(self, address, msg);
    else
        rp_warn("router: unknown protocol header (%zu bytes), dropped", zframe_size(header));
    zframe_destroy(&header);
    zframe_destroy(&empty);
    zframe_destroy(&address);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------------
//  From the journal actor

//  ["GRANTED", service, ticket, epoch, lease token]: if the ticket is that
//  of the GRANT we are waiting for, the holder is told its epoch and lease
//  token with the documented REQUEST (empty client address, op
//  lease.granted) over its own worker connection, the only place the token
//  ever goes, and then gets work.
static void s_on_granted(router_t *self, zmsg_t *msg)
{
    char *name = zmsg_popstr(msg), *ticket = zmsg_popstr(msg);
    zframe_t *epoch_frame = zmsg_pop(msg);
    char *token = zmsg_popstr(msg), *refusal = zmsg_popstr(msg);
    service_t *service = name ? zhash_lookup(self->services, name) : NULL;
    uint64_t epoch =
        epoch_frame && zframe_size(epoch_frame) == 8 ? rp_seq_get(zframe_data(epoch_frame)) : 0;
    if (!service || !service->lease || !service->grant || !ticket ||
        !streq(service->grant, ticket)) {
        rp_debug("router: stale grant for %s, ignored", name ? name : "?");
    } else {
        zstr_free(&service->grant);
        worker_t *holder = lease_holder(service->lease);
        if (holder && token && *token && lease_grant(service->lease, holder, epoch)) {
            rp_packer_reset(&self->packer);
            rp_request_pack(&self->packer.pk, 0, "lease.granted", 0, NULL, 1);
            rp_pack_cstr(&self->packer.pk, "args");
            msgpack_pack_map(&self->packer.pk, 3);
            rp_pack_cstr(&self->packer.pk, "service");
            rp_pack_strn(&self->packer.pk, name, strlen(name) - strlen(MDP_WRITER_SUFFIX));
            rp_pack_kv_u64(&self->packer.pk, "epoch", epoch);
            rp_pack_kv_cstr(&self->packer.pk, "token", token);
            zmsg_t *out = zmsg_new();
            zmsg_addmem(out, "", 0);
            zmsg_addmem(out, "", 0);
            zmsg_addmem(out, self->packer.buffer.data, self->packer.buffer.size);
            sodium_memzero(self->packer.buffer.data, self->packer.buffer.size);
            s_send_command(self, holder->address, MDPW_REQUEST, &out);
            rp_info("router: lease %s granted to %s, epoch %" PRIu64, name, holder->identity,
                    epoch);
            s_service_dispatch(self, service);
        } else if (holder && refusal && *refusal) {
            //  Its claims overlap another service's prefixes: that is no
            //  writer we want, and it is not asked again.
            rp_error("router: journal refused lease %s to %s: %s; disconnecting it", name,
                     holder->identity, refusal);
            s_worker_delete(self, holder, true);
        } else
            //  Asked again on the next heartbeat (heartbeat() below).
            rp_error("router: journal refused lease %s (epoch %" PRIu64 ")", name, epoch);
    }
    if (token)
        sodium_memzero(token, strlen(token));
    zstr_free(&name);
    zstr_free(&ticket);
    zstr_free(&token);
    zstr_free(&refusal);
    zframe_destroy(&epoch_frame);
}

//  ["LEASES", (service, epoch)…]: the leases granted before this start.
//  Each is listed, vacant, until a worker takes it, so broker.status (and
//  the gateway's /ready) shows a service whose writer never came back.
static void s_on_leases(router_t *self, zmsg_t *msg)
{
    while (zmsg_size(msg) >= 2) {
        char *name = zmsg_popstr(msg);
        zframe_t *epoch = zmsg_pop(msg);
        char writer[MDP_SERVICE_MAX + 1];
        if (name && zframe_size(epoch) == 8 &&
            strlen(name) + strlen(MDP_WRITER_SUFFIX) <= MDP_SERVICE_MAX) {
            snprintf(writer, sizeof writer, "%s" MDP_WRITER_SUFFIX, name);
            service_t *service = s_service_require(self, writer);
            if (service && service->lease)
                lease_restore(service->lease, rp_seq_get(zframe_data(epoch)));
        }
        zstr_free(&name);
        zframe_destroy(&epoch);
    }
}

static void s_on_pipe(router_t *self, zmsg_t *msg)
{
    char *kind = zmsg_popstr(msg);
    if (kind && streq(kind, "REP") && zmsg_size(msg) == 2) {
        zframe_t *client = zmsg_pop(msg), *body = zmsg_pop(msg);
        s_send_frame_to_client(self, client, "journal", &body);
        zframe_destroy(&client);
        zframe_destroy(&body);
    } else if (kind && streq(kind, "GRANTED") && zmsg_size(msg) == 5)
        s_on_granted(self, msg);
    else if (kind && streq(kind, "LEASES") && zmsg_size(msg) % 2 == 0)
        s_on_leases(self, msg);
    else
        rp_error("router: unexpected message from the journal, dropped");
    zstr_free(&kind);
    zmsg_destroy(&msg);
}

//  ---------------------------------------------------------------------
//  Timers

//  True if w is of an instance (READY's {instance}) that has a worker in dead.
static bool s_instance_dead(const worker_t *w, zlist_t *dead)
{
    if (!w->instance)
        return false;
    for (const worker_t *d = zlist_first(dead); d; d = zlist_next(dead))
        if (d->instance && streq(d->instance, w->instance))
            return true;
    return false;
}

//  Heartbeat every worker and drop those that went silent, with the other
//  workers of their instance: a service's reader and writer sockets live
//  in one process, and a read sent to the reader of a process whose
//  writer expired would only come back worker_lost. Ask again for leases
//  the journal refused.
static void s_heartbeat(router_t *self, int64_t now)
{
    zlist_t *dead = zlist_new();
    bool beat = now >= self->heartbeat_at;
    for (worker_t *w = zhash_first(self->workers); w; w = zhash_next(self->workers))
        if (w->expiry < now)
            zlist_append(dead, w);
    if (zlist_size(dead) > 0)
        for (worker_t *w = zhash_first(self->workers); w; w = zhash_next(self->workers))
            if (w->expiry >= now && s_instance_dead(w, dead))
                zlist_append(dead, w);
    for (worker_t *w = zhash_first(self->workers); w && beat; w = zhash_next(self->workers))
        if (!zlist_exists(dead, w))
            s_send_command(self, w->address, MDPW_HEARTBEAT, NULL);
    for (worker_t *w = zlist_first(dead); w; w = zlist_next(dead)) {
        rp_warn("router: worker %s of %s expired", w->identity, w->service->name);
        s_worker_delete(self, w, true);
    }
    zlist_destroy(&dead);
    if (!beat)
        return;
    self->heartbeat_at = now + MDP_HEARTBEAT_INTERVAL;
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services))
        if (s->lease && lease_holder(s->lease) && !lease_granted(s->lease) && !s->grant)
            s_lease_ask(self, s);
}

//  Answer requests that waited too long for a worker. Queues are in
//  arrival order and share one timeout, so only their heads need looking at.
static void s_expire_requests(router_t *self, int64_t now)
{
    zlist_t *idle = zlist_new();
    for (service_t *s = zhash_first(self->services); s; s = zhash_next(self->services)) {
        request_t *request;
        while ((request = zlist_first(s->queue)) && request->deadline <= now) {
            zlist_pop(s->queue);
            self->queued--;
            s_reply_error(self, request->client, request->id, s->name, 503, "no_worker",
                          s->lease ? "no writer holds the lease for this service"
                                   : "no worker is available for this service");
            s_request_destroy(&request);
        }
        if (!zlist_size(s->queue) && !zlist_size(s->workers))
            zlist_append(idle, s);
    }
    for (service_t *s = zlist_first(idle); s; s = zlist_next(idle))
        s_service_release(self, s);
    zlist_destroy(&idle);
}

//  ---------------------------------------------------------------------
//  Lifecycle

router_t *router_new(rp_config_t *config, zactor_t *journal)
{
    const char *endpoint = rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT);
    const char *bind = rp_config_get(config, "broker/bind", endpoint);
    int64_t max_message = rp_config_int(config, "router/max_message", MDP_MESSAGE_MAX);
    if (max_message < 1024 || max_message > INT32_MAX)
        max_message = MDP_MESSAGE_MAX;
    zsock_t *socket = zsock_new(ZMQ_ROUTER);
    assert(socket);
    zsock_set_maxmsgsize(socket, (int)max_message);
    zsock_set_sndhwm(socket, 100000);
    zsock_set_rcvhwm(socket, 100000);
    //  A client that vanished must not block the broker: drop, don't wait.
    zsock_set_router_mandatory(socket, 0);
    if (zsock_bind(socket, "%s", bind) < 0) {
        rp_error("router: cannot bind %s: %s", bind, zmq_strerror(zmq_errno()));
        zsock_destroy(&socket);
        return NULL;
    }
    router_t *self = calloc(1, sizeof *self);
    assert(self);
    self->socket = socket;
    self->journal = journal;
    self->outbox = zlist_new();
    self->services = zhash_new();
    self->workers = zhash_new();
    int64_t queue_max = rp_config_int(config, "router/queue_max", 1000);
    int64_t queue_total = rp_config_int(config, "router/queue_total", 10000);
    int64_t timeout = rp_config_int(config, "router/request_timeout_ms", 5000);
    self->queue_max = queue_max < 0 ? 0 : (size_t)queue_max;
    self->queue_total = queue_total < 0 ? 0 : (size_t)queue_total;
    self->request_timeout = timeout < 0 ? 0 : timeout;
    self->heartbeat_at = zclock_mono() + MDP_HEARTBEAT_INTERVAL;
    rp_packer_init(&self->packer);
    //  Receives do not block, so both sockets are drained by receiving
    //  until empty: much cheaper than asking them for events each time.
    zsock_set_rcvtimeo(self->socket, 0);
    zsock_set_rcvtimeo(zactor_sock(self->journal), 0);
    self->fds[0] = (struct pollfd){zsock_fd(self->socket), POLLIN, 0};
    self->fds[1] = (struct pollfd){zsock_fd(zactor_sock(self->journal)), POLLIN, 0};
    self->drain = true;
    zmsg_t *leases = zmsg_new(); //  which services had writers before (on_leases)
    zmsg_addstr(leases, "LEASES");
    s_pipe_send(self, &leases, true);
    rp_info("router: requests on %s (max message %" PRId64 " B, queue %zu/%zu, timeout %" PRId64
            " ms)",
            bind, max_message, self->queue_max, self->queue_total, self->request_timeout);
    return self;
}

void router_destroy(router_t **self_p)
{
    router_t *self = *self_p;
    if (!self)
        return;
    //  Tell workers we are going, so they reconnect at once to the next
    //  broker; leases end with the broker, so nobody is promoted now.
    self->stopping = true;
    zlist_t *workers = zhash_keys(self->workers);
    for (char *id = zlist_first(workers); id; id = zlist_next(workers))
        s_worker_delete(self, zhash_lookup(self->workers, id), true);
    zlist_destroy(&workers);
    //  Requests still queued are dropped with the services.
    zlist_t *names = zhash_keys(self->services);
    for (char *name = zlist_first(names); name; name = zlist_next(names)) {
        service_t *service = zhash_lookup(self->services, name);
        request_t *request;
        while ((request = zlist_pop(service->queue)))
            s_request_destroy(&request);
        s_service_destroy(self, service);
    }
    zlist_destroy(&names);
    zmsg_t *msg;
    while ((msg = zlist_pop(self->outbox)))
        zmsg_destroy(&msg);
    zlist_destroy(&self->outbox);
    zhash_destroy(&self->services);
    zhash_destroy(&self->workers);
    zsock_destroy(&self->socket);
    //  zactor_destroy waits on the pipe for the journal to finish: with a
    //  receive timeout of 0 it would not wait, and the thread would outlive
    //  main.
    zsock_set_rcvtimeo(zactor_sock(self->journal), -1);
    rp_packer_destroy(&self->packer);
    free(self);
    *self_p = NULL;
}

//  Sleep on the sockets' ZMQ_FDs with a plain poll, not zmq_poll:
//  zmq_poll asks each socket for ZMQ_EVENTS before and after (a getpid
//  and a poll of its mailbox each), and the drains below ask again.
//  That is safe because a receive that finds nothing processes the
//  socket's mailbox, so its fd then signals whatever comes next; a
//  send may process the mailbox too, so a turn that sent anything is
//  followed by another drain instead of a sleep.
void router_turn(router_t *self)
{
    int64_t now = zclock_mono();
    int wait = self->tick_at > now ? (int)(self->tick_at - now) : 0;
    if (!self->drain) //  interrupted: the caller decides
        poll(self->fds, 2, zlist_size(self->outbox) && wait > 1 ? 1 : wait);
    //  The ROUTER a bounded number of messages a turn, so timers run.
    zmsg_t *msg;
    int taken = 0;
    for (; taken < 1000 && (msg = zmsg_recv(self->socket)); taken++)
        s_on_socket(self, msg);
    while ((msg = zmsg_recv(self->journal))) {
        s_on_pipe(self, msg);
        taken++;
    }
    self->drain = taken > 0 || zlist_size(self->outbox); //  what was taken was sent on
    s_pipe_flush(self);
    now = zclock_mono();
    if (now >= self->tick_at) {
        s_expire_requests(self, now);
        s_heartbeat(self, now);
        self->tick_at = now + TICK_MS;
        self->drain = true; //  heartbeats and expiries were sends
    }
}

void router_run(router_t *self)
{
    while (!zsys_interrupted)
        router_turn(self);
}

//  ---------------------------------------------------------------------
//  Self-test: a router and its journal, turned by the test itself, with
//  DEALER peers as clients and workers (no sleeps: each wait turns the
//  router until the answer is there).

//  The next message on sock, turning the router meanwhile; heartbeats
//  are skipped. NULL after 5 s.
static zmsg_t *s_test_recv(router_t *router, zsock_t *sock)
{
    for (int64_t until = zclock_mono() + 5000; zclock_mono() < until;) {
        router_turn(router);
        zmsg_t *msg = zmsg_recv(sock);
        if (!msg)
            continue;
        zframe_t *command = NULL;
        if (zmsg_size(msg) >= 3) {
            zmsg_first(msg);
            zmsg_next(msg);
            command = zmsg_next(msg);
        }
        if (command && zframe_size(command) == 1 && *zframe_data(command) == MDPW_HEARTBEAT &&
            zmsg_size(msg) == 3) {
            zmsg_destroy(&msg);
            continue;
        }
        return msg;
    }
    return NULL;
}

static zsock_t *s_test_peer(const char *endpoint)
{
    zsock_t *sock = zsock_new_dealer(endpoint);
    assert(sock);
    zsock_set_rcvtimeo(sock, 0);
    return sock;
}

//  READY for service with {credit: 2} and up to two claimed prefixes.
static void s_test_ready(zsock_t *worker, const char *service, const char *owns_a,
                         const char *owns_b)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, owns_a ? 2 : 1);
    rp_pack_kv_u64(&packer.pk, "credit", 2);
    if (owns_a) {
        rp_pack_cstr(&packer.pk, "owns");
        msgpack_pack_array(&packer.pk, owns_b ? 2 : 1);
        rp_pack_cstr(&packer.pk, owns_a);
        if (owns_b)
            rp_pack_cstr(&packer.pk, owns_b);
    }
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, &(uint8_t){MDPW_READY}, 1);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, packer.buffer.data, packer.buffer.size);
    zmsg_send(&msg, worker);
    rp_packer_destroy(&packer);
}

//  A worker's next command from the broker, and (REQUEST) its client
//  address and body.
static int s_test_command(router_t *router, zsock_t *worker, zframe_t **client, zframe_t **body)
{
    zmsg_t *msg = s_test_recv(router, worker);
    assert(msg && zmsg_size(msg) >= 3);
    zframe_destroy(&(zframe_t *){zmsg_pop(msg)});
    zframe_t *header = zmsg_pop(msg), *command = zmsg_pop(msg);
    assert(zframe_streq(header, MDPW_WORKER) && zframe_size(command) == 1);
    int cmd = *zframe_data(command);
    if (cmd == MDPW_REQUEST) {
        assert(zmsg_size(msg) == 3);
        *client = zmsg_pop(msg);
        zframe_destroy(&(zframe_t *){zmsg_pop(msg)});
        *body = zmsg_pop(msg);
    }
    zframe_destroy(&header);
    zframe_destroy(&command);
    zmsg_destroy(&msg);
    return cmd;
}

//  Send a client request and return the reply (caller destroys the doc).
static rp_doc_t *s_test_call(router_t *router, zsock_t *client, const char *service,
                             const rp_packer_t *body, rp_reply_t *reply)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, service);
    zmsg_addmem(msg, body->buffer.data, body->buffer.size);
    zmsg_send(&msg, client);
    msg = s_test_recv(router, client);
    assert(msg && zmsg_size(msg) == 4);
    zframe_t *frame = zmsg_last(msg);
    rp_doc_t *doc = rp_doc_new(zframe_data(frame), zframe_size(frame), NULL);
    assert(doc && rp_reply_parse(rp_doc_root(doc), reply) == NULL);
    zmsg_destroy(&msg);
    return doc;
}

//  journal.append of one event of type, as writer (NULL: none) with epoch
//  and token; returns the status.
static int s_test_append(router_t *router, zsock_t *client, const char *type, const char *writer,
                         uint64_t epoch, const char *token)
{
    rp_packer_t p;
    rp_packer_init(&p);
    rp_request_pack(&p.pk, 7, "journal.append", 0, NULL, 1);
    rp_pack_cstr(&p.pk, "args");
    msgpack_pack_map(&p.pk, writer ? 4 : 1);
    rp_pack_cstr(&p.pk, "events");
    msgpack_pack_array(&p.pk, 1);
    msgpack_pack_map(&p.pk, 4);
    rp_pack_kv_cstr(&p.pk, "type", type);
    rp_pack_kv_cstr(&p.pk, "id", "router-test");
    rp_pack_kv_cstr(&p.pk, "source", "router-test");
    rp_pack_cstr(&p.pk, "data");
    rp_integrator_test_order(&p.pk, "router-test", 1); //  an order, valid from anyone
    if (writer) {
        rp_pack_kv_cstr(&p.pk, "writer", writer);
        rp_pack_kv_u64(&p.pk, "epoch", epoch);
        rp_pack_kv_cstr(&p.pk, "token", token);
    }
    rp_reply_t reply;
    rp_doc_t *doc = s_test_call(router, client, "journal", &p, &reply);
    int status = reply.status;
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
    return status;
}

//  The lease of service in broker.status: its epoch, and whether held.
static uint64_t s_test_lease(router_t *router, zsock_t *client, const char *service, bool *held)
{
    rp_packer_t p;
    rp_packer_init(&p);
    rp_request_pack(&p.pk, 8, "status", 0, NULL, 0);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_call(router, client, "broker.status", &p, &reply);
    const msgpack_object *lease = rp_obj_get(rp_obj_get(reply.data, "leases"), service);
    uint64_t epoch = 0;
    assert(reply.status == 200 && lease);
    assert(rp_obj_u64(rp_obj_get(lease, "epoch"), &epoch));
    assert(rp_obj_bool(rp_obj_get(lease, "holder"), held));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
    return epoch;
}

void router_test(void)
{
    char dir[] = "/tmp/rp-router-XXXXXX";
    assert(mkdtemp(dir));
    char endpoint[64];
    snprintf(endpoint, sizeof endpoint, "ipc://%s/router.ipc", dir);
    setenv("RAPPORT_DATA_DIR", dir, 1);
    setenv("RAPPORT_BROKER_ENDPOINT", endpoint, 1);
    setenv("RAPPORT_FEED_BIND", "tcp://127.0.0.1:*", 1);
    setenv("RAPPORT_FENCE_OWNERS", "customers=customer.", 1);
    rp_config_t *config = rp_config_new("router-test");
    zactor_t *journal = journal_new(config);
    router_t *router = journal ? router_new(config, journal) : NULL;
    assert(router);
    zsock_t *client = s_test_peer(endpoint);
    rp_packer_t p;
    rp_packer_init(&p);
    rp_reply_t reply;

    //  A worker registers; a request goes to it and its reply back.
    zsock_t *echo = s_test_peer(endpoint);
    s_test_ready(echo, "echo", NULL, NULL);
    rp_request_pack(&p.pk, 1, "echo.hello", 0, NULL, 0);
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPC_CLIENT);
    zmsg_addstr(msg, "echo");
    zmsg_addmem(msg, p.buffer.data, p.buffer.size);
    zmsg_send(&msg, client);
    zframe_t *address = NULL, *body = NULL;
    assert(s_test_command(router, echo, &address, &body) == MDPW_REQUEST);
    assert(zframe_size(address) > 0 && zframe_size(body) == p.buffer.size);
    msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, &(uint8_t){MDPW_REPLY}, 1);
    zmsg_append(msg, &address);
    zmsg_addmem(msg, "", 0);
    zmsg_append(msg, &body);
    zmsg_send(&msg, echo);
    msg = s_test_recv(router, client);
    assert(msg && zmsg_size(msg) == 4 && zframe_size(zmsg_last(msg)) == p.buffer.size);
    zmsg_destroy(&msg);

    //  A writer claims its prefixes in READY; its grant carries epoch and
    //  token, which its appends need.
    zsock_t *writer = s_test_peer(endpoint);
    s_test_ready(writer, "deals.writer", "deal.", "quote.");
    assert(s_test_command(router, writer, &address, &body) == MDPW_REQUEST);
    assert(zframe_size(address) == 0);
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    rp_request_t grant;
    assert(doc && !rp_request_parse(rp_doc_root(doc), &grant) &&
           rp_request_is(&grant, "lease.granted"));
    uint64_t epoch = 0;
    const char *str;
    size_t len;
    assert(rp_obj_u64(rp_obj_get(grant.args, "epoch"), &epoch) && epoch == 1);
    assert(rp_obj_str(rp_obj_get(grant.args, "token"), &str, &len) && len == FENCE_TOKEN_LEN);
    char token[FENCE_TOKEN_LEN + 1];
    memcpy(token, str, len);
    token[len] = 0;
    rp_doc_destroy(&doc);
    zframe_destroy(&address);
    zframe_destroy(&body);
    bool held = false;
    assert(s_test_lease(router, client, "deals", &held) == 1 && held);
    assert(s_test_append(router, client, "deal.won", NULL, 0, NULL) == 403);
    assert(s_test_append(router, client, "deal.won", "deals", 1,
                         "0123456789abcdef0123456789abcdef") == 403);
    assert(s_test_append(router, client, "deal.won", "deals", 1, token) == 200);
    assert(s_test_append(router, client, "quote.sent", "deals", 1, token) == 200);
    assert(s_test_append(router, client, "order.placed", NULL, 0, NULL) == 200);

    //  A claim of another's prefix: the lease is refused, the worker told
    //  DISCONNECT; so is a malformed claim, at READY.
    zsock_t *rogue = s_test_peer(endpoint);
    s_test_ready(rogue, "rogue.writer", "customer.", NULL);
    assert(s_test_command(router, rogue, NULL, NULL) == MDPW_DISCONNECT);
    zsock_t *bad = s_test_peer(endpoint);
    s_test_ready(bad, "bad.writer", "Bad", NULL);
    assert(s_test_command(router, bad, NULL, NULL) == MDPW_DISCONNECT);
    assert(s_test_append(router, client, "customer.created", NULL, 0, NULL) == 403);

    //  The holder leaves: the lease is vacant, its token worth nothing.
    msg = zmsg_new();
    zmsg_addmem(msg, "", 0);
    zmsg_addstr(msg, MDPW_WORKER);
    zmsg_addmem(msg, &(uint8_t){MDPW_DISCONNECT}, 1);
    zmsg_send(&msg, writer);
    for (int64_t until = zclock_mono() + 5000; held && zclock_mono() < until;)
        s_test_lease(router, client, "deals", &held);
    assert(!held);
    assert(s_test_append(router, client, "deal.won", "deals", 1, token) == 409);
    (void)reply;

    rp_packer_destroy(&p);
    zsock_destroy(&bad);
    zsock_destroy(&rogue);
    zsock_destroy(&writer);
    zsock_destroy(&echo);
    zsock_destroy(&client);
    router_destroy(&router);
    zactor_destroy(&journal);
    rp_config_destroy(&config);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
