/*  journal.c — the durable, totally ordered event log (see journal.h).

    The actor works in batches, which is how group commit happens: it
    drains everything waiting on the pipe (bounded), then

      1. decides every message in pipe order against the committed state
         and the batch so far: envelope and event checks, idempotency,
         ownership and fencing (lease changes apply in the same order, so
         an append after a GRANT sees the new epoch), seq assignment;
      2. writes all accepted events, idempotency keys and granted epochs in
         ONE LMDB transaction (one fsync);
      3. publishes the committed events on the feed, in seq order;
      4. sends the replies (REP, GRANTED) in pipe order; reads and heads are
         answered from the state just committed.

    Storage, in <data/dir>/broker/journal:
      "events"  seq (8 B BE) → the stored event (MessagePack map)
      "leases"  service → last granted epoch (8 B BE)
      "owners"  claimed event-type prefix → service (fence.h)
      "meta"    "journal" → the journal's identity, made at creation
      "idem", "idem_expiry"  see idem.h
*/
#include "journal.h"
#include "feed.h"
#include "fence.h"
#include "idem.h"

#include <rapport/append.h>
#include <rapport/envelope.h>
#include <rapport/integrator.h>
#include <rapport/log.h>
#include <rapport/mdp.h>
#include <rapport/outcome.h>
#include <rapport/pack.h>
#include <rapport/random.h>
#include <rapport/store.h>

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#define BATCH_MAX_MSGS   1024       //  messages decided and committed together
#define BATCH_MAX_BYTES  (32 << 20) //  request bytes per batch (bounds memory)
#define READ_DEFAULT     100        //  events per journal.read page
#define READ_MAX         1000
#define READ_MAX_BYTES   (4 << 20) //  a page stays under the router's message size
#define EVENT_MAX_KEYS   64        //  top-level attributes of one event
#define PURGE_PER_COMMIT 256       //  expired idempotency keys deleted per commit
#define HEAD_INTERVAL_MS 1000
#define PARTS_MAX        RP_JOURNAL_PARTS_MAX //  parts of one shared append

static _Atomic uint64_t s_head;      //  the committed head, for journal_head()
static _Atomic uint64_t s_commits;   //  write transactions committed (self-test)
static _Atomic int64_t s_clock_skew; //  seconds added to the clock (self-test)
static _Atomic int s_fail_commits;   //  commits to fail on purpose (self-test)
static char s_feed_endpoint[256];    //  the bound feed (self-test)

uint64_t journal_head(void)
{
    return atomic_load(&s_head);
}

//  What the actor needs from the configuration, read in the caller's thread.
typedef struct {
    char *dir;
    char *feed_bind;
    uint64_t idem_window_s;
    size_t max_events;
    feed_bounds_t feed;
    char *owners; //  fence/owners: "service=prefix+prefix …" reserved at start
    bool failed;  //  set by the actor when it cannot start
} settings_t;

typedef enum { ITEM_REPLY, ITEM_APPEND, ITEM_READ, ITEM_HEAD, ITEM_GRANT, ITEM_REVOKE } kind_t;

//  One pipe message of the batch and its outcome.
typedef struct _item_t item_t;
struct _item_t {
    kind_t kind;
    zframe_t *client; //  REQ: the client address, returned in REP
    rp_doc_t *doc;    //  REQ: the decoded body (events and id point into it)
    rp_request_t req;
    int status;       //  200, or the error status of the reply
    const char *code; //  error code and message (static or in text)
    const char *message;
    char text[200];
    int64_t index;                //  bad_event: the index of the event, else -1
    uint64_t first, count;        //  append: the seqs
    bool duplicate;               //  append: the idem key was seen before
    const item_t *original;       //  append: the append of this batch it repeats
    const msgpack_object *events; //  append: its events (a part's: a slice)
    size_t events_n;
    size_t parts;                          //  append: items this request became (1 without parts)
    bool part;                             //  append: a later part, answered with its first
    uint64_t from;                         //  read: first seq
    size_t max;                            //  read: events at most
    zframe_t *service;                     //  GRANT, REVOKE: the lease as given
    zframe_t *ticket;                      //  GRANT: the router's, returned as given
    zmsg_t *claims;                        //  GRANT: the prefixes the holder claims, a frame each
    uint32_t claimed;                      //  GRANT: bit i: claim i is new (to persist)
    char name[FENCE_MAX_SERVICE + 1];      //  the service, NUL-terminated
    uint64_t epoch;                        //  GRANT: the epoch granted (0: refused)
    char lease_token[FENCE_TOKEN_LEN + 1]; //  GRANT: the token of that epoch
    bool deferred;                         //  GRANT, REVOKE: to be retried, no reply yet
    //  append with integrator events (types no service owns): each event's
    //  seq and whether it repeats an earlier one (NULL: first..count)
    uint64_t *seqs;
    bool *dups;
    rp_field_error_t errors[4]; //  bad_event: the event's field errors
    int error_count;
};

//  An accepted event, packed in the batch buffer.
typedef struct {
    uint64_t seq;
    size_t offset, size;
    const char *type; //  points into its request's doc
    size_t type_len;
    char *key; //  an integrator event's dedup key (heap), or NULL
} stored_t;

typedef struct {
    zsock_t *pipe;
    settings_t *settings;
    rp_store_t *store;
    feed_t *feed;
    fence_t *fence;
    char id[RP_STORE_JOURNAL_MAX + 1]; //  the journal's identity (journal.head, .read, .append)
    uint64_t head;                     //  the committed head
    uint64_t next_seq;                 //  the next seq to assign in the batch being decided
    uint64_t now;                      //  unix seconds, for idempotency keys of this batch
    item_t *items;                     //  BATCH_MAX_MSGS
    size_t items_n, bytes;
    stored_t *stored;
    size_t stored_n, stored_max;
    rp_packer_t events; //  the packed stored events of the batch
    rp_packer_t reply;
    zlist_t *pending; //  GRANT and REVOKE messages to retry: their commit failed
    zhashx_t *seen;   //  dedup keys of integrator events stored in this batch → seq
    bool terminated;
} journal_t;

static uint64_t s_now(void)
{
    return (uint64_t)time(NULL) + (uint64_t)atomic_load(&s_clock_skew);
}

static void s_fail(item_t *item, int status, const char *code, const char *message)
{
    item->status = status;
    item->code = code;
    item->message = message;
}

//  ---------------------------------------------------------------------
//  Start and stop

static int s_load(rp_store_t *store, MDB_txn *txn, void *arg)
{
    journal_t *self = arg;
    MDB_cursor *cursor;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "events"), &cursor);
    if (rc)
        return rc;
    if (mdb_cursor_get(cursor, &k, &v, MDB_LAST) == 0 && k.mv_size == 8)
        self->head = rp_seq_get(k.mv_data);
    mdb_cursor_close(cursor);
    rp_store_journal(store, txn, self->id);
    rc = mdb_cursor_open(txn, rp_store_dbi(store, "leases"), &cursor);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        char name[FENCE_MAX_SERVICE + 1];
        if (k.mv_size == 0 || k.mv_size > FENCE_MAX_SERVICE || v.mv_size != 8)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = 0;
        fence_load(self->fence, name, rp_seq_get(v.mv_data));
    }
    mdb_cursor_close(cursor);
    if (rc != MDB_NOTFOUND)
        return rc;
    rc = mdb_cursor_open(txn, rp_store_dbi(store, "owners"), &cursor);
    if (rc)
        return rc;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        char prefix[FENCE_MAX_PREFIX + 1], name[FENCE_MAX_SERVICE + 1];
        if (k.mv_size > FENCE_MAX_PREFIX || v.mv_size == 0 || v.mv_size > FENCE_MAX_SERVICE)
            continue;
        memcpy(prefix, k.mv_data, k.mv_size);
        prefix[k.mv_size] = 0;
        memcpy(name, v.mv_data, v.mv_size);
        name[v.mv_size] = 0;
        if (fence_own(self->fence, name, prefix) < 0)
            rp_error("journal: stored claim of %s by %s overlaps another, ignored", prefix, name);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  fence/owners: "customers=customer. users=user." reserves prefixes for
//  services before their writers first register (a fresh journal), next
//  to the claims the journal has stored. One that overlaps a stored claim
//  of another service is left out, with a warning.
static void s_reserve(journal_t *self, const char *owners)
{
    char *copy = strdup(owners), *save = NULL;
    for (char *entry = strtok_r(copy, " \t,;", &save); entry;
         entry = strtok_r(NULL, " \t,;", &save)) {
        char *prefixes = strchr(entry, '=');
        size_t len = prefixes ? (size_t)(prefixes - entry) : 0;
        if (len == 0 || len > FENCE_MAX_SERVICE) {
            rp_warn("journal: fence/owners: \"%s\" is not service=prefix[+prefix…], ignored",
                    entry);
            continue;
        }
        *prefixes++ = 0;
        char *inner = NULL;
        for (char *prefix = strtok_r(prefixes, "+", &inner); prefix;
             prefix = strtok_r(NULL, "+", &inner))
            if (fence_own(self->fence, entry, prefix) < 0)
                rp_warn("journal: fence/owners: %s cannot own %s (invalid, or another's)", entry,
                        prefix);
    }
    free(copy);
}

static int s_save_id(rp_store_t *store, MDB_txn *txn, void *arg)
{
    return rp_store_set_journal(store, txn, ((journal_t *)arg)->id);
}

static void s_journal_destroy(journal_t **self_p)
{
    journal_t *self = *self_p;
    if (!self)
        return;
    feed_destroy(&self->feed);
    rp_store_destroy(&self->store);
    fence_destroy(&self->fence);
    if (self->pending) {
        zmsg_t *msg;
        while ((msg = zlist_pop(self->pending)))
            zmsg_destroy(&msg);
        zlist_destroy(&self->pending);
    }
    rp_packer_destroy(&self->events);
    rp_packer_destroy(&self->reply);
    zhashx_destroy(&self->seen);
    free(self->stored);
    free(self->items);
    free(self);
    *self_p = NULL;
}

static journal_t *s_journal_new(zsock_t *pipe, settings_t *settings)
{
    journal_t *self = calloc(1, sizeof *self);
    assert(self);
    self->pipe = pipe;
    self->settings = settings;
    //  The last message of a batch may bring up to PARTS_MAX items.
    self->items = calloc(BATCH_MAX_MSGS + PARTS_MAX, sizeof *self->items);
    self->seen = zhashx_new();
    assert(self->items);
    self->pending = zlist_new();
    self->fence = fence_new();
    rp_packer_init(&self->events);
    rp_packer_init(&self->reply);
    const char *dbs[] = {"events", "leases", "owners", IDEM_DBS, NULL};
    self->store = rp_store_new(settings->dir, dbs);
    int rc = self->store ? rp_store_read(self->store, s_load, self) : -1;
    if (rc) {
        if (self->store)
            rp_error("journal: cannot load %s: %s", settings->dir, mdb_strerror(rc));
        s_journal_destroy(&self);
        return NULL;
    }
    s_reserve(self, settings->owners);
    if (!self->id[0]) { //  a new journal (or one from before identities)
        uint8_t bytes[16];
        rp_random_bytes(bytes, sizeof bytes);
        sodium_bin2hex(self->id, sizeof self->id, bytes, sizeof bytes);
        rc = rp_store_write(self->store, s_save_id, self);
        if (rc) {
            rp_error("journal: cannot store its identity in %s: %s", settings->dir,
                     mdb_strerror(rc));
            s_journal_destroy(&self);
            return NULL;
        }
        rp_info("journal: new journal %s", self->id);
    }
    self->feed = feed_new(settings->feed_bind, &settings->feed);
    if (!self->feed) {
        s_journal_destroy(&self);
        return NULL;
    }
    snprintf(s_feed_endpoint, sizeof s_feed_endpoint, "%s", feed_endpoint(self->feed));
    atomic_store(&s_head, self->head);
    rp_info("journal: started journal=%s head=%" PRIu64 " path=%s feed=%s", self->id, self->head,
            settings->dir, feed_endpoint(self->feed));
    return self;
}

