/*  service.c — the runtime every Rapport service runs in.  */
#include <rapport/feed.h>
#include <rapport/log.h>
#include <rapport/mdp.h>
#include <rapport/ready.h>
#include <rapport/sched.h>
#include <rapport/service.h>
#include <rapport/worker.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define SERVICE_SLOTS         64  //  instances of one service sharing a data dir
#define SERVICE_BATCH         256 //  events per apply transaction
#define SERVICE_REQUEST_BATCH 64  //  requests taken from a worker socket per turn
//  Requests in flight per worker: as many as a gateway keeps open at once
//  in the benchmark, so a writer's appends group-commit in large batches.
#define SERVICE_CREDIT 64

struct _rp_origin_t {
    rp_worker_t *worker; //  replies go back through the worker it came on
    zframe_t *client;
    rp_doc_t *id; //  a copy of the request's id
    bool writer;
};

typedef struct {
    uint64_t seq;
    int64_t deadline;
    rp_service_wait_fn *fn;
    void *arg;
} wait_t;

typedef struct {
    rp_service_reply_fn *fn;
    void *arg;
} call_t;

struct _rp_service_t {
    rp_service_def_t def;
    char *name, *writer_name;
    char *broker_endpoint;
    rp_store_t *store;
    rp_feed_t *feed;
    rp_client_t *client;
    rp_worker_t *reader, *writer;           //  created once caught up
    zsock_t *pipe;                          //  optional stop signal
    rp_ready_t *ready;                      //  health/ready_file, for container health checks
    int64_t ready_at;                       //  when to refresh it next
    zlistx_t *waits;                        //  wait_t, owned
    zhashx_t *calls;                        //  "id" → call_t, owned
    rp_appends_t *appends;                  //  gathered in a turn, sent at its end
    zlistx_t *batch;                        //  zchunk_t: events received, not yet applied
    uint64_t applied;                       //  the store's committed cursor
    char journal[RP_STORE_JOURNAL_MAX + 1]; //  the journal the store's cursor counts in
    bool rebuild;                           //  store/rebuild: start over on another journal
    bool stopping;
    bool failed;
    bool drain; //  drain every socket again before sleeping (s_turn)
    int64_t tick_at;
};

//  ---------------------------------------------------------------------
//  Applying events

//  Events are applied in batches: one transaction (one fsync) for up to
//  SERVICE_BATCH events, the cursor set to the last one in the same
//  transaction. That is as safe as one event per transaction, since the
//  store's cursor is the truth after a crash, and it makes a replay of a
//  long journal fast. Waits see only committed events (self->applied).

//  Apply the batch; rp_store_write may run this more than once (map
//  growth), so it only reads the batch.
static int s_apply_txn(rp_store_t *store, MDB_txn *txn, void *arg)
{
    rp_service_t *self = (rp_service_t *)arg;
    uint64_t seq = self->applied;
    for (zchunk_t *chunk = (zchunk_t *)zlistx_first(self->batch); chunk;
         chunk = (zchunk_t *)zlistx_next(self->batch)) {
        seq++;
        const char *err = NULL;
        rp_doc_t *doc = rp_doc_new(zchunk_data(chunk), zchunk_size(chunk), &err);
        rp_event_t event;
        if (doc)
            err = rp_event_parse(rp_doc_root(doc), &event);
        int rc = 0;
        if (err) //  every instance skips it alike, so state stays the same everywhere
            rp_error("service %s: event %" PRIu64 " is malformed, skipped: %s", self->name, seq,
                     err);
        else
            rc = self->def.apply(self->def.arg, store, txn, seq, &event);
        rp_doc_destroy(&doc);
        if (rc)
            return rc;
    }
    //  The journal the cursor counts in, in the same transaction.
    const char *journal = rp_feed_journal(self->feed);
    int rc =
        *journal && strcmp(journal, self->journal) ? rp_store_set_journal(store, txn, journal) : 0;
    return rc ? rc : rp_store_set_cursor(store, txn, seq);
}

//  Commit what is batched. Returns 0, or 1 (and stops the service).
static int s_flush(rp_service_t *self)
{
    size_t count = zlistx_size(self->batch);
    if (count == 0 || self->failed)
        return self->failed ? 1 : 0;
    int rc = rp_store_write(self->store, s_apply_txn, self);
    if (rc) {
        rp_error("service %s: applying events %" PRIu64 "..%" PRIu64 " failed (%d): stopping",
                 self->name, self->applied + 1, self->applied + count, rc);
        self->failed = self->stopping = true;
        return 1;
    }
    self->applied += count;
    snprintf(self->journal, sizeof self->journal, "%s", rp_feed_journal(self->feed));
    zlistx_purge(self->batch);
    return 0;
}

static int s_on_event(void *arg, uint64_t seq, const char *type, size_t type_len,
                      const uint8_t *bytes, size_t size)
{
    (void)type;
    (void)type_len;
    rp_service_t *self = (rp_service_t *)arg;
    if (self->failed)
        return 1;
    assert(seq == self->applied + zlistx_size(self->batch) + 1);
    zlistx_add_end(self->batch, zchunk_new(bytes, size));
    return zlistx_size(self->batch) >= SERVICE_BATCH ? s_flush(self) : 0;
}

//  ---------------------------------------------------------------------
//  Origins and replies

static rp_origin_t *s_origin_new(rp_worker_t *worker, zframe_t *client, bool writer)
{
    rp_origin_t *origin = calloc(1, sizeof *origin);
    assert(origin);
    origin->worker = worker;
    origin->client = client;
    origin->writer = writer;
    return origin;
}

static void s_origin_set_id(rp_origin_t *origin, const msgpack_object *id)
{
    rp_doc_destroy(&origin->id);
    rp_packer_t packer;
    rp_packer_init(&packer);
    if (id)
        msgpack_pack_object(&packer.pk, *id);
    else
        msgpack_pack_nil(&packer.pk);
    origin->id = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rp_packer_destroy(&packer);
}

