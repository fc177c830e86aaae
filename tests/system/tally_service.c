/*  tally_service — the smallest real Rapport service, for the system tests
    and as the pattern the domain services follow (rp_service, DESIGN.md §2).

    tally_service [NAME]        (default $TALLY_NAME, else "tally")

    Endpoints and data dir come from the environment (RAPPORT_BROKER_ENDPOINT,
    RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR). It keeps counts per key:

      on "NAME.writer" (the lease holder only):
        tally.add {key, n}  → appends "NAME.added" {key, n} with the lease
                              epoch and the request's idem, waits until the
                              event is applied here, replies
                              {seq, data: {key, total, instance}}
      on "NAME" (any instance, honours min_seq):
        tally.get {key}     → {data: {key, total, cursor, instance}}

    key is a string of 1..64 bytes, n an integer 1..1,000,000. Missing or
    mistyped arguments get 400, out-of-range values 422. instance is the
    process id, so tests can tell the instances apart. Exit 0 on SIGTERM.
*/
#include <rapport/log.h>
#include <rapport/service.h>
#include <rapport/write.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TALLY_MAX_KEY  64
#define TALLY_MAX_N    1000000
#define TALLY_MAX_NAME 32
#define TALLY_WAIT_MS  5000 //  append reply, then apply: each bounded

typedef struct {
    rp_service_t *service;
    const char *name;
    char event_type[TALLY_MAX_NAME + 8]; //  "NAME.added"
    zlistx_t *adds;                      //  add_t in flight, owned (freed at exit)
} tally_t;

//  One tally.add between its request and its reply.
typedef struct {
    tally_t *tally;
    rp_origin_t *origin;
    void *handle; //  in tally->adds
    char key[TALLY_MAX_KEY + 1];
    uint64_t seq;
} add_t;

//  ---------------------------------------------------------------------
//  The store: "counts" maps key → 8-byte big-endian total

typedef struct {
    const char *key;
    size_t key_len;
    uint64_t total;
    uint64_t cursor;
} total_t;

static uint64_t s_total_get(rp_store_t *store, MDB_txn *txn, const char *key, size_t key_len)
{
    MDB_val k = {key_len, (void *)key}, v;
    if (mdb_get(txn, rp_store_dbi(store, "counts"), &k, &v) || v.mv_size != 8)
        return 0;
    return rp_seq_get((const uint8_t *)v.mv_data);
}

static int s_total_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    total_t *total = (total_t *)arg;
    total->total = s_total_get(store, txn, total->key, total->key_len);
    total->cursor = rp_store_cursor(store, txn); //  same snapshot as the total
    return 0;
}

//  The only code that changes the store: deterministic, so every instance
//  reaches the same totals from the same journal.
static int s_apply(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                   const rp_event_t *event)
{
    tally_t *self = (tally_t *)arg;
    if (event->type_len != strlen(self->event_type) ||
        memcmp(event->type, self->event_type, event->type_len))
        return 0; //  another service's event
    const char *key;
    size_t key_len;
    uint64_t n;
    if (!rp_obj_str(rp_obj_get(event->data, "key"), &key, &key_len) || key_len == 0 ||
        key_len > TALLY_MAX_KEY || !rp_obj_u64(rp_obj_get(event->data, "n"), &n)) {
        rp_warn("tally: event %" PRIu64 " has bad data, ignored", seq);
        return 0;
    }
    uint64_t total = s_total_get(store, txn, key, key_len);
    total = total > UINT64_MAX - n ? UINT64_MAX : total + n;
    uint8_t value[8];
    rp_seq_put(value, total);
    MDB_val k = {key_len, (void *)key}, v = {8, value};
    return mdb_put(txn, rp_store_dbi(store, "counts"), &k, &v, 0);
}

//  ---------------------------------------------------------------------
//  Replies