//  ---------------------------------------------------------------------
//  Collecting a batch

//  The lease named by a frame. The header speaks of the service ("x"); a
//  router that passes the lease name "x.writer" means the same lease.
static bool s_service_name(zframe_t *frame, char *name)
{
    size_t size = frame ? zframe_size(frame) : 0;
    const char *data = frame ? (const char *)zframe_data(frame) : "";
    if (size > 7 && memcmp(data + size - 7, ".writer", 7) == 0)
        size -= 7;
    if (size == 0 || size > FENCE_MAX_SERVICE || memchr(data, 0, size))
        return false;
    memcpy(name, data, size);
    name[size] = 0;
    return true;
}

//  journal.read {from_seq?, max?}
static void s_parse_read(journal_t *self, item_t *item)
{
    (void)self;
    const msgpack_object *from = rp_obj_get(item->req.args, "from_seq");
    const msgpack_object *max = rp_obj_get(item->req.args, "max");
    uint64_t value = 1;
    item->kind = ITEM_READ;
    if (from && from->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(from, &value))
        return s_fail(item, 400, "bad_request", "from_seq must be a non-negative integer");
    item->from = value ? value : 1;
    value = READ_DEFAULT;
    if (max && max->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(max, &value))
        return s_fail(item, 400, "bad_request", "max must be a non-negative integer");
    item->max = value > READ_MAX ? READ_MAX : (size_t)value;
}

//  A shared append's parts, {count, idem?} each, in order over its events:
//  one item per part, decided on its own (its key, its events) in the
//  items after the request's. The first keeps the request (doc, client) and
//  answers for all (s_pack_parts); the request takes item->parts items.
static void s_parse_parts(journal_t *self, item_t *item, const msgpack_object *parts)
{
    if (!rp_obj_is_array(parts) || parts->via.array.size == 0 || parts->via.array.size > PARTS_MAX)
        return s_fail(item, 400, "bad_request", "parts must be an array of 1..100 parts");
    if (item->req.idem)
        return s_fail(item, 400, "bad_request", "an append with parts keeps its keys in them");
    const msgpack_object *all = item->events;
    size_t total = item->events_n, used = 0, n = parts->via.array.size;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *part = &parts->via.array.ptr[i];
        const msgpack_object *idem = rp_obj_get(part, "idem");
        uint64_t count = 0;
        const char *key = NULL;
        size_t key_len = 0;
        if (!rp_obj_u64(rp_obj_get(part, "count"), &count) || count == 0 || count > total - used)
            return s_fail(item, 400, "bad_request",
                          "a part's count must be 1 or more, within events");
        if (idem && idem->type != MSGPACK_OBJECT_NIL &&
            (!rp_obj_str(idem, &key, &key_len) || key_len == 0 || key_len > IDEM_MAX_KEY ||
             memchr(key, 0, key_len)))
            return s_fail(item, 400, "bad_request", "a part's idem must be 1..400 bytes, no NUL");
        item_t *into = &self->items[self->items_n + i];
        if (i > 0)
            *into = (item_t){
                .kind = ITEM_APPEND, .req = item->req, .status = 200, .index = -1, .part = true};
        into->req.idem = key;
        into->req.idem_len = key_len;
        into->events = all + used;
        into->events_n = (size_t)count;
        used += (size_t)count;
    }
    if (used != total)
        return s_fail(item, 400, "bad_request", "the parts' counts must add up to the events");
    item->parts = n;
}

//  journal.append {events, writer?, epoch?, parts?}
static void s_parse_append(journal_t *self, item_t *item)
{
    item->kind = ITEM_APPEND;
    item->parts = 1;
    const msgpack_object *events = rp_obj_get(item->req.args, "events");
    size_t count = rp_obj_is_array(events) ? events->via.array.size : 0;
    if (count == 0 || count > self->settings->max_events) {
        snprintf(item->text, sizeof item->text, "args.events must be an array of 1..%zu events",
                 self->settings->max_events);
        return s_fail(item, 400, "bad_request", item->text);
    }
    item->events = events->via.array.ptr;
    item->events_n = count;
    const msgpack_object *parts = rp_obj_get(item->req.args, "parts");
    if (parts && parts->type != MSGPACK_OBJECT_NIL)
        s_parse_parts(self, item, parts);
}

static void s_parse_request(journal_t *self, item_t *item, zframe_t *body)
{
    const char *err = NULL;
    item->kind = ITEM_REPLY;
    item->doc = rp_doc_new(zframe_data(body), zframe_size(body), &err);
    if (!item->doc)
        return s_fail(item, 400, "bad_request", err ? err : "body is not MessagePack");
    err = rp_request_parse(rp_doc_root(item->doc), &item->req);
    if (err) {
        const msgpack_object *id = item->req.id;
        if (id && (id->type == MSGPACK_OBJECT_MAP || id->type == MSGPACK_OBJECT_ARRAY))
            item->req.id = NULL;
        return s_fail(item, 400, "bad_request", err);
    }
    item->status = 200;
    if (rp_request_is(&item->req, "journal.append"))
        s_parse_append(self, item); //  decided in pipe order, see s_decide
    else if (rp_request_is(&item->req, "journal.read"))
        s_parse_read(self, item);
    else if (rp_request_is(&item->req, "journal.head"))
        item->kind = ITEM_HEAD;
    else
        s_fail(item, 400, "unknown_op", "the journal knows journal.append, .read and .head");
}

static void s_add_lease(void *arg, const char *service, uint64_t epoch)
{
    uint8_t bytes[8];
    rp_seq_put(bytes, epoch);
    zmsg_addstr((zmsg_t *)arg, service);
    zmsg_addmem((zmsg_t *)arg, bytes, 8);
}

//  ["LEASES", (service, epoch)…]: every lease the journal has persisted.
static void s_send_leases(journal_t *self)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "LEASES");
    fence_each(self->fence, s_add_lease, msg);
    zmsg_send(&msg, self->pipe);
}

//  Take one pipe message into the batch; false if it is not one of ours.
static bool s_item_add(journal_t *self, zmsg_t *msg)
{
    item_t *item = &self->items[self->items_n];
    memset(item, 0, sizeof *item);
    item->index = -1;
    char *command = zmsg_popstr(msg);
    size_t frames = zmsg_size(msg);
    bool ok = true;
    if (command && streq(command, "REQ") && frames == 2) {
        item->client = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        self->bytes += zframe_size(body);
        s_parse_request(self, item, body);
        zframe_destroy(&body);
    } else if (command && streq(command, "GRANT") && frames >= 2 &&
               frames <= 2 + FENCE_MAX_CLAIMS) {
        item->kind = ITEM_GRANT;
        item->service = zmsg_pop(msg);
        item->ticket = zmsg_pop(msg);
        item->claims = msg; //  what is left
        msg = NULL;
        if (!s_service_name(item->service, item->name))
            rp_error("journal: GRANT for an invalid service name, refused with epoch 0");
    } else if (command && streq(command, "LEASES") && frames == 0) {
        s_send_leases(self); //  not an item: answered now, from memory
        ok = false;
    } else if (command && streq(command, "REVOKE") && frames == 1) {
        item->kind = ITEM_REVOKE;
        item->service = zmsg_pop(msg);
        s_service_name(item->service, item->name);
    } else {
        rp_warn("journal: dropped a pipe message '%s' with %zu frames", command ? command : "",
                frames);
        ok = false;
    }
    free(command);
    zmsg_destroy(&msg);
    if (ok)
        self->items_n += item->kind == ITEM_APPEND ? item->parts : 1;
    return ok;
}

//  Drain the pipe: everything that arrived during the last commit goes into
//  this batch, within bounds. GRANTs whose commit failed go first.
static void s_collect(journal_t *self)
{
    zmsg_t *msg;
    while (self->items_n < BATCH_MAX_MSGS && (msg = zlist_pop(self->pending)))
        s_item_add(self, msg);
    //  The pipe's receive timeout is 0 (s_run): an empty receive ends the
    //  batch without asking ZMQ_EVENTS before every message.
    while (self->items_n < BATCH_MAX_MSGS && self->bytes < BATCH_MAX_BYTES) {
        msg = zmsg_recv(self->pipe);
        if (!msg)
            break;
        zframe_t *first = zmsg_first(msg);
        if (first && zframe_streq(first, "$TERM")) {
            self->terminated = true;
            zmsg_destroy(&msg);
            break;
        }
        s_item_add(self, msg);
    }
}

//  ---------------------------------------------------------------------
//  Deciding appends

//  Beyond rp_event_parse: string keys, a bounded number, no duplicates (a
//  second "type" would mean different things to different decoders).
static const char *s_check_keys(const msgpack_object *map)
{
    const msgpack_object_map *m = &map->via.map;
    if (m->size > EVENT_MAX_KEYS)
        return "event has more than 64 attributes";
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *key = &m->ptr[i].key;
        if (key->type != MSGPACK_OBJECT_STR)
            return "event attribute names must be strings";
        for (uint32_t j = 0; j < i; j++) {
            const msgpack_object *other = &m->ptr[j].key;
            if (other->via.str.size == key->via.str.size &&
                memcmp(other->via.str.ptr, key->via.str.ptr, key->via.str.size) == 0)
                return "event has a duplicate attribute";
        }
    }
    return NULL;
}

//  Attributes the journal sets: any submitted seq, and a nil specversion or
//  time (rp_event_parse treats nil as absent, so the journal fills them).
static bool s_replaced(const msgpack_object_kv *kv)
{
    if (rp_obj_streq(&kv->key, "seq"))
        return true;
    return kv->val.type == MSGPACK_OBJECT_NIL &&
           (rp_obj_streq(&kv->key, "specversion") || rp_obj_streq(&kv->key, "time"));
}

//  The stored event: the submitted map with seq set, and specversion and
//  time added when absent.
static void s_pack_event(msgpack_packer *pk, const msgpack_object *map, const rp_event_t *event,
                         uint64_t seq, const char *now)
{
    const msgpack_object_map *m = &map->via.map;
    uint32_t size = 1 + !event->specversion + !event->time;
    for (uint32_t i = 0; i < m->size; i++)
        size += !s_replaced(&m->ptr[i]);
    msgpack_pack_map(pk, size);
    for (uint32_t i = 0; i < m->size; i++)
        if (!s_replaced(&m->ptr[i])) {
            msgpack_pack_object(pk, m->ptr[i].key);
            msgpack_pack_object(pk, m->ptr[i].val);
        }
    rp_pack_kv_u64(pk, "seq", seq);
    if (!event->specversion)
        rp_pack_kv_cstr(pk, "specversion", "1.0");
    if (!event->time)
        rp_pack_kv_cstr(pk, "time", now);
}

static stored_t *s_store_event(journal_t *self, const msgpack_object *map, const rp_event_t *event,
                               uint64_t seq, const char *now)
{
    if (self->stored_n == self->stored_max) {
        self->stored_max = self->stored_max ? self->stored_max * 2 : 1024;
        self->stored = realloc(self->stored, self->stored_max * sizeof *self->stored);
        assert(self->stored);
    }
    stored_t *stored = &self->stored[self->stored_n++];
    stored->seq = seq;
    stored->offset = self->events.buffer.size;
    s_pack_event(&self->events.pk, map, event, seq, now);
    stored->size = self->events.buffer.size - stored->offset;
    stored->type = event->type;
    stored->type_len = event->type_len;
    stored->key = NULL;
    return stored;
}

//  ---------------------------------------------------------------------
//  Integrator events: the types no service owns (rapport/integrator.h)

#define INTEGRATOR_MAX_ID 200 //  bytes of an integrator event's id
#define DEDUP_KEY_MAX     (IDEM_MAX_KEY - 1)