void rp_origin_destroy(rp_origin_t **origin_p)
{
    rp_origin_t *origin = *origin_p;
    if (!origin)
        return;
    zframe_destroy(&origin->client);
    rp_doc_destroy(&origin->id);
    free(origin);
    *origin_p = NULL;
}

bool rp_origin_writer(const rp_origin_t *origin)
{
    return origin->writer;
}

const msgpack_object *rp_origin_id(const rp_origin_t *origin)
{
    return origin->id ? rp_doc_root(origin->id) : NULL;
}

int rp_service_reply(rp_service_t *self, rp_origin_t **origin_p, const void *body, size_t size)
{
    rp_origin_t *origin = *origin_p;
    //  Every reply says who answered and how far it had applied: the
    //  gateway's per-instance lag comes from these (docs/protocol.md).
    rp_packer_t stamped;
    rp_packer_init(&stamped);
    if (rp_reply_stamp(&stamped, body, size, self->applied, rp_log_instance()) == 0)
        body = stamped.buffer.data, size = stamped.buffer.size;
    int rc = rp_worker_reply(origin->worker, &origin->client, body, size);
    //  A reply may carry a secret (the users service's new API key, which
    //  it wipes from its own buffer): wipe this copy too. libzmq's copy in
    //  the sent frame is freed unwiped; that one is out of our hands.
    if (stamped.buffer.data)
        explicit_bzero(stamped.buffer.data, stamped.buffer.size);
    rp_packer_destroy(&stamped);
    rp_origin_destroy(origin_p);
    return rc;
}

