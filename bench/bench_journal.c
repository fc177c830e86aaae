/*  bench_journal — durable append throughput of the broker's journal.

    Usage: bench_journal BROKER_ENDPOINT SCRATCH_DIR [SECONDS]

    Prints, all measured in this run on this disk:
      reference   one LMDB transaction (one fsync) per event, no network
      1 x 1       one appender, one append in flight
      16 x 1      sixteen appenders, one append in flight each
      16 x 64     sixteen appenders, 64 pipelined appends in flight each
    each as events/s and as a ratio to the reference. Every append carries
    one event of about 250 bytes and is acknowledged only once on disk.
    With BENCH_REFERENCE_FILE set, the reference's events/s is also written
    to that file (tools/bench.sh hands it to the events-in figures).

    Two more modes, for tools/bench_http.sh (issue 15, events in):

    bench_journal --reference SCRATCH_DIR [SECONDS]
        the reference alone: prints "REFERENCE <events/s>"
    bench_journal --integrator BROKER_ENDPOINT [SECONDS [BATCH [IN_FLIGHT]]]
        an integrator over ZeroMQ: one MDP client (rapport/client.h) sending
        journal.append batches of BATCH (default 100) order.placed events,
        IN_FLIGHT (default 4) requests in flight, the orders naming customer
        {id: BENCH_CUSTOMER} when set (else {code: "K3-001"}); prints "RESULT <events/s>
        <requests/s> <p50 us> <p99 us> <failed requests> <duplicate events>
        <events acknowledged>"
*/
#include <rapport/client.h>
#include <rapport/envelope.h>
#include <rapport/journal.h>
#include <rapport/log.h>
#include <rapport/store.h>

#include <czmq.h>
#include <pthread.h>

static const char *s_endpoint;
static double s_seconds = 3;
static const char *s_customer_id; //  BENCH_CUSTOMER, else the orders name code K3-001

//  One event, about 250 bytes packed: an integrator's order (the journal
//  checks its data and its id against the dedup keys, as for every one).
static void pack_event(msgpack_packer *pk, int appender, uint64_t n)
{
    char id[64];
    snprintf(id, sizeof id, "bench-%d-%" PRIu64 "-%d", appender, n, (int)getpid());
    msgpack_pack_map(pk, 4);
    rp_pack_kv_cstr(pk, "type", "order.placed");
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_cstr(pk, "source", "bench");
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 8);
    rp_pack_kv_cstr(pk, "order_no", id);
    rp_pack_cstr(pk, "customer");
    msgpack_pack_map(pk, 1);
    if (s_customer_id)
        rp_pack_kv_cstr(pk, "id", s_customer_id);
    else
        rp_pack_kv_cstr(pk, "code", "K3-001");
    rp_pack_kv_u64(pk, "amount", n % 100000);
    rp_pack_kv_cstr(pk, "currency", "CNY");
    rp_pack_kv_u64(pk, "quantity", 1 + n % 7);
    rp_pack_kv_cstr(pk, "product", "电力电缆 YJV22 3x95");
    rp_pack_kv_cstr(pk, "spec", "8.7/15kV, 500 m a drum, the sample order's credit terms");
    rp_pack_kv_cstr(pk, "placed_at", "2026-11-23T16:05:00+08:00");
}

//  ---------------------------------------------------------------------
//  Reference: one commit per event, straight into LMDB.

typedef struct {
    uint64_t seq;
    rp_packer_t *packer;
} ref_t;

static int ref_put(rp_store_t *store, MDB_txn *txn, void *arg)
{
    ref_t *ref = arg;
    uint8_t key[8];
    rp_seq_put(key, ref->seq);
    MDB_val k = {8, key}, v = {ref->packer->buffer.size, ref->packer->buffer.data};
    return mdb_put(txn, rp_store_dbi(store, "events"), &k, &v, MDB_APPEND);
}

static double bench_reference(const char *dir)
{
    const char *dbs[] = {"events", NULL};
    rp_store_t *store = rp_store_new(dir, dbs);
    assert(store);
    rp_packer_t packer;
    rp_packer_init(&packer);
    ref_t ref = {0, &packer};
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(s_seconds * 1e6);
    while (zclock_usecs() < deadline) {
        rp_packer_reset(&packer);
        pack_event(&packer.pk, 0, ++ref.seq);
        int rc = rp_store_write(store, ref_put, &ref);
        assert(rc == 0);
    }
    double rate = ref.seq / ((zclock_usecs() - start) / 1e6);
    rp_packer_destroy(&packer);
    rp_store_destroy(&store);
    return rate;
}