//  The dedup key of an event: "e<source bytes>:<source><id>", a C string
//  (both are NUL-free), kept in the idem tables beside request keys. 0 if
//  it does not fit.
static size_t s_dedup_key(const rp_event_t *event, char *out)
{
    int len = snprintf(out, DEDUP_KEY_MAX + 1, "e%zu:%.*s%.*s", event->source_len,
                       (int)event->source_len, event->source, (int)event->id_len, event->id);
    return len > 0 && len <= DEDUP_KEY_MAX ? (size_t)len : 0;
}

//  The checks of an integrator event: a known type, its data's schema,
//  an id of 1..INTEGRATOR_MAX_ID bytes, no NUL in id and source. On a
//  refusal the item fails 422 naming event i.
static bool s_integrator_check(item_t *item, size_t i, const rp_event_t *event)
{
    const char *code = NULL;
    char key[DEDUP_KEY_MAX + 1];
    if (!rp_integrator_known(event->type, event->type_len)) {
        code = "unknown_type";
        snprintf(item->text, sizeof item->text,
                 "event %zu: %.*s is no event type integrators publish (docs/events.md)", i,
                 (int)(event->type_len > 64 ? 64 : event->type_len), event->type);
    } else if (event->id_len > INTEGRATOR_MAX_ID || memchr(event->id, 0, event->id_len) ||
               memchr(event->source, 0, event->source_len) || !s_dedup_key(event, key)) {
        code = "bad_event";
        snprintf(item->text, sizeof item->text,
                 "event %zu: id is 1..200 bytes and id and source have no NUL", i);
    } else {
        item->error_count =
            rp_integrator_check(event->type, event->type_len, event->data, item->errors, 4);
        if (item->error_count) {
            code = "bad_event";
            snprintf(item->text, sizeof item->text, "event %zu: its data does not follow %.*s", i,
                     (int)event->type_len, event->type);
        }
    }
    if (!code)
        return true;
    item->index = (int64_t)i;
    s_fail(item, 422, code, item->text);
    return false;
}

//  The seq an integrator event already has: stored earlier in this batch,
//  or within the idem window. 0 if it is new.
static uint64_t s_dedup_seq(journal_t *self, MDB_txn *txn, const char *key, size_t len)
{
    uint64_t seq = (uint64_t)(uintptr_t)zhashx_lookup(self->seen, key), first, count;
    if (!seq && idem_lookup(self->store, txn, key, len, self->now, self->settings->idem_window_s,
                            &first, &count))
        seq = first;
    return seq;
}

//  The highest seq an append's answer names.
static uint64_t s_last_seq(const item_t *item)
{
    uint64_t last = item->count ? item->first + item->count - 1 : 0;
    for (size_t i = 0; item->seqs && i < item->events_n; i++)
        if (item->seqs[i] > last)
            last = item->seqs[i];
    return last;
}

//  The earlier append of this batch with the same idem key, if any.
static const item_t *s_batch_original(journal_t *self, const item_t *item)
{
    for (const item_t *other = self->items; other < item; other++)
        if (other->kind == ITEM_APPEND && other->status == 200 && other->req.idem &&
            other->req.idem_len == item->req.idem_len &&
            memcmp(other->req.idem, item->req.idem, item->req.idem_len) == 0)
            return other->original ? other->original : other;
    return NULL;
}

//  A retry gets the first answer, whatever changed since (even the lease).
static bool s_decide_duplicate(journal_t *self, MDB_txn *txn, item_t *item)
{
    if (!item->req.idem)
        return false;
    const item_t *original = s_batch_original(self, item);
    if (original) {
        item->original = original;
        item->first = original->first;
        item->count = original->count;
        item->duplicate = true;
        return true;
    }
    item->duplicate = idem_lookup(self->store, txn, item->req.idem, item->req.idem_len, self->now,
                                  self->settings->idem_window_s, &item->first, &item->count);
    return item->duplicate;
}

//  journal.append {events, writer?, epoch?, token?}, or one part of a shared one
static void s_decide_append(journal_t *self, MDB_txn *txn, item_t *item)
{
    const msgpack_object *args = item->req.args;
    const msgpack_object *writer_obj = rp_obj_get(args, "writer");
    const msgpack_object *epoch_obj = rp_obj_get(args, "epoch");
    const msgpack_object *token_obj = rp_obj_get(args, "token");
    fence_writer_t writer = {0};
    size_t count = item->events_n;
    if (writer_obj && writer_obj->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_str(writer_obj, &writer.name, &writer.name_len) || writer.name_len == 0 ||
         writer.name_len > FENCE_MAX_SERVICE))
        return s_fail(item, 400, "bad_request", "writer must be a service name");
    if (epoch_obj && epoch_obj->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(epoch_obj, &writer.epoch))
        return s_fail(item, 400, "bad_request", "epoch must be a non-negative integer");
    if (token_obj && token_obj->type != MSGPACK_OBJECT_NIL &&
        !rp_obj_str(token_obj, &writer.token, &writer.token_len))
        return s_fail(item, 400, "bad_request", "token must be a string");
    if (s_decide_duplicate(self, txn, item))
        return;

    fence_claim_t claim = {0};
    const msgpack_object *array = item->events;
    for (size_t i = 0; i < count; i++) {
        rp_event_t event;
        const char *err = rp_event_parse(&array[i], &event);
        if (!err)
            err = s_check_keys(&array[i]);
        if (err) {
            snprintf(item->text, sizeof item->text, "event %zu: %s", i, err);
            item->index = (int64_t)i;
            return s_fail(item, 422, "bad_event", item->text);
        }
        fence_claim_add(self->fence, &claim, event.type, event.type_len);
    }
    int status = fence_check(self->fence, &claim, &writer, &item->code, &item->message);
    if (status)
        return s_fail(item, status, item->code, item->message);
    bool integrator = false;
    for (size_t i = 0; i < count; i++) {
        rp_event_t event;
        rp_event_parse(&array[i], &event);
        if (fence_owner(self->fence, event.type, event.type_len))
            continue;
        if (!s_integrator_check(item, i, &event))
            return;
        integrator = true;
    }
    if (integrator) {
        item->seqs = calloc(count, sizeof *item->seqs);
        item->dups = calloc(count, sizeof *item->dups);
        assert(item->seqs && item->dups);
    }

    char now[32];
    rp_time_now(now);
    item->first = self->next_seq;
    item->count = 0;
    for (size_t i = 0; i < count; i++) {
        rp_event_t event;
        rp_event_parse(&array[i], &event);
        char key[DEDUP_KEY_MAX + 1];
        size_t key_len = 0;
        if (integrator && !fence_owner(self->fence, event.type, event.type_len)) {
            key_len = s_dedup_key(&event, key);
            uint64_t seq = s_dedup_seq(self, txn, key, key_len);
            if (seq) { //  sent before: its first seq, nothing appended
                item->seqs[i] = seq;
                item->dups[i] = true;
                continue;
            }
        }
        uint64_t seq = self->next_seq++;
        stored_t *stored = s_store_event(self, &array[i], &event, seq, now);
        item->count++;
        if (item->seqs)
            item->seqs[i] = seq;
        if (key_len) {
            stored->key = strdup(key);
            assert(stored->key);
            zhashx_insert(self->seen, key, (void *)(uintptr_t)seq);
        }
    }
}

//  The next epoch of a lease, with the holder's claims: all of them are
//  taken, or none and no grant (epoch 0, item->text says why).
static void s_decide_grant(journal_t *self, item_t *item)
{
    char prefix[FENCE_MAX_PREFIX + 1];
    for (zframe_t *claim = zmsg_first(item->claims); claim; claim = zmsg_next(item->claims)) {
        size_t len = zframe_size(claim);
        const char *other = NULL;
        if (len <= FENCE_MAX_PREFIX) {
            memcpy(prefix, zframe_data(claim), len);
            prefix[len] = 0;
        }
        if (len > FENCE_MAX_PREFIX || !fence_prefix_valid(prefix, len))
            snprintf(item->text, sizeof item->text, "a claimed prefix is invalid");
        else if ((other = fence_own_conflict(self->fence, item->name, prefix)))
            snprintf(item->text, sizeof item->text,
                     "claims %.64s, which overlaps a prefix of %.90s", prefix, other);
        else
            continue;
        rp_warn("journal: lease %s refused: %s", item->name, item->text);
        return;
    }
    item->epoch = fence_grant(self->fence, item->name);
    memcpy(item->lease_token, fence_token(self->fence, item->name), sizeof item->lease_token);
    size_t i = 0;
    for (zframe_t *claim = zmsg_first(item->claims); claim; claim = zmsg_next(item->claims), i++) {
        memcpy(prefix, zframe_data(claim), zframe_size(claim));
        prefix[zframe_size(claim)] = 0;
        if (fence_own(self->fence, item->name, prefix) == 1) {
            item->claimed |= 1u << i;
            rp_info("journal: %s owns %s from now on", item->name, prefix);
        }
    }
}

//  Decide every message in pipe order (inside one read transaction).
static int s_decide(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)store;
    journal_t *self = arg;
    for (size_t i = 0; i < self->items_n; i++) {
        item_t *item = &self->items[i];
        if (item->kind == ITEM_APPEND && item->status == 200)
            s_decide_append(self, txn, item);
        else if (item->kind == ITEM_GRANT && item->name[0])
            s_decide_grant(self, item);
        else if (item->kind == ITEM_REVOKE && item->name[0])
            fence_revoke(self->fence, item->name);
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Committing

static bool s_appends(const item_t *item)
{
    return item->kind == ITEM_APPEND && item->status == 200 && !item->duplicate;
}

//  Everything the batch writes, redone from the decided batch if
//  rp_store_write retries after growing the map.
static int s_commit(rp_store_t *store, MDB_txn *txn, void *arg)
{
    journal_t *self = arg;
    MDB_dbi events = rp_store_dbi(store, "events"), leases = rp_store_dbi(store, "leases");
    int rc = 0;
    if (atomic_load(&s_fail_commits) > 0) {
        atomic_fetch_sub(&s_fail_commits, 1);
        return EIO;
    }
    for (size_t i = 0; i < self->stored_n && !rc; i++) {
        stored_t *stored = &self->stored[i];
        uint8_t key[8];
        rp_seq_put(key, stored->seq);
        MDB_val k = {8, key}, v = {stored->size, self->events.buffer.data + stored->offset};
        rc = mdb_put(txn, events, &k, &v, MDB_APPEND);
        if (!rc && stored->key)
            rc = idem_put(store, txn, stored->key, strlen(stored->key), stored->seq, 1, self->now);
    }
    for (size_t i = 0; i < self->items_n && !rc; i++) {
        item_t *item = &self->items[i];
        //  An append whose events were all sent before appended nothing: a
        //  retry is answered event by event (each one's key) again.
        if (s_appends(item) && item->req.idem && item->count > 0)
            rc = idem_put(store, txn, item->req.idem, item->req.idem_len, item->first, item->count,
                          self->now);
        else if (item->kind == ITEM_GRANT && item->epoch) {
            uint8_t value[8];
            rp_seq_put(value, item->epoch);
            MDB_val k = {strlen(item->name), item->name}, v = {8, value};
            rc = mdb_put(txn, leases, &k, &v, 0);
            size_t c = 0;
            for (zframe_t *claim = zmsg_first(item->claims); claim && !rc;
                 claim = zmsg_next(item->claims), c++)
                if (item->claimed & (1u << c)) {
                    MDB_val prefix = {zframe_size(claim), zframe_data(claim)};
                    rc = mdb_put(txn, rp_store_dbi(store, "owners"), &prefix, &k, 0);
                }
        }
    }
    size_t purged = 0;
    if (!rc)
        rc = idem_purge(store, txn, self->now, self->settings->idem_window_s, PURGE_PER_COMMIT,
                        &purged);
    return rc;
}

//  The commit failed: nothing of the batch exists. Appends fail; lease
//  changes are retried at the head of the next batch, in their order, and
//  the granted leases stay vacant until then.
static void s_abandon(journal_t *self, int rc)
{
    rp_error("journal: commit of %zu events failed: %s", self->stored_n, mdb_strerror(rc));
    self->next_seq = self->head + 1;
    bool retry = false;
    for (size_t i = 0; i < self->items_n; i++) {
        item_t *item = &self->items[i];
        if (s_appends(item) || (item->original && s_appends(item->original)))
            s_fail(item, 500, "journal_error", "the journal could not commit; retry");
    }
    for (size_t i = self->items_n; i-- > 0;) { //  newest grant first
        item_t *item = &self->items[i];
        if (item->kind == ITEM_GRANT && item->epoch) {
            fence_ungrant(self->fence, item->name, item->epoch);
            size_t c = 0;
            for (zframe_t *claim = zmsg_first(item->claims); claim;
                 claim = zmsg_next(item->claims), c++)
                if (item->claimed & (1u << c)) {
                    char prefix[FENCE_MAX_PREFIX + 1];
                    memcpy(prefix, zframe_data(claim), zframe_size(claim));
                    prefix[zframe_size(claim)] = 0;
                    fence_disown(self->fence, prefix);
                }
            item->claimed = 0;
            retry = true;
        }
    }
    for (size_t i = 0; retry && i < self->items_n; i++) {
        item_t *item = &self->items[i];
        if ((item->kind == ITEM_GRANT && item->epoch) || item->kind == ITEM_REVOKE) {
            zmsg_t *msg = zmsg_new();
            zmsg_addstr(msg, item->kind == ITEM_GRANT ? "GRANT" : "REVOKE");
            zmsg_append(msg, &item->service);
            if (item->kind == ITEM_GRANT) {
                zmsg_append(msg, &item->ticket);
                zframe_t *claim;
                while ((claim = zmsg_pop(item->claims)))
                    zmsg_append(msg, &claim);
            }
            zlist_append(self->pending, msg);
            item->deferred = true; //  no reply now
        }
    }
}

static bool s_writes(journal_t *self)
{
    if (self->stored_n)
        return true;
    for (size_t i = 0; i < self->items_n; i++)
        if (self->items[i].kind == ITEM_GRANT && self->items[i].epoch)
            return true;
    return false;
}

//  ---------------------------------------------------------------------
//  Replies

static void s_send(journal_t *self, item_t *item)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "REP");
    zmsg_append(msg, &item->client);
    zmsg_addmem(msg, self->reply.buffer.data, self->reply.buffer.size);
    zmsg_send(&msg, self->pipe);
}