//  The runtime's own op, for monitors: who we are and how far we are.
static void s_status_reply(rp_service_t *self, rp_origin_t **origin_p)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, self->def.gauges ? 5 : 4);
    rp_pack_kv_cstr(&packer.pk, "service", self->name);
    rp_pack_kv_cstr(&packer.pk, "instance", rp_log_instance());
    rp_pack_kv_u64(&packer.pk, "cursor", self->applied);
    rp_pack_kv_u64(&packer.pk, "epoch", rp_service_epoch(self));
    if (self->def.gauges) {
        rp_pack_cstr(&packer.pk, "gauges");
        self->def.gauges(self->def.arg, self, &packer.pk);
    }
    rp_service_reply(self, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

int rp_service_reply_error(rp_service_t *self, rp_origin_t **origin_p, int status, const char *code,
                           const char *message)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack_error(&packer.pk, rp_origin_id(*origin_p), status, code, message);
    int rc = rp_service_reply(self, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

int rp_service_reply_invalid(rp_service_t *self, rp_origin_t **origin_p, const char *message,
                             const rp_field_error_t *errors, int count)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack_error_details(&packer.pk, rp_origin_id(*origin_p), 422, "invalid", message);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "errors");
    msgpack_pack_array(&packer.pk, (size_t)count);
    for (int i = 0; i < count; i++) {
        msgpack_pack_map(&packer.pk, 3);
        rp_pack_kv_cstr(&packer.pk, "field", errors[i].field);
        rp_pack_kv_cstr(&packer.pk, "code", errors[i].code);
        rp_pack_kv_cstr(&packer.pk, "message", errors[i].message);
    }
    int rc = rp_service_reply(self, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

int rp_service_reply_page(rp_service_t *self, rp_origin_t **origin_p, const rp_packer_t *items,
                          size_t count, const char *next)
{
    return rp_service_reply_page_more(self, origin_p, items, count, next, NULL, 0);
}

int rp_service_reply_page_more(rp_service_t *self, rp_origin_t **origin_p, const rp_packer_t *items,
                               size_t count, const char *next, const rp_packer_t *more,
                               size_t pairs)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 2 + (more ? pairs : 0));
    rp_pack_cstr(&packer.pk, "items");
    msgpack_pack_array(&packer.pk, count);
    msgpack_sbuffer_write(&packer.buffer, items->buffer.data, items->buffer.size);
    rp_pack_cstr(&packer.pk, "next_cursor");
    if (next && next[0])
        rp_pack_cstr(&packer.pk, next);
    else
        msgpack_pack_nil(&packer.pk);
    if (more && pairs)
        msgpack_sbuffer_write(&packer.buffer, more->buffer.data, more->buffer.size);
    int rc = rp_service_reply(self, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

//  ---------------------------------------------------------------------
//  Waiting for the cursor

void rp_service_wait(rp_service_t *self, uint64_t seq, int timeout_ms, rp_service_wait_fn *fn,
                     void *arg)
{
    if (rp_service_cursor(self) >= seq) {
        fn(arg, self, true);
        return;
    }
    wait_t *wait = calloc(1, sizeof *wait);
    assert(wait);
    *wait = (wait_t){seq, zclock_mono() + timeout_ms, fn, arg};
    zlistx_add_end(self->waits, wait);
}

//  Fire the waits that are done; callbacks may add new ones, so take one
//  at a time.
//  Returns how many fired (their callbacks may have sent).
static size_t s_waits_check(rp_service_t *self)
{
    uint64_t cursor = rp_service_cursor(self);
    size_t count = 0;
    bool fired = true;
    while (fired) {
        fired = false;
        int64_t now = zclock_mono();
        for (wait_t *wait = (wait_t *)zlistx_first(self->waits); wait;
             wait = (wait_t *)zlistx_next(self->waits))
            if (cursor >= wait->seq || now >= wait->deadline) {
                wait_t copy = *wait;
                zlistx_delete(self->waits, zlistx_cursor(self->waits));
                copy.fn(copy.arg, self, cursor >= copy.seq);
                fired = true;
                count++;
                break;
            }
    }
    return count;
}

//  On stop, every wait still pending is called (applied or not), so its
//  callback frees what it holds (a request parked for min_seq replies 504;
//  the workers are still up). Only the waits present now: a callback that
//  waits again is not called back.
static void s_waits_cancel(rp_service_t *self)
{
    for (size_t count = zlistx_size(self->waits); count > 0; count--) {
        wait_t copy = *(wait_t *)zlistx_first(self->waits);
        zlistx_delete(self->waits, zlistx_cursor(self->waits));
        copy.fn(copy.arg, self, rp_service_cursor(self) >= copy.seq);
    }
}

static int64_t s_waits_deadline(rp_service_t *self)
{
    int64_t soonest = -1;
    for (wait_t *wait = (wait_t *)zlistx_first(self->waits); wait;
         wait = (wait_t *)zlistx_next(self->waits))
        if (soonest < 0 || wait->deadline < soonest)
            soonest = wait->deadline;
    return soonest;
}

//  ---------------------------------------------------------------------
//  Requests

typedef struct {
    rp_origin_t *origin;
    zframe_t *body;
} parked_t;

static void s_dispatch(rp_service_t *self, rp_origin_t *origin, zframe_t **body_p, bool may_wait);

//  A request held for min_seq: run it now, or tell the caller we lag.
static void s_parked_done(void *arg, rp_service_t *self, bool applied)
{
    parked_t *parked = (parked_t *)arg;
    if (applied)
        s_dispatch(self, parked->origin, &parked->body, false);
    else
        //  503, not 504: another instance (or this one, a moment later)
        //  can answer, so the caller should retry (the gateway adds
        //  Retry-After).
        rp_service_reply_error(self, &parked->origin, 503, "min_seq_timeout",
                               "this instance has not applied min_seq yet");
    zframe_destroy(&parked->body);
    free(parked);
}

//  The id to echo: a scalar under "id", even if the rest is bad.
static const msgpack_object *s_scalar_id(const msgpack_object *root)
{
    const msgpack_object *id = rp_obj_get(root, "id");
    return id && id->type != MSGPACK_OBJECT_MAP && id->type != MSGPACK_OBJECT_ARRAY ? id : NULL;
}

//  The op's row, if the request may go to it; else NULL, answered (the
//  same refusals for every service: service.h).
static const rp_service_op_t *s_op_admit(rp_service_t *self, rp_origin_t **origin_p,
                                         const rp_request_t *req)
{
    const rp_service_op_t *op = self->def.ops;
    while (op->op && !rp_request_is(req, op->op))
        op++;
    if (!op->op) {
        rp_service_reply_error(self, origin_p, 400, "unknown_op", "unknown op");
        return NULL;
    }
    bool write = op->kind == RP_OP_WRITE;
    if (write && !(*origin_p)->writer) {
        char message[300];
        snprintf(message, sizeof message, "send %s to %s", op->op, self->writer_name);
        rp_service_reply_error(self, origin_p, 400, "writer_only", message);
        return NULL;
    }
    if (write && !req->args) { //  args that are not a map failed rp_request_parse
        rp_service_reply_error(self, origin_p, 400, "bad_args", "args must be a map");
        return NULL;
    }
    return op;
}

//  Parse a request and hand it to the service (or hold it for min_seq).
static void s_dispatch(rp_service_t *self, rp_origin_t *origin, zframe_t **body_p, bool may_wait)
{
    zframe_t *body = *body_p;
    const char *err = NULL;
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), &err);
    rp_request_t req;
    if (doc)
        err = rp_request_parse(rp_doc_root(doc), &req);
    s_origin_set_id(origin, doc ? s_scalar_id(rp_doc_root(doc)) : NULL);
    const rp_service_op_t *op = NULL;
    if (err)
        rp_service_reply_error(self, &origin, 400, "bad_request", err);
    else if (rp_request_is(&req, RP_SERVICE_STATUS_OP))
        s_status_reply(self, &origin);
    else if (!(op = s_op_admit(self, &origin, &req)))
        ; //  answered
    else if (may_wait && req.min_seq > rp_service_cursor(self)) {
        parked_t *parked = calloc(1, sizeof *parked);
        assert(parked);
        parked->origin = origin;
        parked->body = body;
        *body_p = NULL;
        rp_service_wait(self, req.min_seq, self->def.min_seq_wait_ms, s_parked_done, parked);
    } else
        op->fn(self->def.arg, self, origin, &req);
    rp_doc_destroy(&doc);
}

//  Take up to a batch of requests per turn: a turn polls every socket (a
//  system call or two each), which under load is paid once for many.
static size_t s_worker_input(rp_service_t *self, rp_worker_t *worker)
{
    size_t taken = 0;
    for (int i = 0; i < SERVICE_REQUEST_BATCH && !self->stopping; i++) {
        zframe_t *client;
        zframe_t *body = rp_worker_recv(worker, &client);
        if (rp_worker_drained(worker))
            break; //  nothing was there (body is NULL)
        taken++;   //  a request, or a broker command (it may have answered)
        if (body)
            s_dispatch(self, s_origin_new(worker, client, worker == self->writer), &body, true);
        zframe_destroy(&body);
    }
    return taken;
}

//  ---------------------------------------------------------------------
//  Calls to other services

static void s_id_key(uint64_t id, char key[24])
{
    snprintf(key, 24, "%" PRIu64, id);
}

int rp_service_call(rp_service_t *self, const char *service, uint64_t id, const void *body,
                    size_t size, int timeout_ms, rp_service_reply_fn *fn, void *arg)
{
    if (rp_client_send(self->client, service, id, body, size, timeout_ms))
        return -1;
    call_t *call = calloc(1, sizeof *call);
    assert(call);
    *call = (call_t){fn, arg};
    char key[24];
    s_id_key(id, key);
    zhashx_update(self->calls, key, call);
    return 0;
}