//  ---------------------------------------------------------------------
//  Appenders through the broker

typedef struct {
    int index;
    int window;
    int64_t deadline;
    uint64_t acked;
    uint64_t failed;
} appender_t;

static void *appender_run(void *arg)
{
    appender_t *self = arg;
    zsock_t *dealer = zsock_new_dealer(s_endpoint);
    assert(dealer);
    zsock_set_rcvtimeo(dealer, 10000);
    rp_packer_t packer;
    rp_packer_init(&packer);
    int in_flight = 0;
    uint64_t n = 0;
    while (true) {
        bool open = zclock_usecs() < self->deadline;
        while (open && in_flight < self->window) {
            rp_packer_reset(&packer);
            rp_request_pack(&packer.pk, ++n, "journal.append", 0, NULL, 1);
            rp_pack_cstr(&packer.pk, "args");
            msgpack_pack_map(&packer.pk, 1);
            rp_pack_cstr(&packer.pk, "events");
            msgpack_pack_array(&packer.pk, 1);
            pack_event(&packer.pk, self->index, n);
            zsock_send(dealer, "sssb", "", "MDPC01", "journal", packer.buffer.data,
                       packer.buffer.size);
            in_flight++;
        }
        if (in_flight == 0)
            break;
        zmsg_t *msg = zmsg_recv(dealer);
        if (!msg)
            break; //  a lost reply shows as a lower rate and a failure count
        zframe_t *body = zmsg_last(msg);
        rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
        rp_reply_t reply;
        if (doc && !rp_reply_parse(rp_doc_root(doc), &reply) && reply.status == 200)
            self->acked++;
        else
            self->failed++;
        rp_doc_destroy(&doc);
        zmsg_destroy(&msg);
        in_flight--;
    }
    rp_packer_destroy(&packer);
    zsock_destroy(&dealer);
    return NULL;
}

static double bench_appenders(int count, int window, uint64_t *failed)
{
    pthread_t threads[64];
    appender_t appenders[64];
    int64_t start = zclock_usecs();
    for (int i = 0; i < count; i++) {
        appenders[i] = (appender_t){i, window, start + (int64_t)(s_seconds * 1e6), 0, 0};
        pthread_create(&threads[i], NULL, appender_run, &appenders[i]);
    }
    uint64_t acked = 0;
    *failed = 0;
    for (int i = 0; i < count; i++) {
        pthread_join(threads[i], NULL);
        acked += appenders[i].acked;
        *failed += appenders[i].failed;
    }
    return acked / ((zclock_usecs() - start) / 1e6);
}

//  ---------------------------------------------------------------------
//  An integrator over ZeroMQ: batches of order.placed through journal.append

#define SENT_RING 1024 //  > any window: send times by request id

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

//  Events the reply's items answer "duplicate" (none in a run of fresh ids).
static uint64_t s_duplicates(const msgpack_object *data)
{
    const msgpack_object *items = rp_obj_get(data, "items");
    uint64_t dups = 0;
    if (items && rp_obj_is_array(items))
        for (uint32_t i = 0; i < items->via.array.size; i++)
            dups += rp_obj_streq(rp_obj_get(&items->via.array.ptr[i], "status"), "duplicate");
    return dups;
}

