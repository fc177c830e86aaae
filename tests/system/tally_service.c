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
    const char *name;
    char event_type[TALLY_MAX_NAME + 8]; //  "NAME.added"
    rp_writes_t *writes;                 //  tally.add in flight (rp_writes: append, wait, errors)
} tally_t;

//  One tally.add between its append and its reply.
typedef struct {
    char key[TALLY_MAX_KEY + 1];
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

//  rp_write_applied_fn: the event is applied, answer the new total.
static void s_add_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    add_t *add = (add_t *)arg;
    s_reply_total(service, origin_p, seq, add->key, strlen(add->key), false);
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

//  On the writer only (the runtime checks that, and that args is a map).
static void s_add(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    tally_t *self = (tally_t *)arg;
    char key[TALLY_MAX_KEY + 1];
    uint64_t n;
    char idem[RP_MAX_IDEM + 1]; //  "NAME/<idem>": the journal's idem keys are global
    if (!s_add_args(service, &origin, req, key, &n) ||
        !rp_writes_admit(service, &origin, req, true, NULL, idem))
        return;
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
    memcpy(add->key, key, sizeof key);
    //  A deposed writer or a journal that is away is answered there (503):
    //  the caller retries with the same idem, which the next holder
    //  appends once.
    rp_journal_event_t events[1] = {{event.buffer.data, event.buffer.size}};
    rp_writes_append(self->writes, service, &origin, events, 1, idem, TALLY_WAIT_MS, s_add_applied,
                     add, free);
    rp_packer_destroy(&event);
}

//  ---------------------------------------------------------------------
//  tally.get and dispatch

static void s_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    const char *key;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "key"), &key, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args must be {key: string}");
    else if (len == 0 || len > TALLY_MAX_KEY)
        rp_service_reply_error(service, &origin, 422, "invalid", "key must be 1..64 bytes");
    else
        s_reply_total(service, &origin, 0, key, len, true);
}

static const rp_service_op_t s_ops[] = {
    {"tally.add", RP_OP_WRITE, s_add},
    {"tally.get", RP_OP_READ, s_get},
    {NULL},
};

//  Lower case letters, digits, '_' and '-': "NAME.added" is a valid type.
static bool s_name_valid(const char *name)
{
    size_t len = strlen(name);
    return len >= 1 && len <= TALLY_MAX_NAME &&
           strspn(name, "abcdefghijklmnopqrstuvwxyz"
                        "0123456789_-") == len;
}

static tally_t s_tally;

static int s_init(rp_config_t *config, void **arg)
{
    (void)config;
    snprintf(s_tally.event_type, sizeof s_tally.event_type, "%s.added", s_tally.name);
    s_tally.writes = rp_writes_new();
    *arg = &s_tally;
    return 0;
}

//  The adds still waiting for the journal or the feed when we stopped.
static void s_fini(void *arg)
{
    rp_writes_destroy(&((tally_t *)arg)->writes);
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
    s_tally.name = name;
    const char *dbnames[] = {"counts", NULL};
    rp_service_def_t def = {.name = name,
                            .writer = true,
                            .dbnames = dbnames,
                            .apply = s_apply,
                            .ops = s_ops,
                            .init = s_init,
                            .fini = s_fini};
    return rp_service_main(&def, 1, argv); //  its one argument is read above
}