int rp_service_append(rp_service_t *self, const rp_journal_event_t *events, size_t count,
                      const char *idem, int timeout_ms, rp_appended_fn *fn, void *arg)
{
    return rp_appends_add(self->appends, events, count, idem, timeout_ms, fn, arg);
}

int rp_service_append_packed(rp_service_t *self, const msgpack_sbuffer *packed, const size_t *sizes,
                             size_t count, const char *idem, int timeout_ms, rp_appended_fn *fn,
                             void *arg)
{
    rp_journal_event_t *list = malloc((count ? count : 1) * sizeof *list);
    assert(list);
    size_t offset = 0;
    for (size_t i = 0; i < count; i++) {
        list[i].data = packed->data + offset;
        list[i].size = sizes[i];
        offset += sizes[i];
    }
    int rc = offset <= packed->size
                 ? rp_service_append(self, list, count, idem, timeout_ms, fn, arg)
                 : -1; //  sizes that do not fit the buffer are malformed
    free(list);
    return rc;
}

//  An append answered by another journal than the one the store's cursor
//  counts in got seqs of that journal: waiting for them in this store would
//  answer the write with the outcome of another event. It is answered 503,
//  and the service stops (at its next start it refuses, or rebuilds).
static bool s_other_journal(rp_service_t *self, const rp_reply_t *reply)
{
    const char *id, *ours = rp_feed_journal(self->feed);
    size_t len;
    if (reply->status != 200 || !*ours ||
        !rp_obj_str(rp_obj_get(reply->data, "journal"), &id, &len))
        return false;
    if (strlen(ours) == len && memcmp(ours, id, len) == 0)
        return false;
    rp_error("service %s: the journal answered an append as %.*s, not %s, which the store's "
             "cursor %" PRIu64 " counts in: the write is refused, and the service stops",
             self->name, (int)(len > 64 ? 64 : len), id, ours, self->applied);
    self->failed = self->stopping = true;
    return true;
}

static void s_appends_replied(void *arg, rp_service_t *self, const rp_reply_t *reply)
{
    if (s_other_journal(self, reply)) {
        rp_reply_t refused = *reply;
        refused.status = 503;
        refused.seq = 0;
        refused.data = NULL;
        refused.error_code = "journal_changed";
        refused.error_code_len = strlen(refused.error_code);
        refused.error_message = "the journal is not the one this service's store follows";
        refused.error_message_len = strlen(refused.error_message);
        rp_appends_replied(self->appends, (rp_append_group_t *)arg, self, &refused);
        return;
    }
    rp_appends_replied(self->appends, (rp_append_group_t *)arg, self, reply);
}

//  Send what the turn gathered, oldest first (append.h).
static void s_appends_send(rp_service_t *self)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    while (rp_appends_waiting(self->appends)) {
        uint64_t id = rp_client_next_id(self->client);
        int timeout_ms;
        //  The lease token proves to the journal that we hold the lease.
        rp_journal_writer_t writer = {self->name, rp_service_epoch(self),
                                      self->writer ? rp_worker_token(self->writer) : NULL};
        rp_append_group_t *group =
            rp_appends_take(self->appends, &packer, id, &writer, &timeout_ms);
        if (rp_service_call(self, RP_JOURNAL_SERVICE, id, packer.buffer.data, packer.buffer.size,
                            timeout_ms, s_appends_replied, group))
            rp_appends_unsent(self->appends, group, self);
    }
    rp_packer_destroy(&packer);
}

//  Hand every reply that is ready to its callback.
static size_t s_client_input(rp_service_t *self)
{
    rp_reply_t reply;
    rp_doc_t *doc;
    size_t taken = 0;
    while ((doc = rp_client_recv(self->client, &reply, 0))) {
        taken++;
        uint64_t id = 0;
        rp_obj_u64(reply.id, &id);
        char key[24];
        s_id_key(id, key);
        call_t *call = (call_t *)zhashx_lookup(self->calls, key);
        if (call) {
            call_t copy = *call;
            zhashx_delete(self->calls, key);
            copy.fn(copy.arg, self, &reply);
        }
        rp_doc_destroy(&doc);
    }
    return taken;
}

//  ---------------------------------------------------------------------
//  Life cycle

//  The first <data>/<name>/<n> no other process holds.
static rp_store_t *s_store_open(const char *data_dir, const char *name, const char *const *dbnames)
{
    for (int slot = 1; slot <= SERVICE_SLOTS; slot++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s/%d", data_dir, name, slot);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        bool taken = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) && errno == EWOULDBLOCK;
        if (fd >= 0)
            close(fd); //  releases our probe lock
        if (taken)
            continue;
        rp_store_t *store = rp_store_new_cache(dir, dbnames);
        if (store) {
            rp_info("service %s: store %s", name, dir);
            return store;
        }
    }
    return NULL;
}

static int s_read_cursor(rp_store_t *store, MDB_txn *txn, void *arg)
{
    rp_service_t *self = (rp_service_t *)arg;
    self->applied = rp_store_cursor(store, txn);
    rp_store_journal(store, txn, self->journal);
    return 0;
}

static void s_free(void **item)
{
    free(*item);
    *item = NULL;
}