//  {code, message, details?: {index}}: the error of a reply, or of a part.
static void s_pack_error_map(msgpack_packer *pk, const item_t *item)
{
    rp_error_pack(pk, item->code, item->message, item->index >= 0);
    if (item->index >= 0) {
        msgpack_pack_map(pk, item->error_count ? 2 : 1);
        rp_pack_kv_i64(pk, "index", item->index);
    }
    if (item->index >= 0 && item->error_count) {
        rp_pack_cstr(pk, "errors");
        msgpack_pack_array(pk, (size_t)item->error_count);
        for (int i = 0; i < item->error_count; i++) {
            char field[RP_MAX_FIELD + 32]; //  named from the request: events[3].data.amount
            snprintf(field, sizeof field, "events[%" PRId64 "].%s", item->index,
                     item->errors[i].field);
            msgpack_pack_map(pk, 3);
            rp_pack_kv_cstr(pk, "field", field);
            rp_pack_kv_cstr(pk, "code", item->errors[i].code);
            rp_pack_kv_cstr(pk, "message", item->errors[i].message);
        }
    }
}

static void s_pack_error(msgpack_packer *pk, const item_t *item)
{
    rp_reply_pack(pk, item->req.id, item->status, 0, 1);
    rp_pack_cstr(pk, "error");
    s_pack_error_map(pk, item);
}

//  {seqs, duplicate, items}: seqs the append's own (each event's, in
//  order, when it had integrator events: a duplicate's is the seq it got
//  the first time); items [{id, seq, status: accepted | duplicate}].
static void s_pack_seqs(msgpack_packer *pk, const item_t *item)
{
    size_t n = item->seqs ? item->events_n : item->count;
    rp_pack_cstr(pk, "seqs");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_pack_uint64(pk, item->seqs ? item->seqs[i] : item->first + i);
    rp_pack_kv_bool(pk, "duplicate", item->duplicate || (item->seqs && item->count == 0));
    rp_pack_cstr(pk, "items");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        rp_event_t event;
        bool parsed = i < item->events_n && !rp_event_parse(&item->events[i], &event);
        bool dup = item->duplicate || (item->dups && item->dups[i]);
        msgpack_pack_map(pk, 3);
        rp_pack_cstr(pk, "id");
        if (parsed)
            rp_pack_strn(pk, event.id, event.id_len);
        else
            msgpack_pack_nil(pk);
        rp_pack_kv_u64(pk, "seq", item->seqs ? item->seqs[i] : item->first + i);
        rp_pack_kv_cstr(pk, "status", dup ? "duplicate" : "accepted");
    }
}

static void s_pack_append(msgpack_packer *pk, const item_t *item, const char *journal)
{
    rp_reply_pack(pk, item->req.id, 200, s_last_seq(item), 1);
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 4);
    s_pack_seqs(pk, item);
    rp_pack_kv_cstr(pk, "journal", journal);
}

//  A shared append: {parts: [{status, seqs, duplicate} | {status, error}]},
//  each part answered as an append of its own would be; the envelope's seq
//  is the highest of the parts'.
static void s_pack_parts(msgpack_packer *pk, const item_t *item, const char *journal)
{
    uint64_t seq = 0;
    for (size_t i = 0; i < item->parts; i++)
        if (item[i].status == 200 && s_last_seq(&item[i]) > seq)
            seq = s_last_seq(&item[i]);
    rp_reply_pack(pk, item->req.id, 200, seq, 1);
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "journal", journal);
    rp_pack_cstr(pk, "parts");
    msgpack_pack_array(pk, item->parts);
    for (size_t i = 0; i < item->parts; i++) {
        const item_t *part = &item[i];
        msgpack_pack_map(pk, part->status == 200 ? 4 : 2);
        rp_pack_kv_i64(pk, "status", part->status);
        if (part->status == 200) {
            s_pack_seqs(pk, part);
            continue;
        }
        rp_pack_cstr(pk, "error");
        s_pack_error_map(pk, part);
    }
}

typedef struct {
    journal_t *self;
    item_t *item;
} read_t;

//  A page of up to max events from `from`, within READ_MAX_BYTES (but at
//  least one event, so that a reader always makes progress).
static int s_pack_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    read_t *read = arg;
    item_t *item = read->item;
    msgpack_packer *pk = &read->self->reply.pk;
    MDB_val found[READ_MAX];
    size_t n = 0, bytes = 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "events"), &cursor);
    if (rc)
        return rc;
    uint8_t key[8];
    rp_seq_put(key, item->from);
    MDB_val k = {8, key}, v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE); rc == 0 && n < item->max;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        if (n > 0 && bytes + v.mv_size > READ_MAX_BYTES)
            break;
        found[n++] = v;
        bytes += v.mv_size;
    }
    rp_reply_pack(pk, item->req.id, 200, 0, 1);
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "journal", read->self->id);
    rp_pack_cstr(pk, "events");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++)
        msgpack_sbuffer_write(&read->self->reply.buffer, found[i].mv_data, found[i].mv_size);
    rp_pack_kv_u64(pk, "head", read->self->head);
    mdb_cursor_close(cursor);
    return 0;
}

static void s_reply(journal_t *self, item_t *item)
{
    rp_packer_reset(&self->reply);
    msgpack_packer *pk = &self->reply.pk;
    if (item->kind == ITEM_REVOKE || item->deferred || item->part)
        return; //  a part is answered with the first of its request
    if (item->kind == ITEM_APPEND && item->parts > 1) {
        s_pack_parts(pk, item, self->id);
        return s_send(self, item);
    }
    if (item->kind == ITEM_GRANT) {
        uint8_t epoch[8];
        rp_seq_put(epoch, item->epoch);
        zmsg_t *msg = zmsg_new();
        zmsg_addstr(msg, "GRANTED");
        zmsg_append(msg, &item->service);
        zmsg_append(msg, &item->ticket);
        zmsg_addmem(msg, epoch, 8);
        zmsg_addstr(msg, item->epoch ? item->lease_token : "");
        zmsg_addstr(msg, item->epoch ? "" : item->text); //  why it was refused
        sodium_memzero(item->lease_token, sizeof item->lease_token);
        zmsg_send(&msg, self->pipe);
        return;
    }
    if (item->status != 200)
        s_pack_error(pk, item);
    else if (item->kind == ITEM_APPEND)
        s_pack_append(pk, item, self->id);
    else if (item->kind == ITEM_READ) {
        read_t read = {self, item};
        int rc = rp_store_read(self->store, s_pack_read, &read);
        if (rc) {
            rp_error("journal: read failed: %s", mdb_strerror(rc));
            rp_packer_reset(&self->reply);
            s_fail(item, 500, "journal_error", "the journal could not be read");
            s_pack_error(pk, item);
        }
    } else if (item->kind == ITEM_HEAD) {
        rp_reply_pack(pk, item->req.id, 200, 0, 1);
        rp_pack_cstr(pk, "data");
        msgpack_pack_map(pk, 2);
        rp_pack_kv_u64(pk, "head", self->head);
        rp_pack_kv_cstr(pk, "journal", self->id);
    }
    s_send(self, item);
}

//  ---------------------------------------------------------------------
//  One batch

static void s_batch_reset(journal_t *self)
{
    for (size_t i = 0; i < self->items_n; i++) {
        item_t *item = &self->items[i];
        zframe_destroy(&item->client);
        zframe_destroy(&item->service);
        zframe_destroy(&item->ticket);
        zmsg_destroy(&item->claims);
        rp_doc_destroy(&item->doc);
        free(item->seqs);
        free(item->dups);
    }
    for (size_t i = 0; i < self->stored_n; i++)
        free(self->stored[i].key);
    zhashx_purge(self->seen);
    self->items_n = self->bytes = self->stored_n = 0;
    rp_packer_reset(&self->events);
}

static void s_process(journal_t *self)
{
    if (self->items_n == 0)
        return;
    self->now = s_now();
    self->next_seq = self->head + 1;
    int rc = rp_store_read(self->store, s_decide, self);
    if (rc) //  cannot even read: treat like a failed commit
        s_abandon(self, rc);
    else if (s_writes(self)) {
        rc = rp_store_write(self->store, s_commit, self);
        if (rc)
            s_abandon(self, rc);
        else {
            self->head = self->next_seq - 1;
            atomic_store(&s_head, self->head);
            atomic_fetch_add(&s_commits, 1);
            rp_debug("journal: committed %zu events from %zu messages", self->stored_n,
                     self->items_n);
            for (size_t i = 0; i < self->stored_n; i++) {
                stored_t *stored = &self->stored[i];
                feed_publish(self->feed, stored->type, stored->type_len, stored->seq,
                             self->events.buffer.data + stored->offset, stored->size);
            }
        }
    }
    for (size_t i = 0; i < self->items_n; i++)
        s_reply(self, &self->items[i]);
    s_batch_reset(self);
}