static int bench_integrator(int batch, int window)
{
    rp_client_t *client = rp_client_new(s_endpoint);
    assert(client);
    rp_packer_t packer;
    rp_packer_init(&packer);
    int64_t sent_at[SENT_RING];
    size_t lat_n = 0, lat_cap = 4096;
    int64_t *lat = malloc(lat_cap * sizeof *lat);
    assert(lat);
    uint64_t n = 0, acked = 0, failed = 0, dups = 0;
    int64_t start = zclock_usecs(), deadline = start + (int64_t)(s_seconds * 1e6);
    while (true) {
        bool open = zclock_usecs() < deadline;
        while (open && rp_client_pending(client) < (size_t)window) {
            uint64_t id = rp_client_next_id(client);
            rp_packer_reset(&packer);
            rp_request_pack(&packer.pk, id, "journal.append", 0, NULL, 1);
            rp_pack_cstr(&packer.pk, "args");
            msgpack_pack_map(&packer.pk, 1);
            rp_pack_cstr(&packer.pk, "events");
            msgpack_pack_array(&packer.pk, batch);
            for (int i = 0; i < batch; i++)
                pack_event(&packer.pk, 1000, ++n);
            sent_at[id % SENT_RING] = zclock_usecs();
            if (rp_client_send(client, RP_JOURNAL_SERVICE, id, packer.buffer.data,
                               packer.buffer.size, 10000)) {
                failed++;
                break;
            }
        }
        if (rp_client_pending(client) == 0)
            break;
        rp_reply_t reply;
        rp_doc_t *doc = rp_client_recv(client, &reply, 1000);
        if (!doc)
            continue; //  the client makes up a 504 once a deadline passes
        uint64_t id = 0;
        if (reply.status == 200 && rp_obj_u64(reply.id, &id)) {
            acked++;
            dups += s_duplicates(reply.data);
            if (lat_n == lat_cap) {
                lat_cap *= 2;
                int64_t *grown = realloc(lat, lat_cap * sizeof *lat);
                assert(grown);
                lat = grown;
            }
            lat[lat_n++] = zclock_usecs() - sent_at[id % SENT_RING];
        } else
            failed++;
        rp_doc_destroy(&doc);
    }
    double seconds = (zclock_usecs() - start) / 1e6;
    qsort(lat, lat_n, sizeof *lat, s_cmp_i64);
    int64_t p50 = lat_n ? lat[lat_n / 2] : 0;
    int64_t p99 = lat_n ? lat[lat_n * 99 / 100] : 0;
    printf("RESULT %.0f %.0f %" PRId64 " %" PRId64 " %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
           acked * batch / seconds, acked / seconds, p50, p99, failed, dups, acked * batch);
    free(lat);
    rp_packer_destroy(&packer);
    rp_client_destroy(&client);
    return failed || dups ? 1 : 0;
}

int main(int argc, char *argv[])
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_journal BROKER_ENDPOINT SCRATCH_DIR [SECONDS]\n"
                        "       bench_journal --reference SCRATCH_DIR [SECONDS]\n"
                        "       bench_journal --integrator BROKER_ENDPOINT [SECONDS [BATCH "
                        "[IN_FLIGHT]]]\n");
        return 2;
    }
    zsys_init();
    zsys_set_linger(0);
    rp_log_init("bench", NULL, "warn");
    char dir[1024];
    if (streq(argv[1], "--integrator")) {
        s_endpoint = argv[2];
        if (argc > 3)
            s_seconds = atof(argv[3]);
        int batch = argc > 4 ? atoi(argv[4]) : 100;
        int window = argc > 5 ? atoi(argv[5]) : 4;
        s_customer_id = getenv("BENCH_CUSTOMER");
        if (batch < 1 || batch > RP_JOURNAL_APPEND_MAX || window < 1 || window >= SENT_RING) {
            fprintf(stderr, "bench_journal: BATCH 1..%d, IN_FLIGHT 1..%d\n", RP_JOURNAL_APPEND_MAX,
                    SENT_RING - 1);
            return 2;
        }
        return bench_integrator(batch, window);
    }
    if (streq(argv[1], "--reference")) {
        if (argc > 3)
            s_seconds = atof(argv[3]);
        snprintf(dir, sizeof dir, "%s/reference", argv[2]);
        printf("REFERENCE %.0f\n", bench_reference(dir));
        return 0;
    }
    s_endpoint = argv[1];
    if (argc > 3)
        s_seconds = atof(argv[3]);
    snprintf(dir, sizeof dir, "%s/reference", argv[2]);
    double reference = bench_reference(dir);
    const char *reference_file = getenv("BENCH_REFERENCE_FILE");
    if (reference_file) {
        FILE *file = fopen(reference_file, "w");
        if (file) {
            fprintf(file, "%.0f\n", reference);
            fclose(file);
        }
    }
    printf("journal append, durable events/s (%.0f s each, ~250-byte events)\n", s_seconds);
    printf("  %-44s %10.0f   1.00x\n", "reference: one LMDB commit per event", reference);
    struct {
        int count, window;
        const char *label;
    } runs[] = {{1, 1, "1 appender, 1 in flight"},
                {16, 1, "16 appenders, 1 in flight each"},
                {16, 64, "16 appenders, 64 pipelined each"}};
    int status = 0;
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        uint64_t failed;
        double rate = bench_appenders(runs[i].count, runs[i].window, &failed);
        printf("  %-44s %10.0f %6.2fx%s\n", runs[i].label, rate, rate / reference,
               failed ? "  (some appends failed!)" : "");
        if (failed)
            status = 1;
    }
    printf("  goal: 16 appenders >= 20x the reference\n");
    return status;
}