rp_service_t *rp_service_new(const rp_service_def_t *def, rp_config_t *config)
{
    assert(def->name && def->apply && def->ops);
    rp_service_t *self = calloc(1, sizeof *self);
    assert(self);
    self->def = *def;
    self->name = strdup(def->name);
    self->def.name = self->name;
    self->writer_name = zsys_sprintf("%s" MDP_WRITER_SUFFIX, def->name);
    if (self->def.tick_ms <= 0)
        self->def.tick_ms = 1000;
    if (self->def.credit <= 0)
        self->def.credit = SERVICE_CREDIT;
    if (self->def.min_seq_wait_ms <= 0)
        self->def.min_seq_wait_ms = 5000;
    self->broker_endpoint =
        strdup(rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT));
    const char *feed = rp_config_get(config, "feed/endpoint", RP_DEFAULT_FEED_ENDPOINT);
    if (def->store_dir)
        self->store = rp_store_new_cache(def->store_dir, def->dbnames);
    else
        self->store = s_store_open(rp_config_get(config, "data/dir", RP_DEFAULT_DATA_DIR),
                                   def->name, def->dbnames);
    //  A service store is a cache of the journal (fold of apply): its
    //  commits need integrity, not durability, so they are not synced
    //  (rp_store_new_cache: a store left unsynced when the machine went
    //  down is rebuilt from the journal). A lost commit takes its cursor
    //  with it: those events replay.
    if (self->store)
        rp_store_read(self->store, s_read_cursor, self);
    uint64_t cursor = self->applied;
    self->rebuild = rp_config_int(config, "store/rebuild", 0) != 0;
    self->batch = zlistx_new();
    zlistx_set_destructor(self->batch, (zlistx_destructor_fn *)zchunk_destroy);
    self->feed =
        self->store ? rp_feed_new(feed, self->broker_endpoint, cursor, s_on_event, self) : NULL;
    self->client = rp_client_new(self->broker_endpoint);
    self->waits = zlistx_new();
    zlistx_set_destructor(self->waits, s_free);
    self->calls = zhashx_new();
    zhashx_set_destructor(self->calls, s_free);
    self->appends = rp_appends_new();
    self->ready = rp_ready_new(rp_config_get(config, "health/ready_file", NULL));
    if (self->feed) //  a store from before identities takes the first journal it meets
        rp_feed_set_journal(self->feed, self->journal);
    if (!self->feed || !self->client) {
        rp_error("service %s: cannot start", def->name);
        rp_service_destroy(&self);
    }
    return self;
}

void rp_service_destroy(rp_service_t **self_p)
{
    rp_service_t *self = *self_p;
    if (!self)
        return;
    rp_worker_destroy(&self->reader);
    rp_worker_destroy(&self->writer);
    rp_feed_destroy(&self->feed);
    rp_client_destroy(&self->client);
    rp_store_destroy(&self->store);
    zlistx_destroy(&self->waits);
    zhashx_destroy(&self->calls);
    rp_appends_destroy(&self->appends);
    zlistx_destroy(&self->batch);
    rp_ready_destroy(&self->ready);
    free(self->name);
    zstr_free(&self->writer_name);
    free(self->broker_endpoint);
    free(self);
    *self_p = NULL;
}

void rp_service_stop(rp_service_t *self)
{
    self->stopping = true;
}

void rp_service_set_pipe(rp_service_t *self, zsock_t *pipe)
{
    self->pipe = pipe;
}

rp_store_t *rp_service_store(rp_service_t *self)
{
    return self->store;
}

uint64_t rp_service_cursor(rp_service_t *self)
{
    return self->applied;
}

const char *rp_service_name(rp_service_t *self)
{
    return self->name;
}

rp_client_t *rp_service_client(rp_service_t *self)
{
    return self->client;
}

uint64_t rp_service_epoch(rp_service_t *self)
{
    return self->writer ? rp_worker_epoch(self->writer) : 0;
}

//  True if the loop should end: a signal, rp_service_stop, the pipe.
static bool s_done(rp_service_t *self)
{
    if (self->pipe && (zsock_events(self->pipe) & ZMQ_POLLIN))
        self->stopping = true;
    return self->stopping || zsys_interrupted;
}

//  Replay up to the journal's head, retrying while the broker is away.
static int s_clear(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    return rp_store_clear(store, txn);
}

//  The store's cursor counts in another journal than the broker's (or
//  one that lost events): serving from it would answer writes with the
//  outcomes of other events. Rebuild when told to (store/rebuild), else
//  say so and wait for the journal to come back. Returns -1 to stop.
static int s_foreign(rp_service_t *self, int64_t *logged_at)
{
    const char *why = rp_feed_foreign(self->feed);
    if (self->rebuild) {
        rp_warn("service %s: %s; store/rebuild is set: emptying the store and replaying the "
                "journal from seq 1",
                self->name, why);
        int rc = rp_store_write(self->store, s_clear, NULL);
        if (rc) {
            rp_error("service %s: cannot empty the store (%d): stopping", self->name, rc);
            self->failed = self->stopping = true;
            return -1;
        }
        zlistx_purge(self->batch);
        self->applied = 0;
        self->journal[0] = 0;
        rp_feed_reset(self->feed, 0);
        return 0;
    }
    if (zclock_mono() >= *logged_at) {
        rp_error("service %s: refusing to serve: %s. Not registering the workers; waiting for "
                 "that journal to come back, or restart with store/rebuild=1 "
                 "(RAPPORT_STORE_REBUILD=1) to empty the store and replay this journal",
                 self->name, why);
        *logged_at = zclock_mono() + 10000;
    }
    return 0;
}

static void s_catch_up(rp_service_t *self)
{
    int64_t logged_at = 0;
    while (!s_done(self)) {
        int rc = rp_feed_sync(self->feed);
        if (s_flush(self))
            return;
        if (rc == 0) {
            rp_info("service %s: caught up at %" PRIu64 " in journal %s", self->name,
                    rp_service_cursor(self), rp_feed_journal(self->feed));
            return;
        }
        if (rc == RP_FEED_FOREIGN) {
            if (s_foreign(self, &logged_at))
                return;
            if (self->rebuild)
                continue;
        } else if (rc != -1)
            return; //  apply failed: self->failed is set
        zmq_pollitem_t item = {self->pipe ? zsock_resolve(self->pipe) : NULL, 0, ZMQ_POLLIN, 0};
        zmq_poll(&item, self->pipe ? 1 : 0, 1000); //  retry in 1 s, or stop sooner
    }
}