static void s_run(journal_t *self)
{
    zsock_set_rcvtimeo(self->pipe, 0);
    //  Sleep on the pipe's ZMQ_FD with a plain poll (signals do not stop
    //  it: only $TERM stops the journal). As in router_run: s_collect's
    //  empty receive leaves the mailbox processed, so the fd signals what
    //  comes next; a batch's replies are sends on the pipe, which may
    //  process the mailbox unseen, so a turn that had a batch is followed
    //  by another collect instead of a sleep.
    struct pollfd pipe_fd = {zsock_fd(self->pipe), POLLIN, 0};
    bool drain = true;
    int64_t next_head = zclock_mono();
    while (!self->terminated) {
        int64_t wait = next_head - zclock_mono();
        if (!drain && !zlist_size(self->pending))
            poll(&pipe_fd, 1, wait > 0 ? (int)wait : 0);
        s_collect(self);
        drain = self->items_n > 0;
        s_process(self);
        if (zclock_mono() >= next_head) {
            feed_head(self->feed, self->head);
            next_head = zclock_mono() + HEAD_INTERVAL_MS;
        }
    }
    rp_info("journal: stopped head=%" PRIu64, self->head);
}

static void s_settings_destroy(settings_t **settings_p)
{
    settings_t *settings = *settings_p;
    if (!settings)
        return;
    free(settings->dir);
    free(settings->feed_bind);
    free(settings->owners);
    free(settings);
    *settings_p = NULL;
}

//  After a failed start, stay until the owner destroys the actor.
static void s_wait_term(zsock_t *pipe)
{
    while (true) {
        char *command = zstr_recv(pipe);
        bool term = !command || streq(command, "$TERM");
        free(command);
        if (term)
            return;
    }
}

static void s_actor(zsock_t *pipe, void *args)
{
    settings_t *settings = args;
    journal_t *self = s_journal_new(pipe, settings);
    if (!self) {
        settings->failed = true; //  journal_new frees the settings
        zsock_signal(pipe, 0);
        s_wait_term(pipe);
        return;
    }
    zsock_signal(pipe, 0);
    s_run(self);
    s_journal_destroy(&self);
    s_settings_destroy(&settings);
}

static int64_t s_clamp(int64_t value, int64_t min, int64_t max)
{
    return value < min ? min : value > max ? max : value;
}

zactor_t *journal_new(rp_config_t *config)
{
    settings_t *settings = calloc(1, sizeof *settings);
    assert(settings);
    const char *data = rp_config_get(config, "data/dir", RP_DEFAULT_DATA_DIR);
    settings->dir = zsys_sprintf("%s/broker/journal", data);
    const char *feed = rp_config_get(config, "feed/endpoint", RP_DEFAULT_FEED_ENDPOINT);
    settings->feed_bind = strdup(rp_config_get(config, "feed/bind", feed));
    //  Services keep outcomes a day longer than the longest window
    //  (rapport/outcome.h), so a retry the journal knows finds its outcome.
    settings->idem_window_s =
        (uint64_t)s_clamp(rp_config_int(config, "journal/idem_window_s", RP_IDEM_WINDOW_MAX_S), 0,
                          RP_IDEM_WINDOW_MAX_S);
    settings->max_events = (size_t)s_clamp(rp_config_int(config, "journal/max_events", 1000),
                                           RP_APPENDS_GROUP_EVENTS, 100000);
    settings->feed.sndhwm = (int)s_clamp(rp_config_int(config, "feed/sndhwm", 100000), 0, INT_MAX);
    settings->feed.queue_bytes = (size_t)s_clamp(
        rp_config_int(config, "feed/queue_bytes", 64 << 20), 1 << 20, (int64_t)1 << 40);
    settings->feed.inline_max = (size_t)s_clamp(
        rp_config_int(config, "feed/inline_bytes", 16 << 10), 1 << 10, MDP_MESSAGE_MAX);
    settings->owners = strdup(rp_config_get(config, "fence/owners", ""));
    zactor_t *actor = zactor_new(s_actor, settings);
    if (actor && settings->failed) {
        zactor_destroy(&actor);
        s_settings_destroy(&settings);
    }
    return actor;
}

//  ---------------------------------------------------------------------
//  Self-test: drives the actor over its pipe, as the router does.

typedef struct {
    zactor_t *journal;
    rp_packer_t packer;
    uint64_t next_id;
    zhash_t *tokens;   //  writer → the lease token of its last GRANTED
    const char *forge; //  if set, the token every append carries instead
} tester_t;

//  {type, id "e-<n>", source, data: an order's} with an extra attribute
//  given as key/value.
static void s_test_event(msgpack_packer *pk, const char *type, uint64_t n, const char *extra_key,
                         const char *extra_value)
{
    msgpack_pack_map(pk, 4 + (extra_key != NULL));
    rp_pack_kv_cstr(pk, "type", type);
    char id[32];
    snprintf(id, sizeof id, "e-%" PRIu64, n);
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_cstr(pk, "source", "journal-test");
    rp_pack_cstr(pk, "data");
    rp_integrator_test_order(pk, id, n % 100000); //  the owned types take it too
    if (extra_key)
        rp_pack_kv_cstr(pk, extra_key, extra_value);
}

//  Pack journal.append of count events of one type.
static uint64_t s_test_pack_append(tester_t *t, const char *type, size_t count, const char *idem,
                                   const char *writer, uint64_t epoch)
{
    rp_packer_reset(&t->packer);
    msgpack_packer *pk = &t->packer.pk;
    uint64_t id = ++t->next_id;
    rp_request_pack(pk, id, "journal.append", 0, idem, 1);
    const char *token = t->forge ? t->forge : writer ? zhash_lookup(t->tokens, writer) : NULL;
    rp_pack_cstr(pk, "args");
    msgpack_pack_map(pk, 1 + (writer != NULL) + (epoch > 0) + (token != NULL));
    rp_pack_cstr(pk, "events");
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++)
        s_test_event(pk, type, id * 10000 + i, NULL, NULL);
    if (writer)
        rp_pack_kv_cstr(pk, "writer", writer);
    if (epoch)
        rp_pack_kv_u64(pk, "epoch", epoch);
    if (token)
        rp_pack_kv_cstr(pk, "token", token);
    return id;
}

static void s_test_send(tester_t *t, const void *body, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "REQ");
    zmsg_addstr(msg, "client-A");
    zmsg_addmem(msg, body, size);
    zmsg_send(&msg, t->journal);
}

static void s_test_send_packed(tester_t *t)
{
    s_test_send(t, t->packer.buffer.data, t->packer.buffer.size);
}

//  The next REP: its doc (caller destroys) and parsed reply.
static rp_doc_t *s_test_recv(tester_t *t, rp_reply_t *reply)
{
    zmsg_t *msg = zmsg_recv(t->journal);
    assert(msg && zmsg_size(msg) == 3);
    char *command = zmsg_popstr(msg);
    char *client = zmsg_popstr(msg);
    assert(streq(command, "REP") && streq(client, "client-A"));
    zframe_t *body = zmsg_pop(msg);
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    assert(doc);
    assert(rp_reply_parse(rp_doc_root(doc), reply) == NULL);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
    free(command);
    free(client);
    return doc;
}

//  Send the packed request, wait for its reply; returns the status and the
//  seqs of an append (first, last).
static int s_test_call(tester_t *t, uint64_t *first, uint64_t *last, bool *duplicate)
{
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    const msgpack_object *seqs = rp_obj_get(reply.data, "seqs");
    if (reply.status == 200 && rp_obj_is_array(seqs)) {
        const msgpack_object_array *a = &seqs->via.array;
        assert(a->size > 0);
        assert(rp_obj_u64(&a->ptr[0], first) && rp_obj_u64(&a->ptr[a->size - 1], last));
        assert(*last - *first + 1 == a->size && reply.seq == *last);
        bool dup = false;
        rp_obj_bool(rp_obj_get(reply.data, "duplicate"), &dup);
        if (duplicate)
            *duplicate = dup;
    }
    int status = reply.status;
    rp_doc_destroy(&doc);
    return status;
}

static int s_test_append(tester_t *t, const char *type, size_t count, const char *idem,
                         const char *writer, uint64_t epoch, uint64_t *last)
{
    uint64_t first = 0, end = 0;
    s_test_pack_append(t, type, count, idem, writer, epoch);
    int status = s_test_call(t, &first, &end, NULL);
    if (last)
        *last = end;
    return status;
}

static uint64_t s_test_head(tester_t *t)
{
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, ++t->next_id, "journal.head", 0, NULL, 0);
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    uint64_t head;
    assert(reply.status == 200 && rp_obj_u64(rp_obj_get(reply.data, "head"), &head));
    rp_doc_destroy(&doc);
    return head;
}

//  The journal's identity as journal.head answers it (caller frees).
static char *s_test_journal_id(tester_t *t)
{
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, ++t->next_id, "journal.head", 0, NULL, 0);
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    const char *id;
    size_t len;
    assert(reply.status == 200 && rp_obj_str(rp_obj_get(reply.data, "journal"), &id, &len));
    assert(len == 32);
    char *copy = strndup(id, len);
    rp_doc_destroy(&doc);
    return copy;
}

//  Read every event 1..head in pages and check seqs are 1..head.
static uint64_t s_test_read_all(tester_t *t, size_t page)
{
    uint64_t next = 1, head = 0;
    while (true) {
        rp_packer_reset(&t->packer);
        rp_request_pack(&t->packer.pk, ++t->next_id, "journal.read", 0, NULL, 1);
        rp_pack_cstr(&t->packer.pk, "args");
        msgpack_pack_map(&t->packer.pk, 2);
        rp_pack_kv_u64(&t->packer.pk, "from_seq", next);
        rp_pack_kv_u64(&t->packer.pk, "max", page);
        s_test_send_packed(t);
        rp_reply_t reply;
        rp_doc_t *doc = s_test_recv(t, &reply);
        const msgpack_object *events = rp_obj_get(reply.data, "events");
        assert(reply.status == 200 && rp_obj_is_array(events));
        assert(rp_obj_u64(rp_obj_get(reply.data, "head"), &head));
        uint32_t n = events->via.array.size;
        assert(n <= page && n <= READ_MAX);
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *event = &events->via.array.ptr[i];
            uint64_t seq;
            rp_event_t parsed;
            assert(rp_event_parse(event, &parsed) == NULL);
            assert(rp_obj_u64(rp_obj_get(event, "seq"), &seq) && seq == next);
            assert(rp_obj_streq(rp_obj_get(event, "specversion"), "1.0"));
            assert(parsed.time && parsed.time_len == 24);
            next++;
        }
        rp_doc_destroy(&doc);
        if (n == 0)
            break;
    }
    assert(next == head + 1);
    return head;
}

//  Receive a GRANTED for service with ticket; keep its lease token for the
//  writer's appends, and return its epoch.
static uint64_t s_test_granted(tester_t *t, const char *service, const char *ticket)
{
    zmsg_t *msg = zmsg_recv(t->journal);
    assert(msg && zmsg_size(msg) == 6);
    char *command = zmsg_popstr(msg), *name = zmsg_popstr(msg), *given = zmsg_popstr(msg);
    assert(streq(command, "GRANTED") && streq(name, service) && streq(given, ticket));
    zframe_t *epoch = zmsg_pop(msg);
    assert(zframe_size(epoch) == 8);
    uint64_t value = rp_seq_get(zframe_data(epoch));
    char *token = zmsg_popstr(msg), *refusal = zmsg_popstr(msg);
    assert(token && strlen(token) == (value ? FENCE_TOKEN_LEN : 0));
    assert(refusal && (value ? !*refusal : !*name || *refusal)); //  said why, if it could
    free(refusal);
    char writer[FENCE_MAX_SERVICE + 1];
    snprintf(writer, sizeof writer, "%s", service);
    char *suffix = strstr(writer, ".writer");
    if (suffix)
        *suffix = 0;
    if (value) {
        //  Every grant's token is new.
        assert(!zhash_lookup(t->tokens, writer) || !streq(zhash_lookup(t->tokens, writer), token));
        zhash_update(t->tokens, writer, token);
        zhash_freefn(t->tokens, writer, free);
    } else
        free(token);
    zframe_destroy(&epoch);
    free(command), free(name), free(given);
    zmsg_destroy(&msg);
    return value;
}