static void s_reply_total(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                          const char *key, size_t key_len, bool with_cursor)
{
    total_t total = {key, key_len, 0, 0};
    rp_store_read(rp_service_store(service), s_total_read, &total);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, with_cursor ? 4 : 3);
    rp_pack_cstr(&packer.pk, "key");
    rp_pack_strn(&packer.pk, key, key_len);
    rp_pack_kv_u64(&packer.pk, "total", total.total);
    rp_pack_kv_u64(&packer.pk, "instance", (uint64_t)getpid());
    if (with_cursor)
        rp_pack_kv_u64(&packer.pk, "cursor", total.cursor);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  tally.add

static void s_add_destroy(add_t **add_p)
{
    add_t *add = *add_p;
    if (!add)
        return;
    rp_origin_destroy(&add->origin);
    free(add);
    *add_p = NULL;
}

//  Done with an add: leave the in-flight list, free it.
static void s_add_finish(add_t *add)
{
    zlistx_detach(add->tally->adds, add->handle);
    s_add_destroy(&add);
}

static void s_add_applied(void *arg, rp_service_t *service, bool applied)
{
    add_t *add = (add_t *)arg;
    if (applied)
        s_reply_total(service, &add->origin, add->seq, add->key, strlen(add->key), false);
    else
        rp_service_reply_error(service, &add->origin, 504, "apply_timeout",
                               "the event was appended but not applied in time; retry");
    s_add_finish(add);
}

static void s_add_appended(void *arg, rp_service_t *service, const rp_reply_t *reply,
                           uint64_t first, uint64_t last)
{
    add_t *add = (add_t *)arg;
    (void)first;
    add->seq = last;
    if (reply->status == 200) {
        rp_service_wait(service, add->seq, TALLY_WAIT_MS, s_add_applied, add);
        return;
    }
    //  A deposed writer (409/403) or a journal that is away: the caller
    //  retries with the same idem, which the next holder appends once.
    rp_writes_refused(service, &add->origin, reply->status);
    s_add_finish(add);
}

//  Validate into add->key and *n; on failure reply and return false.
static bool s_add_args(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                       char key[TALLY_MAX_KEY + 1], uint64_t *n)
{
    const char *str;
    size_t len;
    const msgpack_object *n_obj = rp_obj_get(req->args, "n");
    if (!rp_obj_str(rp_obj_get(req->args, "key"), &str, &len) || !n_obj ||
        (n_obj->type != MSGPACK_OBJECT_POSITIVE_INTEGER &&
         n_obj->type != MSGPACK_OBJECT_NEGATIVE_INTEGER)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args",
                               "args must be {key: string, n: integer}");
        return false;
    }
    if (len == 0 || len > TALLY_MAX_KEY || memchr(str, 0, len) || !rp_obj_u64(n_obj, n) ||
        *n == 0 || *n > TALLY_MAX_N) {
        rp_service_reply_error(service, origin_p, 422, "invalid",
                               "key must be 1..64 bytes without NUL, n 1..1000000");
        return false;
    }
    memcpy(key, str, len);
    key[len] = 0;
    return true;
}

//  The journal's idem keys are global: scope the caller's key by service.
static bool s_add_idem(tally_t *self, const rp_request_t *req, char *idem, size_t size)
{
    if (!req->idem) {
        idem[0] = 0;
        return true;
    }
    int len = snprintf(idem, size, "%s/%.*s", self->name, (int)req->idem_len, req->idem);
    return len > 0 && (size_t)len < size && !memchr(req->idem, 0, req->idem_len);
}