static int s_next_timeout(rp_service_t *self)
{
    if (rp_client_ready(self->client))
        return 0;
    int64_t now = zclock_mono();
    int64_t timeout = self->tick_at - now;
    int candidates[3] = {rp_worker_next_tick_ms(self->reader),
                         self->writer ? rp_worker_next_tick_ms(self->writer) : -1,
                         rp_client_next_timeout(self->client)};
    for (int i = 0; i < 3; i++)
        if (candidates[i] >= 0 && candidates[i] < timeout)
            timeout = candidates[i];
    int64_t wait = s_waits_deadline(self);
    if (wait >= 0 && wait - now < timeout)
        timeout = wait - now;
    return timeout < 0 ? 0 : timeout > 1000 ? 1000 : (int)timeout;
}

//  A turn sleeps on the sockets' ZMQ_FDs with one plain poll(), then
//  drains every socket with non-blocking receives until one comes back
//  empty (or a batch is taken). Not zmq_poll: it asks each socket for
//  ZMQ_EVENTS before and after sleeping — a getpid and a poll of its
//  mailbox each, five sockets, twice — and the drains look again anyway.
//  The plain poll is enough because a receive that finds nothing (or a
//  ZMQ_EVENTS that says so) processes the socket's mailbox, after which
//  its fd signals whatever comes next. A send may process a mailbox too,
//  without telling: so a turn that took anything (whose answers are
//  sends; a batch bound is only hit by taking) or sent a heartbeat is
//  followed by another turn that drains before any sleep.
static void s_turn(rp_service_t *self)
{
    //  Always feed, reader, client; then the writer and the pipe if any.
    zsock_t *socks[5] = {rp_feed_sock(self->feed), rp_worker_sock(self->reader),
                         rp_client_sock(self->client),
                         self->writer ? rp_worker_sock(self->writer) : NULL, self->pipe};
    if (!self->drain) {
        struct pollfd fds[5];
        nfds_t count = 0;
        for (int i = 0; i < 5; i++)
            if (socks[i])
                fds[count++] = (struct pollfd){zsock_fd(socks[i]), POLLIN, 0};
        poll(fds, count, s_next_timeout(self)); //  interrupted: s_done decides
    }
    //  Drain a batch: events are cheap, and waits fire once per turn.
    size_t taken = 0;
    while (taken < SERVICE_BATCH && !self->stopping) {
        rp_feed_recv(self->feed);
        if (rp_feed_drained(self->feed))
            break;
        taken++;
    }
    if (rp_feed_foreign(self->feed) && !self->stopping) {
        //  Stop rather than serve; the next start refuses or rebuilds.
        rp_error("service %s: %s: stopping", self->name, rp_feed_foreign(self->feed));
        self->failed = self->stopping = true;
    }
    taken += s_worker_input(self, self->reader);
    if (self->writer)
        taken += s_worker_input(self, self->writer);
    s_flush(self);
    taken += s_client_input(self);
    //  A tick that is due may send a heartbeat (or reconnect).
    bool ticks = rp_worker_next_tick_ms(self->reader) == 0 ||
                 (self->writer && rp_worker_next_tick_ms(self->writer) == 0);
    rp_worker_tick(self->reader);
    if (self->writer)
        rp_worker_tick(self->writer);
    taken += s_waits_check(self);
    self->drain = taken > 0 || ticks; //  a batch cut short took something too
    //  The loop turns at least once a second (s_next_timeout), whatever
    //  the service's tick: a fresh file says the loop is alive.
    if (zclock_mono() >= self->ready_at) {
        self->ready_at = zclock_mono() + 1000;
        rp_ready_mark(self->ready, self->name, self->applied, rp_service_epoch(self));
    }
    if (zclock_mono() >= self->tick_at) {
        self->tick_at = zclock_mono() + self->def.tick_ms;
        if (self->def.tick) {
            self->def.tick(self->def.arg, self);
            self->drain = true; //  the service's tick may send (calls, appends)
        }
    }
    s_appends_send(self);
}

int rp_service_run(rp_service_t *self)
{
    s_catch_up(self);
    if (!s_done(self)) {
        self->reader = rp_worker_new(self->broker_endpoint, self->name, self->def.credit);
        if (self->def.writer)
            self->writer = rp_worker_new_owner(self->broker_endpoint, self->writer_name,
                                               self->def.credit, self->def.owns);
        if (!self->reader || (self->def.writer && !self->writer))
            self->failed = self->stopping = true;
    }
    if (!s_done(self)) {
        self->tick_at = zclock_mono() + self->def.tick_ms;
        rp_info("service %s: serving", self->name);
        while (!s_done(self))
            s_turn(self);
    }
    s_appends_send(self); //  the last turn's, as if sent at once
    s_flush(self);
    s_waits_cancel(self);
    //  Say goodbye to the broker now, not at destroy: it stops routing to us.
    rp_ready_destroy(&self->ready);
    rp_worker_destroy(&self->reader);
    rp_worker_destroy(&self->writer);
    rp_info("service %s: stopped at %" PRIu64 "%s", self->name, rp_service_cursor(self),
            self->failed ? " (failed)" : "");
    return self->failed ? -1 : 0;
}

int rp_service_main(const rp_service_def_t *def, int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: rapport-%s  (settings: config/%s.cfg, RAPPORT_*)\n", def->name,
                def->name);
        return 2;
    }
    rp_config_t *config = rp_config_new(def->name);
    rp_log_init(def->name, rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    rp_service_def_t run = *def;
    int status = def->init ? def->init(config, &run.arg) : 0;
    if (status) {
        rp_config_destroy(&config);
        return status;
    }
    if (rp_sched_init(config)) //  before any socket: its I/O thread inherits it
        status = 2;
    else {
        zsys_init(); //  catches SIGTERM and SIGINT: rp_service_run returns
        zsys_set_linger(0);
        rp_service_t *service = rp_service_new(&run, config);
        status = service && rp_service_run(service) == 0 ? 0 : 1;
        rp_service_destroy(&service);
    }
    if (def->fini)
        def->fini(run.arg);
    rp_config_destroy(&config);
    return status;
}