//  Send a GRANT whose holder claims prefixes (NULL-terminated); its epoch.
static uint64_t s_test_grant_claims(tester_t *t, const char *service, const char *const *claims)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addstr(msg, "GRANT");
    zmsg_addstr(msg, service);
    zmsg_addstr(msg, "ticket-c");
    for (; *claims; claims++)
        zmsg_addstr(msg, *claims);
    zmsg_send(&msg, t->journal);
    return s_test_granted(t, service, "ticket-c");
}

//  Send a GRANT and return the epoch of its GRANTED.
static uint64_t s_test_grant(tester_t *t, const char *service)
{
    zstr_sendx(t->journal, "GRANT", service, "ticket-1", NULL);
    return s_test_granted(t, service, "ticket-1");
}

//  The error code of a reply to the packed request; sets *index if given.
static int s_test_error(tester_t *t, const char *code, int64_t *index)
{
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    int status = reply.status;
    assert(status >= 400 && reply.error_code);
    assert(reply.error_code_len == strlen(code) &&
           memcmp(reply.error_code, code, strlen(code)) == 0);
    if (index) {
        const msgpack_object *error = rp_obj_get(rp_doc_root(doc), "error");
        assert(rp_obj_i64(rp_obj_get(rp_obj_get(error, "details"), "index"), index));
    }
    rp_doc_destroy(&doc);
    return status;
}

//  Receive one feed message: its type and seq ("$head" included).
static void s_test_feed_recv(zsock_t *sub, char **type, uint64_t *seq, rp_doc_t **event)
{
    zmsg_t *msg = zmsg_recv(sub);
    assert(msg);
    *type = zmsg_popstr(msg);
    zframe_t *be = zmsg_pop(msg);
    assert(be && zframe_size(be) == 8);
    *seq = rp_seq_get(zframe_data(be));
    zframe_destroy(&be);
    zframe_t *body = zmsg_pop(msg);
    *event = body ? rp_doc_new(zframe_data(body), zframe_size(body), NULL) : NULL;
    assert(!body || *event);
    zframe_destroy(&body);
    zmsg_destroy(&msg);
}

static zsock_t *s_test_subscribe(void)
{
    zsock_t *sub = zsock_new_sub(s_feed_endpoint, "");
    assert(sub);
    zsock_set_rcvtimeo(sub, 5000);
    //  PUB drops everything before the subscription arrives: wait for a
    //  $head (once a second) as the sign that it has.
    char *type;
    uint64_t seq;
    rp_doc_t *event;
    s_test_feed_recv(sub, &type, &seq, &event);
    assert(streq(type, "$head") && !event);
    free(type);
    return sub;
}

static void s_test_bad_input(tester_t *t)
{
    int64_t index;
    //  Not MessagePack, not a map, no op, an unknown op.
    s_test_send(t, "\xc1", 1);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    assert(reply.status == 400 && reply.id && reply.id->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    s_test_send(t, "\x93\x01\x02\x03", 4);
    doc = s_test_recv(t, &reply);
    assert(reply.status == 400);
    rp_doc_destroy(&doc);
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, 1, "journal.nope", 0, NULL, 0);
    assert(s_test_error(t, "unknown_op", NULL) == 400);

    //  No events, too many, not an array, a bad writer.
    s_test_pack_append(t, "order.placed", 0, NULL, NULL, 0);
    assert(s_test_error(t, "bad_request", NULL) == 400);
    s_test_pack_append(t, "order.placed", 1001, NULL, NULL, 0);
    assert(s_test_error(t, "bad_request", NULL) == 400);
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, 1, "journal.append", 0, NULL, 1);
    rp_pack_cstr(&t->packer.pk, "args");
    msgpack_pack_map(&t->packer.pk, 2);
    rp_pack_kv_cstr(&t->packer.pk, "events", "x");
    rp_pack_kv_u64(&t->packer.pk, "writer", 3);
    assert(s_test_error(t, "bad_request", NULL) == 400);

    //  Bad events: the index of the first bad one.
    const char *bad_types[] = {"Upper.case", "", "$head", "a b"};
    for (size_t b = 0; b < 4; b++) {
        rp_packer_reset(&t->packer);
        rp_request_pack(&t->packer.pk, 1, "journal.append", 0, NULL, 1);
        rp_pack_cstr(&t->packer.pk, "args");
        msgpack_pack_map(&t->packer.pk, 1);
        rp_pack_cstr(&t->packer.pk, "events");
        msgpack_pack_array(&t->packer.pk, 3);
        s_test_event(&t->packer.pk, "order.placed", 1, NULL, NULL);
        s_test_event(&t->packer.pk, "order.placed", 2, NULL, NULL);
        s_test_event(&t->packer.pk, bad_types[b], 3, NULL, NULL);
        assert(s_test_error(t, "bad_event", &index) == 422 && index == 2);
    }
    //  A duplicate attribute, a missing data, a bad time.
    const char *extra[][2] = {{"type", "order.placed"}, {"time", ""}, {"specversion", "0.3"}};
    for (size_t b = 0; b < 3; b++) {
        rp_packer_reset(&t->packer);
        rp_request_pack(&t->packer.pk, 1, "journal.append", 0, NULL, 1);
        rp_pack_cstr(&t->packer.pk, "args");
        msgpack_pack_map(&t->packer.pk, 1);
        rp_pack_cstr(&t->packer.pk, "events");
        msgpack_pack_array(&t->packer.pk, 2);
        s_test_event(&t->packer.pk, "order.placed", 1, extra[b][0], extra[b][1]);
        s_test_event(&t->packer.pk, "order.placed", 2, NULL, NULL);
        assert(s_test_error(t, "bad_event", &index) == 422 && index == 0);
    }
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, 1, "journal.append", 0, NULL, 1);
    rp_pack_cstr(&t->packer.pk, "args");
    msgpack_pack_map(&t->packer.pk, 1);
    rp_pack_cstr(&t->packer.pk, "events");
    msgpack_pack_array(&t->packer.pk, 1);
    msgpack_pack_map(&t->packer.pk, 3);
    rp_pack_kv_cstr(&t->packer.pk, "type", "order.placed");
    rp_pack_kv_cstr(&t->packer.pk, "id", "x");
    rp_pack_kv_cstr(&t->packer.pk, "source", "x");
    assert(s_test_error(t, "bad_event", &index) == 422 && index == 0);

    //  Pipe messages that are not ours are dropped; the journal goes on.
    zstr_send(t->journal, "BOGUS");
    zstr_sendx(t->journal, "REQ", "only-a-client", NULL);
    zstr_sendx(t->journal, "GRANT", "", "ticket-1", NULL);
    assert(s_test_granted(t, "", "ticket-1") == 0); //  refused
}

//  Send journal.append of the events packed by fill (count of them) and
//  return the reply (the caller destroys the doc).
static rp_doc_t *s_test_integrator_append(tester_t *t, size_t count,
                                          void (*fill)(msgpack_packer *pk, size_t i),
                                          rp_reply_t *reply)
{
    rp_packer_reset(&t->packer);
    rp_request_pack(&t->packer.pk, ++t->next_id, "journal.append", 0, NULL, 1);
    rp_pack_cstr(&t->packer.pk, "args");
    msgpack_pack_map(&t->packer.pk, 1);
    rp_pack_cstr(&t->packer.pk, "events");
    msgpack_pack_array(&t->packer.pk, count);
    for (size_t i = 0; i < count; i++)
        fill(&t->packer.pk, i);
    s_test_send_packed(t);
    return s_test_recv(t, reply);
}

//  Events 0 and 2 are orders o-0 and o-2 of the ERP; 1 repeats event 0.
static void s_test_fill_dups(msgpack_packer *pk, size_t i)
{
    s_test_event(pk, "order.placed", i == 1 ? 900000000000 : 900000000000 + i, NULL, NULL);
}

//  Event 1 has an amount of three decimals.
static void s_test_fill_bad(msgpack_packer *pk, size_t i)
{
    if (i != 1)
        return s_test_event(pk, "order.placed", 910000000000 + i, NULL, NULL);
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "type", "payment.received");
    rp_pack_kv_cstr(pk, "id", "pay-1");
    rp_pack_kv_cstr(pk, "source", "erp");
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 4);
    rp_pack_cstr(pk, "customer");
    msgpack_pack_map(pk, 1);
    rp_pack_kv_cstr(pk, "tax_id", "91310000MA1FL0001X");
    rp_pack_cstr(pk, "amount");
    msgpack_pack_double(pk, 1.005);
    rp_pack_kv_cstr(pk, "currency", "CNY");
    rp_pack_kv_cstr(pk, "received_at", "2026-11-25T00:00:00Z");
}