static void s_add(tally_t *self, rp_service_t *service, rp_origin_t *origin,
                  const rp_request_t *req)
{
    char key[TALLY_MAX_KEY + 1];
    uint64_t n;
    char idem[RP_MAX_IDEM + 1];
    if (!rp_origin_writer(origin)) {
        rp_service_reply_error(service, &origin, 400, "writer_only",
                               "send tally.add to the writer service");
        return;
    }
    if (!s_add_args(service, &origin, req, key, &n))
        return;
    if (!s_add_idem(self, req, idem, sizeof idem)) {
        rp_service_reply_error(service, &origin, 400, "bad_idem", "idem too long or has NUL");
        return;
    }
    if (rp_service_epoch(service) == 0) { //  between a reconnect and the next grant
        rp_service_reply_error(service, &origin, 503, "not_writer", "no lease; retry");
        return;
    }
    char id[64];
    zuuid_t *uuid = zuuid_new();
    snprintf(id, sizeof id, "%s", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, 4);
    rp_pack_kv_cstr(&event.pk, "type", self->event_type);
    rp_pack_kv_cstr(&event.pk, "id", id);
    rp_pack_kv_cstr(&event.pk, "source", self->name);
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 2);
    rp_pack_kv_cstr(&event.pk, "key", key);
    rp_pack_kv_u64(&event.pk, "n", n);

    add_t *add = calloc(1, sizeof *add);
    assert(add);
    add->tally = self;
    add->origin = origin;
    memcpy(add->key, key, sizeof key);
    add->handle = zlistx_add_end(self->adds, add);
    rp_journal_event_t events[1] = {{event.buffer.data, event.buffer.size}};
    if (rp_service_append(service, events, 1, idem, TALLY_WAIT_MS, s_add_appended, add)) {
        rp_service_reply_error(service, &add->origin, 500, "journal_error",
                               "the event could not be appended");
        s_add_finish(add);
    }
    rp_packer_destroy(&event);
}

//  ---------------------------------------------------------------------
//  tally.get and dispatch

static void s_get(rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    const char *key;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "key"), &key, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args must be {key: string}");
    else if (len == 0 || len > TALLY_MAX_KEY)
        rp_service_reply_error(service, &origin, 422, "invalid", "key must be 1..64 bytes");
    else
        s_reply_total(service, &origin, 0, key, len, true);
}

static void s_request(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req)
{
    tally_t *self = (tally_t *)arg;
    if (rp_request_is(req, "tally.add"))
        s_add(self, service, origin, req);
    else if (rp_request_is(req, "tally.get"))
        s_get(service, origin, req);
    else
        rp_service_reply_error(service, &origin, 400, "unknown_op", "unknown op");
}

//  Lower case letters, digits, '_' and '-': "NAME.added" is a valid type.
static bool s_name_valid(const char *name)
{
    size_t len = strlen(name);
    return len >= 1 && len <= TALLY_MAX_NAME &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "0123456789_-") == len;
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : getenv("TALLY_NAME");
    if (!name)
        name = "tally";
    if (argc > 2 || !s_name_valid(name)) {
        fprintf(stderr, "usage: tally_service [NAME]  (NAME: 1..32 of [a-z0-9_-])\n");
        return 2;
    }
    rp_config_t *config = rp_config_new(name);
    rp_log_init(name, rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    zsys_init(); //  catches SIGTERM and SIGINT: rp_service_run returns
    zsys_set_linger(0);

    tally_t tally = {.name = name, .adds = zlistx_new()};
    snprintf(tally.event_type, sizeof tally.event_type, "%s.added", name);
    const char *dbnames[] = {"counts", NULL};
    rp_service_def_t def = {.name = name,
                            .writer = true,
                            .dbnames = dbnames,
                            .apply = s_apply,
                            .request = s_request,
                            .arg = &tally};
    int status = 1;
    rp_service_t *service = rp_service_new(&def, config);
    if (service) {
        tally.service = service;
        status = rp_service_run(service) == 0 ? 0 : 1;
        rp_service_destroy(&service);
    }
    //  Adds still waiting for the journal or the feed when we stopped: the
    //  runtime drops their callbacks, so their memory is ours to free.
    for (add_t *add = (add_t *)zlistx_first(tally.adds); add;
         add = (add_t *)zlistx_next(tally.adds))
        s_add_destroy(&add);
    zlistx_destroy(&tally.adds);
    rp_config_destroy(&config);
    return status;
}