//  ---------------------------------------------------------------------
//  Self-test: a "demo" service against rp_testbroker, run in a thread.

#include <rapport/testbroker.h>
#include <rapport/testservice.h>

typedef struct {
    rp_service_t *service;
    rp_origin_t *origin;
    uint64_t seq;
} test_write_t;

//  apply: "things" maps seq → type.
static int s_test_apply(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                        const rp_event_t *event)
{
    (void)arg;
    uint8_t key[8];
    rp_seq_put(key, seq);
    MDB_val k = {8, key}, v = {event->type_len, (void *)event->type};
    return mdb_put(txn, rp_store_dbi(store, "things"), &k, &v, 0);
}

static int s_test_count(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_stat stat;
    mdb_stat(txn, rp_store_dbi(store, "things"), &stat);
    *(size_t *)arg = stat.ms_entries;
    return 0;
}

static void s_test_reply_seq(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                             size_t count)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_u64(&packer.pk, "count", count);
    rp_pack_kv_u64(&packer.pk, "cursor", rp_service_cursor(service));
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

static void s_test_applied(void *arg, rp_service_t *service, bool applied)
{
    test_write_t *write = (test_write_t *)arg;
    size_t count = 0;
    rp_store_read(rp_service_store(service), s_test_count, &count);
    if (applied)
        s_test_reply_seq(service, &write->origin, write->seq, count);
    else
        rp_service_reply_error(service, &write->origin, 504, "timeout", "not applied");
    free(write);
}

static void s_test_appended(void *arg, rp_service_t *service, const rp_reply_t *reply,
                            uint64_t first, uint64_t last)
{
    test_write_t *write = (test_write_t *)arg;
    (void)first;
    write->seq = last;
    if (reply->status != 200) {
        rp_service_reply_error(service, &write->origin, reply->status, "append_failed", "no");
        free(write);
        return;
    }
    rp_service_wait(service, write->seq, 2000, s_test_applied, write);
}

static void s_test_count_op(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    (void)arg;
    (void)req;
    size_t count = 0;
    rp_store_read(rp_service_store(service), s_test_count, &count);
    s_test_reply_seq(service, &origin, 0, count);
}

static void s_test_add_op(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    (void)arg;
    (void)req;
    assert(rp_origin_writer(origin)); //  the runtime sent it to the writer only
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, 4);
    rp_pack_kv_cstr(&event.pk, "type", "demo.added");
    rp_pack_kv_cstr(&event.pk, "id", "d-1");
    rp_pack_kv_cstr(&event.pk, "source", "demo");
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 0);
    rp_journal_event_t events[1] = {{event.buffer.data, event.buffer.size}};
    test_write_t *write = calloc(1, sizeof *write);
    assert(write);
    write->origin = origin;
    int rc = rp_service_append(service, events, 1, NULL, 2000, s_test_appended, write);
    assert(rc == 0);
    rp_packer_destroy(&event);
}

static const rp_service_op_t s_test_ops[] = {
    {"count", RP_OP_READ, s_test_count_op},
    {"add", RP_OP_WRITE, s_test_add_op},
    {NULL},
};

typedef struct {
    rp_testbroker_t *broker;
    const char *dir;
} test_env_t;

static void s_test_actor(zsock_t *pipe, void *arg)
{
    test_env_t *env = (test_env_t *)arg;
    rp_testservice_env(env->broker, env->dir);
    const char *dbs[] = {"things", NULL};
    rp_service_def_t def = {.name = "demo",
                            .writer = true,
                            .dbnames = dbs,
                            .apply = s_test_apply,
                            .ops = s_test_ops,
                            .min_seq_wait_ms = 200};
    rp_testservice_serve(pipe, &def);
}

//  Send {id, op, min_seq?} (or {id} if op is NULL) to a service; return the reply.
static rp_doc_t *s_test_call(rp_client_t *client, const char *service, const char *op,
                             uint64_t min_seq, int timeout_ms, rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(client);
    if (op) {
        rp_request_pack(&packer.pk, id, op, min_seq, NULL, 1);
        rp_pack_cstr(&packer.pk, "args");
        msgpack_pack_map(&packer.pk, 0);
    } else {
        msgpack_pack_map(&packer.pk, 1); //  no op: a bad request
        rp_pack_kv_u64(&packer.pk, "id", id);
    }
    rp_doc_t *doc = rp_client_call(client, service, id, packer.buffer.data, packer.buffer.size,
                                   timeout_ms, reply);
    rp_packer_destroy(&packer);
    return doc;
}

//  Send {id, op, args?}: args NULL (none), "nil" or "array".
static rp_doc_t *s_test_call_args(rp_client_t *client, const char *service, const char *op,
                                  const char *args, rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(client);
    rp_request_pack(&packer.pk, id, op, 0, NULL, args ? 1 : 0);
    if (args) {
        rp_pack_cstr(&packer.pk, "args");
        if (streq(args, "nil"))
            msgpack_pack_nil(&packer.pk);
        else
            msgpack_pack_array(&packer.pk, 0);
    }
    rp_doc_t *doc =
        rp_client_call(client, service, id, packer.buffer.data, packer.buffer.size, 5000, reply);
    rp_packer_destroy(&packer);
    return doc;
}

static bool s_test_error_is(const rp_reply_t *reply, const char *code)
{
    return reply->status == 400 && reply->error_code_len == strlen(code) &&
           memcmp(reply->error_code, code, reply->error_code_len) == 0;
}