//  Integrator events: checked (a bad one refuses the whole append, named
//  by index and field), and sent once per (source, id) — in one append,
//  and across appends.
static void s_test_integrators(tester_t *t)
{
    uint64_t head = s_test_head(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_integrator_append(t, 3, s_test_fill_bad, &reply);
    assert(reply.status == 422 && s_test_head(t) == head);
    assert(reply.error_code_len == 9 && memcmp(reply.error_code, "bad_event", 9) == 0);
    rp_doc_destroy(&doc);

    doc = s_test_integrator_append(t, 3, s_test_fill_dups, &reply);
    assert(reply.status == 200 && s_test_head(t) == head + 2);
    const msgpack_object *items = rp_obj_get(reply.data, "items");
    assert(rp_obj_is_array(items) && items->via.array.size == 3);
    uint64_t seq[3];
    for (size_t i = 0; i < 3; i++)
        assert(rp_obj_u64(rp_obj_get(&items->via.array.ptr[i], "seq"), &seq[i]));
    assert(seq[0] == head + 1 && seq[1] == head + 1 && seq[2] == head + 2);
    assert(rp_obj_streq(rp_obj_get(&items->via.array.ptr[0], "status"), "accepted"));
    assert(rp_obj_streq(rp_obj_get(&items->via.array.ptr[1], "status"), "duplicate"));
    assert(rp_obj_streq(rp_obj_get(&items->via.array.ptr[0], "id"), "e-900000000000"));
    rp_doc_destroy(&doc);

    //  Sent again: nothing appended, the first seqs answered.
    doc = s_test_integrator_append(t, 3, s_test_fill_dups, &reply);
    assert(reply.status == 200 && s_test_head(t) == head + 2 && reply.seq == head + 2);
    items = rp_obj_get(reply.data, "items");
    for (size_t i = 0; i < 3; i++) {
        uint64_t again;
        assert(rp_obj_u64(rp_obj_get(&items->via.array.ptr[i], "seq"), &again) && again == seq[i]);
        assert(rp_obj_streq(rp_obj_get(&items->via.array.ptr[i], "status"), "duplicate"));
    }
    bool duplicate = false;
    assert(rp_obj_bool(rp_obj_get(reply.data, "duplicate"), &duplicate) && duplicate);
    rp_doc_destroy(&doc);
}

static void s_test_fencing(tester_t *t)
{
    uint64_t last;
    assert(s_test_append(t, "customer.created", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_append(t, "customer.created", 1, NULL, "customers", 1, NULL) == 409);
    uint64_t epoch = s_test_grant(t, "customers");
    assert(epoch >= 1);
    assert(s_test_append(t, "customer.created", 2, NULL, "customers", epoch, &last) == 200);
    assert(s_test_append(t, "customer.created", 1, NULL, "customers", epoch + 1, NULL) == 409);
    assert(s_test_append(t, "customer.created", 1, NULL, "reminders", epoch, NULL) == 403);
    assert(s_test_append(t, "customers.x", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_append(t, "order.placed", 1, NULL, NULL, 0, NULL) == 200);

    //  Order within one batch: [append N, GRANT, append N, append N+1].
    s_test_pack_append(t, "customer.updated", 1, NULL, "customers", epoch);
    s_test_send_packed(t);
    zstr_sendx(t->journal, "GRANT", "customers", "ticket-2", NULL);
    s_test_pack_append(t, "customer.updated", 1, NULL, "customers", epoch);
    s_test_send_packed(t);
    //  The token is the holder's, known once GRANTED is back: the writer
    //  sends this one after, as it would.
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    assert(reply.status == 200);
    rp_doc_destroy(&doc);
    char *old = strdup(zhash_lookup(t->tokens, "customers"));
    assert(s_test_granted(t, "customers", "ticket-2") == epoch + 1);
    doc = s_test_recv(t, &reply);
    assert(reply.status == 409);
    rp_doc_destroy(&doc);
    assert(s_test_append(t, "customer.updated", 1, NULL, "customers", epoch + 1, NULL) == 200);

    //  Forged: the name and the live epoch (broker.status shows both) but
    //  not the token, or the last lease's token. Refused for owned types
    //  and for unowned ones in the writer's name; nothing is appended.
    uint64_t head = s_test_head(t);
    const char *forgeries[] = {"", "0123456789abcdef0123456789abcdef", old};
    for (size_t i = 0; i < 3; i++) {
        t->forge = forgeries[i];
        s_test_pack_append(t, "customer.updated", 1, NULL, "customers", epoch + 1);
        assert(s_test_error(t, "bad_token", NULL) == 403);
        s_test_pack_append(t, "order.placed", 1, NULL, "customers", epoch + 1);
        assert(s_test_error(t, "bad_token", NULL) == 403);
    }
    t->forge = NULL;
    free(old);
    zhash_delete(t->tokens, "customers"); //  no token at all
    s_test_pack_append(t, "customer.updated", 1, NULL, "customers", epoch + 1);
    assert(s_test_error(t, "bad_token", NULL) == 403);
    assert(s_test_head(t) == head);

    //  REVOKE vacates the lease.
    zstr_sendx(t->journal, "REVOKE", "customers", NULL);
    assert(s_test_append(t, "customer.updated", 1, NULL, "customers", epoch + 1, NULL) == 409);

    //  A service known by its lease owns "S."; "x.writer" names lease x.
    //  Nobody owns x. yet: an integrator's event, of no type integrators
    //  publish.
    assert(s_test_append(t, "x.thing", 1, NULL, NULL, 0, NULL) == 422);
    uint64_t x = s_test_grant(t, "x.writer");
    assert(s_test_append(t, "x.thing", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_append(t, "x.thing", 1, NULL, "x", x, NULL) == 200);
    assert(s_test_append(t, "order.placed", 1, NULL, "x", x + 1, NULL) == 409);

    //  Ownership from registration: the holder's claims come with its
    //  GRANT. A new service owns what it claims, no broker change needed.
    assert(s_test_append(t, "deal.won", 1, NULL, NULL, 0, NULL) == 422);
    uint64_t deals = s_test_grant_claims(t, "deals", (const char *[]){"deal.", "quote.", NULL});
    assert(deals == 1);
    assert(s_test_append(t, "deal.won", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_append(t, "quote.sent", 1, NULL, "x", x, NULL) == 403);
    assert(s_test_append(t, "deal.won", 1, NULL, "deals", deals, NULL) == 200);
    //  A claim overlapping another's prefix is refused, and so is the grant
    //  (config reserved customer. for customers; x owns x.).
    const char *const stolen[][3] = {
        {"ok.", "customer.", NULL}, {"customer.vip.", NULL}, {"x.", NULL}, {"Bad", NULL}};
    for (size_t i = 0; i < 4; i++)
        assert(s_test_grant_claims(t, "rogue", stolen[i]) == 0);
    //  All or nothing: ok. is still nobody's (unknown_type, not 403).
    assert(s_test_append(t, "ok.thing", 1, NULL, NULL, 0, NULL) == 422);
    assert(s_test_grant_claims(t, "rogue", (const char *[]){"rogue.x.", NULL}) == 1);
    //  Claims already held are no change; the grant goes on.
    assert(s_test_grant_claims(t, "deals", (const char *[]){"deal.", NULL}) == 2);
}

static void s_test_feed(tester_t *t, zsock_t *sub, uint64_t from, uint64_t to)
{
    (void)t;
    for (uint64_t expect = from; expect <= to;) {
        char *type;
        uint64_t seq;
        rp_doc_t *event;
        s_test_feed_recv(sub, &type, &seq, &event);
        if (!streq(type, "$head")) {
            assert(seq == expect);
            expect++;
            uint64_t stored;
            const msgpack_object *root = rp_doc_root(event);
            assert(rp_obj_u64(rp_obj_get(root, "seq"), &stored) && stored == seq);
            assert(rp_obj_streq(rp_obj_get(root, "type"), type));
        }
        rp_doc_destroy(&event);
        free(type);
    }
}

//  Many appends sent at once: fewer commits than appends, contiguous seqs,
//  one idem key shared by two of them.
static void s_test_group_commit(tester_t *t, size_t appends)
{
    uint64_t before = atomic_load(&s_commits), head = journal_head();
    int64_t start = zclock_usecs();
    for (size_t i = 0; i < appends; i++) {
        s_test_pack_append(t, "order.placed", 2, i == 7 || i == appends - 1 ? "k-group" : NULL,
                           NULL, 0);
        s_test_send_packed(t);
    }
    uint64_t next = head + 1, group_first = 0;
    for (size_t i = 0; i < appends; i++) {
        rp_reply_t reply;
        rp_doc_t *doc = s_test_recv(t, &reply);
        assert(reply.status == 200);
        const msgpack_object *seqs = rp_obj_get(reply.data, "seqs");
        uint64_t first;
        assert(rp_obj_u64(&seqs->via.array.ptr[0], &first));
        if (i == 7)
            group_first = first;
        if (i == appends - 1) {
            bool duplicate;
            assert(first == group_first);
            assert(rp_obj_bool(rp_obj_get(reply.data, "duplicate"), &duplicate) && duplicate);
        } else {
            assert(first == next);
            next += 2;
        }
        rp_doc_destroy(&doc);
    }
    int64_t usecs = zclock_usecs() - start;
    uint64_t commits = atomic_load(&s_commits) - before;
    assert(journal_head() == next - 1);
    assert(commits >= 1 && commits <= appends);
    printf("journal: %zu appends (%zu events) in %" PRIu64 " commits, %.1f events/commit, "
           "%.0f events/s\n",
           appends, 2 * (appends - 1), commits, 2.0 * (double)(appends - 1) / (double)commits,
           2.0 * (double)(appends - 1) * 1e6 / (double)(usecs ? usecs : 1));
}

//  A failed commit: appends fail and use no seqs; a GRANT is retried (from
//  the poll timeout, within a second), its lease vacant until then, and
//  the epoch it finally gets is still the next one.
static void s_test_failed_commit(tester_t *t)
{
    uint64_t head = journal_head(), first, last;
    uint64_t epoch = s_test_grant(t, "y");
    assert(s_test_append(t, "y.thing", 1, NULL, "y", epoch, NULL) == 200);
    head++;
    atomic_store(&s_fail_commits, 1);
    s_test_pack_append(t, "order.placed", 2, "k-failed", NULL, 0);
    assert(s_test_call(t, &first, &last, NULL) == 500);
    assert(journal_head() == head);
    atomic_store(&s_fail_commits, 1);
    zstr_sendx(t->journal, "GRANT", "y", "ticket-1", NULL);
    assert(s_test_granted(t, "y", "ticket-1") == epoch + 1);
    assert(s_test_append(t, "y.thing", 1, NULL, "y", epoch, NULL) == 409);
    s_test_pack_append(t, "order.placed", 2, "k-failed", NULL, 0);
    bool duplicate = true;
    assert(s_test_call(t, &first, &last, &duplicate) == 200);
    assert(first == head + 1 && !duplicate);
    assert(s_test_append(t, "y.thing", 1, NULL, "y", epoch + 1, NULL) == 200);
}

//  Appenders that each keep one append in flight, as clients behind the
//  router do: each commit takes what arrived during the previous one.
static void s_test_closed_loop(tester_t *t, size_t appenders, size_t appends)
{
    uint64_t before = atomic_load(&s_commits), head = journal_head();
    int64_t start = zclock_usecs();
    size_t sent = 0;
    for (; sent < appenders; sent++) {
        s_test_pack_append(t, "order.placed", 1, NULL, NULL, 0);
        s_test_send_packed(t);
    }
    for (size_t received = 0; received < appends; received++) {
        rp_reply_t reply;
        rp_doc_t *doc = s_test_recv(t, &reply);
        assert(reply.status == 200);
        rp_doc_destroy(&doc);
        if (sent < appends) {
            s_test_pack_append(t, "order.placed", 1, NULL, NULL, 0);
            s_test_send_packed(t);
            sent++;
        }
    }
    int64_t usecs = zclock_usecs() - start;
    uint64_t commits = atomic_load(&s_commits) - before;
    assert(journal_head() == head + appends);
    printf("journal: %zu appenders, %zu appends in %" PRIu64 " commits, %.1f events/commit, "
           "%.0f events/s\n",
           appenders, appends, commits, (double)appends / (double)commits,
           (double)appends * 1e6 / (double)(usecs ? usecs : 1));
}

//  Appends of one event at a time, each waiting for its reply: one commit
//  each, the rate group commit is measured against.
static void s_test_sequential(tester_t *t, size_t appends)
{
    uint64_t before = atomic_load(&s_commits);
    int64_t start = zclock_usecs();
    for (size_t i = 0; i < appends; i++)
        assert(s_test_append(t, "order.placed", 1, NULL, NULL, 0, NULL) == 200);
    int64_t usecs = zclock_usecs() - start;
    assert(atomic_load(&s_commits) - before == appends);
    printf("journal: %zu sequential appends, one commit each, %.0f events/s\n", appends,
           (double)appends * 1e6 / (double)(usecs ? usecs : 1));
}

//  Batches larger than the initial 64 MiB map: MDB_MAP_FULL makes the store
//  grow the map and run the commit again, which must write the same batch.
static void s_test_map_full(tester_t *t)
{
    size_t blob_size = 50000, events = 500, appends = 3;
    char *blob = malloc(blob_size + 1);
    assert(blob);
    memset(blob, 'z', blob_size);
    blob[blob_size] = 0;
    uint64_t head = journal_head();
    for (size_t a = 0; a < appends; a++) {
        rp_packer_reset(&t->packer);
        rp_request_pack(&t->packer.pk, ++t->next_id, "journal.append", 0, NULL, 1);
        rp_pack_cstr(&t->packer.pk, "args");
        msgpack_pack_map(&t->packer.pk, 1);
        rp_pack_cstr(&t->packer.pk, "events");
        msgpack_pack_array(&t->packer.pk, events);
        for (size_t i = 0; i < events; i++)
            s_test_event(&t->packer.pk, "order.placed", t->next_id * 10000 + i, "blob", blob);
        s_test_send_packed(t);
    }
    for (size_t a = 0; a < appends; a++) {
        rp_reply_t reply;
        rp_doc_t *doc = s_test_recv(t, &reply);
        assert(reply.status == 200 && reply.seq == head + (a + 1) * events);
        rp_doc_destroy(&doc);
    }
    free(blob);
}

//  After the restart: LEASES lists the leases granted before it, from disk
//  (customers reached epoch 2, x epoch 1).
static void s_test_leases(tester_t *t)
{
    zstr_send(t->journal, "LEASES");
    zmsg_t *msg = zmsg_recv(t->journal);
    char *kind = zmsg_popstr(msg);
    assert(kind && streq(kind, "LEASES"));
    free(kind);
    int found = 0;
    while (zmsg_size(msg) >= 2) {
        char *name = zmsg_popstr(msg);
        zframe_t *epoch = zmsg_pop(msg);
        assert(name && zframe_size(epoch) == 8);
        uint64_t value = rp_seq_get(zframe_data(epoch));
        if (streq(name, "customers"))
            found += value == 2;
        else if (streq(name, "x"))
            found += value == 1;
        assert(value > 0); //  the domain services' unset leases are not listed
        free(name);
        zframe_destroy(&epoch);
    }
    assert(found == 2 && zmsg_size(msg) == 0);
    zmsg_destroy(&msg);
}

//  A part of a shared append: its count, key (NULL: none) and whether its
//  events are good.
typedef struct {
    size_t count;
    const char *idem;
    bool bad;
} test_part_t;

//  Pack journal.append with parts (and an envelope key if idem).
static void s_test_pack_parts(tester_t *t, const test_part_t *parts, size_t n, const char *idem)
{
    rp_packer_reset(&t->packer);
    msgpack_packer *pk = &t->packer.pk;
    uint64_t id = ++t->next_id;
    size_t events = 0;
    for (size_t i = 0; i < n; i++)
        events += parts[i].count;
    rp_request_pack(pk, id, "journal.append", 0, idem, 1);
    rp_pack_cstr(pk, "args");
    msgpack_pack_map(pk, 2);
    rp_pack_cstr(pk, "events");
    msgpack_pack_array(pk, events);
    for (size_t i = 0, e = 0; i < n; i++)
        for (size_t j = 0; j < parts[i].count; j++, e++)
            s_test_event(pk, parts[i].bad ? "Bad Type" : "order.placed", id * 10000 + e, NULL,
                         NULL);
    rp_pack_cstr(pk, "parts");
    msgpack_pack_array(pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(pk, 1 + (parts[i].idem != NULL));
        rp_pack_kv_u64(pk, "count", parts[i].count);
        if (parts[i].idem)
            rp_pack_kv_cstr(pk, "idem", parts[i].idem);
    }
}

//  One part of a reply: status, seqs (first, last), duplicate, error index.
typedef struct {
    int64_t status, index;
    uint64_t first, last;
    bool duplicate;
} test_answer_t;

//  Send the packed shared append; its status, and its parts into answers.
static int s_test_call_parts(tester_t *t, test_answer_t *answers, size_t n)
{
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    int status = reply.status;
    const msgpack_object *parts = rp_obj_get(reply.data, "parts");
    if (status == 200) {
        assert(rp_obj_is_array(parts) && parts->via.array.size == n);
        uint64_t highest = 0;
        for (size_t i = 0; i < n; i++) {
            const msgpack_object *part = &parts->via.array.ptr[i];
            test_answer_t *answer = &answers[i];
            *answer = (test_answer_t){0, -1, 0, 0, false};
            assert(rp_obj_i64(rp_obj_get(part, "status"), &answer->status));
            const msgpack_object *seqs = rp_obj_get(part, "seqs");
            if (answer->status == 200) {
                const msgpack_object_array *a = &seqs->via.array;
                assert(rp_obj_u64(&a->ptr[0], &answer->first));
                assert(rp_obj_u64(&a->ptr[a->size - 1], &answer->last));
                assert(answer->last - answer->first + 1 == a->size);
                assert(rp_obj_bool(rp_obj_get(part, "duplicate"), &answer->duplicate));
                highest = answer->last > highest ? answer->last : highest;
            } else
                rp_obj_i64(rp_obj_get(rp_obj_get(rp_obj_get(part, "error"), "details"), "index"),
                           &answer->index);
        }
        assert(reply.seq == highest);
    }
    rp_doc_destroy(&doc);
    return status;
}

//  Shared appends: each part is an append of its own, with its own key.
static void s_test_parts(tester_t *t)
{
    uint64_t head = s_test_head(t);
    test_answer_t a[3];
    //  Two new parts, one with a key: contiguous, in order.
    test_part_t two[2] = {{2, "p-1", false}, {1, NULL, false}};
    s_test_pack_parts(t, two, 2, NULL);
    assert(s_test_call_parts(t, a, 2) == 200);
    assert(a[0].status == 200 && a[0].first == head + 1 && a[0].last == head + 2);
    assert(a[1].status == 200 && a[1].first == head + 3 && !a[0].duplicate && !a[1].duplicate);
    //  Sent again: the keyed part gets its first seqs; the other is new.
    s_test_pack_parts(t, two, 2, NULL);
    assert(s_test_call_parts(t, a, 2) == 200);
    assert(a[0].duplicate && a[0].first == head + 1 && a[0].last == head + 2);
    assert(!a[1].duplicate && a[1].first == head + 4 && s_test_head(t) == head + 4);
    //  A key twice in one append: the second part repeats the first.
    test_part_t three[3] = {{1, "p-1", false}, {1, "p-2", false}, {1, "p-2", false}};
    s_test_pack_parts(t, three, 3, NULL);
    assert(s_test_call_parts(t, a, 3) == 200);
    assert(a[0].duplicate && a[0].first == head + 1);
    assert(!a[1].duplicate && a[1].first == head + 5 && a[1].last == head + 5);
    assert(a[2].duplicate && a[2].first == head + 5 && s_test_head(t) == head + 5);
    //  A key given to a shared part is the same key to a lone append.
    uint64_t first = 0, last = 0;
    bool duplicate = false;
    s_test_pack_append(t, "order.placed", 1, "p-2", NULL, 0);
    assert(s_test_call(t, &first, &last, &duplicate) == 200 && first == head + 5 && duplicate);
    //  A bad event refuses its own part only.
    test_part_t bad[2] = {{2, NULL, true}, {1, "p-3", false}};
    s_test_pack_parts(t, bad, 2, NULL);
    assert(s_test_call_parts(t, a, 2) == 200);
    assert(a[0].status == 422 && a[0].index == 0);
    assert(a[1].status == 200 && a[1].first == head + 6 && s_test_head(t) == head + 6);
    //  Malformed: the whole request is refused.
    s_test_pack_parts(t, two, 2, "envelope-key");
    assert(s_test_call_parts(t, a, 0) == 400);
    //  Parts that cover fewer events than sent.
    rp_packer_reset(&t->packer);
    msgpack_packer *pk = &t->packer.pk;
    rp_request_pack(pk, ++t->next_id, "journal.append", 0, NULL, 1);
    rp_pack_cstr(pk, "args");
    msgpack_pack_map(pk, 2);
    rp_pack_cstr(pk, "events");
    msgpack_pack_array(pk, 2);
    s_test_event(pk, "order.placed", 1, NULL, NULL);
    s_test_event(pk, "order.placed", 2, NULL, NULL);
    rp_pack_cstr(pk, "parts");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 1);
    rp_pack_kv_u64(pk, "count", 1);
    assert(s_test_call_parts(t, a, 0) == 400);
    test_part_t many[PARTS_MAX + 1];
    for (size_t i = 0; i <= PARTS_MAX; i++)
        many[i] = (test_part_t){1, NULL, false};
    s_test_pack_parts(t, many, PARTS_MAX + 1, NULL);
    assert(s_test_call_parts(t, a, 0) == 400);
    assert(s_test_head(t) == head + 6);
    //  The most parts a request may have, and an append after it.
    s_test_pack_parts(t, many, PARTS_MAX, NULL);
    s_test_send_packed(t);
    s_test_pack_append(t, "order.placed", 1, NULL, NULL, 0);
    s_test_send_packed(t);
    rp_reply_t reply;
    rp_doc_t *doc = s_test_recv(t, &reply);
    const msgpack_object *parts = rp_obj_get(reply.data, "parts");
    assert(reply.status == 200 && parts->via.array.size == PARTS_MAX);
    assert(reply.seq == head + 6 + PARTS_MAX);
    rp_doc_destroy(&doc);
    doc = s_test_recv(t, &reply);
    assert(reply.status == 200 && reply.seq == head + 7 + PARTS_MAX);
    rp_doc_destroy(&doc);
    assert(s_test_head(t) == head + 7 + PARTS_MAX);
}

void journal_test(void)
{
    fence_test();
    idem_test();
    feed_test();
    char dir[] = "/tmp/rp-journal-XXXXXX";
    assert(mkdtemp(dir));
    setenv("RAPPORT_DATA_DIR", dir, 1);
    setenv("RAPPORT_FEED_BIND", "tcp://127.0.0.1:*", 1);
    setenv("RAPPORT_JOURNAL_MAX_EVENTS", "1000", 1);
    setenv("RAPPORT_JOURNAL_IDEM_WINDOW_S", "3600", 1);
    //  Reserved before any writer registers, as config/broker.cfg does.
    setenv("RAPPORT_FENCE_OWNERS", "customers=customer. users=user.+account. bad", 1);
    rp_config_t *config = rp_config_new("journal-test");
    tester_t t = {0};
    rp_packer_init(&t.packer);
    t.tokens = zhash_new();
    t.journal = journal_new(config);
    assert(t.journal);
    assert(journal_head() == 0 && s_test_head(&t) == 0);
    char *id = s_test_journal_id(&t); //  made at creation
    zsock_t *sub = s_test_subscribe();

    //  Appends: contiguous seqs, stored with seq, specversion and time, fed.
    uint64_t first = 0, last = 0;
    bool duplicate = true;
    s_test_pack_append(&t, "order.placed", 3, NULL, NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200);
    assert(first == 1 && last == 3 && !duplicate && journal_head() == 3);
    s_test_feed(&t, sub, 1, 3);
    assert(s_test_read_all(&t, 2) == 3);

    //  Idempotency: the same key gets the first seqs, nothing appended.
    s_test_pack_append(&t, "order.placed", 2, "k-1", NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200 && first == 4 && !duplicate);
    s_test_pack_append(&t, "lead.captured", 1, "k-1", NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200);
    assert(first == 4 && last == 5 && duplicate && s_test_head(&t) == 5);
    s_test_feed(&t, sub, 4, 5);

    s_test_bad_input(&t);
    assert(s_test_head(&t) == 5);
    s_test_integrators(&t);
    s_test_fencing(&t);
    s_test_parts(&t);
    s_test_group_commit(&t, 500);
    s_test_sequential(&t, 50);
    s_test_closed_loop(&t, 16, 800);
    s_test_failed_commit(&t);
    s_test_map_full(&t);
    uint64_t head = s_test_read_all(&t, 1000);
    assert(head == journal_head());

    //  A second journal on the same directory is refused.
    zactor_t *second = journal_new(config);
    assert(second == NULL);

    //  Restart: events, idempotency keys and epochs survive.
    zsock_destroy(&sub);
    zactor_destroy(&t.journal);
    t.journal = journal_new(config);
    assert(t.journal && journal_head() == head);
    char *again = s_test_journal_id(&t); //  the same journal: the same identity
    assert(streq(again, id));
    free(again);
    free(id);
    assert(s_test_read_all(&t, 333) == head);
    s_test_pack_append(&t, "order.placed", 1, "k-1", NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200 && first == 4 && duplicate);
    s_test_leases(&t);
    //  Claims were stored: deal. is still deals' before deals registers.
    assert(s_test_append(&t, "deal.won", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_grant_claims(&t, "other", (const char *[]){"deal.", NULL}) == 0);
    assert(s_test_append(&t, "account.opened", 1, NULL, NULL, 0, NULL) == 403);
    assert(s_test_grant(&t, "customers") == 3);
    assert(s_test_grant(&t, "x") == 2);

    //  Past the window a key no longer counts, and is purged.
    atomic_store(&s_clock_skew, 3601 + 10);
    s_test_pack_append(&t, "order.placed", 1, "k-1", NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200);
    assert(first == head + 1 && !duplicate);
    s_test_pack_append(&t, "order.placed", 1, "k-1", NULL, 0);
    assert(s_test_call(&t, &first, &last, &duplicate) == 200);
    assert(first == head + 1 && duplicate);
    atomic_store(&s_clock_skew, 0);

    zactor_destroy(&t.journal);
    rp_packer_destroy(&t.packer);
    zhash_destroy(&t.tokens);
    rp_config_destroy(&config);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