static uint64_t s_test_count_of(const rp_reply_t *reply)
{
    uint64_t count = 0;
    assert(reply->status == 200);
    assert(rp_obj_u64(rp_obj_get(reply->data, "count"), &count));
    return count;
}

void rp_service_test(void)
{
    char dir[] = "/tmp/rp-service-XXXXXX";
    assert(mkdtemp(dir));
    rp_testbroker_t *broker = rp_testbroker_new();
    //  A history longer than one apply batch.
    const uint64_t history = 600;
    for (uint64_t i = 0; i < history; i++)
        rp_testbroker_append(broker, "demo.thing", false);
    test_env_t env = {broker, dir};

    //  It catches up before it registers.
    zactor_t *actor = zactor_new(s_test_actor, &env);
    assert(rp_testbroker_wait_worker(broker, "demo", 5000));
    assert(rp_testbroker_wait_worker(broker, "demo.writer", 5000));
    assert(rp_testbroker_grant(broker, "demo", 5) == 0);
    rp_client_t *client = rp_client_new(rp_testbroker_endpoint(broker));
    rp_reply_t reply;
    rp_doc_t *doc = s_test_call(client, "demo", "count", 0, 5000, &reply);
    assert(doc && s_test_count_of(&reply) == history);
    rp_doc_destroy(&doc);

    //  min_seq waits for the feed; too far ahead, it gives up.
    rp_testbroker_append(broker, "demo.thing", true);
    doc = s_test_call(client, "demo", "count", history + 1, 5000, &reply);
    assert(doc && s_test_count_of(&reply) == history + 1);
    rp_doc_destroy(&doc);
    doc = s_test_call(client, "demo", "count", history + 100, 5000, &reply);
    assert(doc && reply.status == 503 && reply.cursor == history + 1);
    rp_doc_destroy(&doc);

    //  A write: append with the lease epoch, wait until applied, reply.
    doc = s_test_call(client, "demo.writer", "add", 0, 5000, &reply);
    assert(doc && s_test_count_of(&reply) == history + 2 && reply.seq == history + 2);
    rp_doc_destroy(&doc);
    char writer[64];
    assert(rp_testbroker_last_epoch(broker, writer, sizeof writer) == 5);
    assert(streq(writer, "demo"));

    //  Pipelined writes (their appends may share one journal.append):
    //  each gets its own seq, all applied.
    enum { PIPELINED = 8 };
    for (int i = 0; i < PIPELINED; i++) {
        rp_packer_t packer;
        rp_packer_init(&packer);
        uint64_t id = rp_client_next_id(client);
        rp_request_pack(&packer.pk, id, "add", 0, NULL, 1);
        rp_pack_cstr(&packer.pk, "args");
        msgpack_pack_map(&packer.pk, 0);
        assert(rp_client_send(client, "demo.writer", id, packer.buffer.data, packer.buffer.size,
                              5000) == 0);
        rp_packer_destroy(&packer);
    }
    bool seen[PIPELINED] = {false};
    for (int i = 0; i < PIPELINED; i++) {
        doc = rp_client_recv(client, &reply, 5000);
        assert(doc && reply.status == 200);
        assert(reply.seq > history + 2 && reply.seq <= history + 2 + PIPELINED);
        assert(!seen[reply.seq - history - 3]);
        seen[reply.seq - history - 3] = true;
        rp_doc_destroy(&doc);
    }
    doc = s_test_call(client, "demo", "count", history + 2 + PIPELINED, 5000, &reply);
    assert(doc && s_test_count_of(&reply) == history + 2 + PIPELINED);
    rp_doc_destroy(&doc);

    //  A body that is not a request map: 400.
    doc = s_test_call(client, "demo", NULL, 0, 5000, &reply);
    assert(doc && reply.status == 400);
    rp_doc_destroy(&doc);
    //  The op table's refusals, before anything waits for min_seq.
    doc = s_test_call(client, "demo", "nope", history + 100, 5000, &reply);
    assert(doc && s_test_error_is(&reply, "unknown_op"));
    rp_doc_destroy(&doc);
    doc = s_test_call(client, "demo", "add", 0, 5000, &reply);
    assert(doc && s_test_error_is(&reply, "writer_only"));
    rp_doc_destroy(&doc);
    doc = s_test_call_args(client, "demo.writer", "add", "nil", &reply);
    assert(doc && s_test_error_is(&reply, "bad_args"));
    rp_doc_destroy(&doc);
    doc = s_test_call_args(client, "demo", "count", "array", &reply);
    assert(doc && s_test_error_is(&reply, "bad_request")); //  the envelope's own check
    rp_doc_destroy(&doc);
    doc = s_test_call_args(client, "demo", "count", NULL, &reply); //  a read needs none
    assert(doc && s_test_count_of(&reply) == history + 2 + PIPELINED);
    rp_doc_destroy(&doc);
    zactor_destroy(&actor);

    //  Restart: the cursor was kept with the data; nothing is applied twice.
    const uint64_t before = history + 2 + PIPELINED;
    for (int i = 0; i < 2; i++)
        rp_testbroker_append(broker, "demo.thing", false);
    actor = zactor_new(s_test_actor, &env);
    //  Until the new worker's READY, the test broker answers 503 no_worker
    //  or (still routing to the old worker) nothing.
    int64_t end = zclock_mono() + 5000;
    while ((doc = s_test_call(client, "demo", "count", before + 2, 500, &reply)) &&
           reply.status != 200 && zclock_mono() < end) {
        rp_doc_destroy(&doc);
        zclock_sleep(20);
    }
    assert(doc && s_test_count_of(&reply) == before + 2);
    rp_doc_destroy(&doc);
    zactor_destroy(&actor);

    rp_client_destroy(&client);
    rp_testbroker_destroy(&broker);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}
