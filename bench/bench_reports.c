/*  bench_reports — the opportunities reports over many deals, beside a
    list page of 200 (issue 14: the funnel over 100,000 deals).

    Usage: bench_reports SCRATCH_DIR [DEALS]

    Builds a store in SCRATCH_DIR/reports through the service's own apply
    (opportunity.pipeline_created for the default pipeline, customer.created,
    then DEALS opportunity.created, and moves: half the deals to contacted,
    a quarter on to proposal, a tenth won, a tenth lost, some moved back),
    then times, in the same process and snapshot kind as the ops:
      list        one page of 200 (deals_query_walk, the list's filters)
      each report report_build over every deal, as an admin
    each the best of 3 runs, in milliseconds, and as a ratio to the list.
*/
#include "../services/opportunities/apply.h"
#include "../services/opportunities/pipelines.h"
#include "../services/opportunities/query.h"
#include "../services/opportunities/report.h"

#include <czmq.h>
#include <rapport/envelope.h>
#include <rapport/log.h>
#include <rapport/store.h>
#include <time.h>

#define BATCH 2000

typedef struct {
    rp_packer_t events[BATCH];
    size_t count;
    uint64_t seq;
} batch_t;

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int s_apply(rp_store_t *store, MDB_txn *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    int rc = 0;
    uint64_t seq = batch->seq - batch->count;
    for (size_t i = 0; rc == 0 && i < batch->count; i++) {
        rp_packer_t *p = &batch->events[i];
        rp_doc_t *doc = rp_doc_new(p->buffer.data, p->buffer.size, NULL);
        rp_event_t event;
        if (!doc || rp_event_parse(rp_doc_root(doc), &event))
            rc = -1;
        else
            rc = opportunities_apply_event(NULL, store, txn, ++seq, &event);
        rp_doc_destroy(&doc);
    }
    return rc ? rc : rp_store_set_cursor(store, txn, seq);
}

static void s_flush(rp_store_t *store, batch_t *batch)
{
    if (batch->count && rp_store_write(store, s_apply, batch)) {
        fprintf(stderr, "bench_reports: apply failed\n");
        exit(1);
    }
    for (size_t i = 0; i < batch->count; i++)
        rp_packer_reset(&batch->events[i]);
    batch->count = 0;
}

//  The next event's packer, with {type, id, source, time, actor} packed
//  and "data" open; its time one minute after the previous one's.
static msgpack_packer *s_event(rp_store_t *store, batch_t *batch, const char *type)
{
    if (batch->count == BATCH)
        s_flush(store, batch);
    rp_packer_t *p = &batch->events[batch->count++];
    batch->seq++;
    char id[32], time[32];
    snprintf(id, sizeof id, "bench-%" PRIu64, batch->seq);
    rp_time_format(1767225600000LL + (int64_t)batch->seq * 60000, time); //  from 2026-01-01
    msgpack_pack_map(&p->pk, 6);
    rp_pack_kv_cstr(&p->pk, "type", type);
    rp_pack_kv_cstr(&p->pk, "id", id);
    rp_pack_kv_cstr(&p->pk, "source", "opportunities");
    rp_pack_kv_cstr(&p->pk, "time", time);
    rp_pack_cstr(&p->pk, "actor");
    msgpack_pack_map(&p->pk, 1);
    rp_pack_kv_cstr(&p->pk, "user", "root");
    rp_pack_cstr(&p->pk, "data");
    return &p->pk;
}

static void s_move(rp_store_t *store, batch_t *batch, int deal, const char *stage)
{
    msgpack_packer *pk = s_event(store, batch, "opportunity.stage_changed");
    char id[32];
    snprintf(id, sizeof id, "deal%07d", deal);
    bool lost = strcmp(stage, "lost") == 0;
    msgpack_pack_map(pk, lost ? 3 : 2);
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_cstr(pk, "stage", stage);
    if (lost)
        rp_pack_kv_cstr(pk, "lost_reason", "价格");
}

static void s_fill(rp_store_t *store, int deals)
{
    batch_t *batch = (batch_t *)calloc(1, sizeof *batch);
    assert(batch);
    for (size_t i = 0; i < BATCH; i++)
        rp_packer_init(&batch->events[i]);
    msgpack_packer *pk = s_event(store, batch, "opportunity.pipeline_created");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "id", PIPELINE_DEFAULT_ID);
    rp_pack_cstr(pk, "pipeline");
    pipelines_default_pack(pk);
    for (int c = 0; c < 100; c++) {
        char id[16], name[32];
        snprintf(id, sizeof id, "cust%03d", c);
        snprintf(name, sizeof name, "客户%03d有限公司", c);
        pk = s_event(store, batch, "customer.created");
        msgpack_pack_map(pk, 2);
        rp_pack_kv_cstr(pk, "id", id);
        rp_pack_cstr(pk, "record");
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "name", name);
        rp_pack_kv_cstr(pk, "owner", c % 2 ? "ann" : "bob");
        rp_pack_kv_cstr(pk, "team", "east");
    }
    for (int d = 0; d < deals; d++) {
        char id[32], customer[16], close[16];
        snprintf(id, sizeof id, "deal%07d", d);
        snprintf(customer, sizeof customer, "cust%03d", d % 100);
        snprintf(close, sizeof close, "2026-%02d-%02d", 1 + d % 12, 1 + d % 28);
        pk = s_event(store, batch, "opportunity.created");
        msgpack_pack_map(pk, 2);
        rp_pack_kv_cstr(pk, "id", id);
        rp_pack_cstr(pk, "record");
        msgpack_pack_map(pk, 7);
        rp_pack_kv_cstr(pk, "customer_id", customer);
        rp_pack_kv_cstr(pk, "title", "扩容项目");
        rp_pack_kv_u64(pk, "amount", 1000 + (uint64_t)(d % 97) * 100);
        rp_pack_kv_cstr(pk, "currency", d % 5 ? "CNY" : "USD");
        rp_pack_kv_cstr(pk, "expected_close", close);
        rp_pack_kv_cstr(pk, "owner", d % 2 ? "ann" : "bob");
        rp_pack_kv_cstr(pk, "team", "east");
    }
    for (int d = 0; d < deals; d += 2)
        s_move(store, batch, d, "contacted");
    for (int d = 0; d < deals; d += 4)
        s_move(store, batch, d, "proposal");
    for (int d = 0; d < deals; d += 10)
        s_move(store, batch, d, d % 20 ? "lost" : "won");
    for (int d = 4; d < deals; d += 40)
        s_move(store, batch, d, "lead"); //  moved back
    s_flush(store, batch);
    for (size_t i = 0; i < BATCH; i++)
        rp_packer_destroy(&batch->events[i]);
    free(batch);
}

typedef struct {
    deals_query_t query;
    rp_scope_t scope;
    size_t count;
} list_t;

static bool s_list_visit(void *arg, const MDB_val *value, const msgpack_object *deal)
{
    (void)deal;
    list_t *list = (list_t *)arg;
    (void)value;
    return ++list->count < list->query.limit;
}

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    char next[512];
    return deals_query_walk(store, txn, &list->query, &list->scope, DEALS_QUERY_MAX_SCAN,
                            s_list_visit, list, next, sizeof next);
}

static double s_time_list(rp_store_t *store, const rp_scope_t *admin)
{
    double best = 1e9;
    for (int run = 0; run < 3; run++) {
        list_t list = {.scope = *admin};
        rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
        deals_query_parse(&list.query, NULL, errors, DEALS_QUERY_MAX_ERRORS);
        list.query.limit = DEALS_QUERY_LIMIT_MAX;
        rp_time_now(list.query.now);
        double t0 = s_now();
        if (rp_store_read(store, s_list_read, &list) || list.count != DEALS_QUERY_LIMIT_MAX) {
            fprintf(stderr, "bench_reports: the list failed\n");
            exit(1);
        }
        double t = s_now() - t0;
        best = t < best ? t : best;
    }
    return best * 1000;
}

static double s_time_report(rp_store_t *store, const rp_scope_t *admin, report_kind_t kind,
                            const msgpack_object *args)
{
    double best = 1e9;
    for (int run = 0; run < 3; run++) {
        rp_packer_t out;
        rp_packer_init(&out);
        report_error_t error;
        char now[32];
        rp_time_now(now);
        double t0 = s_now();
        if (report_build(kind, store, admin, args, now, &out, &error)) {
            fprintf(stderr, "bench_reports: report %d refused\n", (int)kind);
            exit(1);
        }
        double t = s_now() - t0;
        best = t < best ? t : best;
        rp_packer_destroy(&out);
    }
    return best * 1000;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: bench_reports SCRATCH_DIR [DEALS]\n");
        return 2;
    }
    int deals = argc == 3 ? atoi(argv[2]) : 100000;
    if (deals < 200 || deals > 10000000) {
        fprintf(stderr, "bench_reports: DEALS is 200..10000000\n");
        return 2;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/reports", argv[1]);
    zsys_dir_create("%s", dir);
    rp_store_t *store = rp_store_new(dir, opportunities_apply_dbnames);
    if (!store) {
        fprintf(stderr, "bench_reports: cannot open a store in %s\n", dir);
        return 1;
    }
    double t0 = s_now();
    s_fill(store, deals);
    double fill = s_now() - t0;
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    double list = s_time_list(store, &admin);
    printf("opportunities reports over %d deals (filled through apply in %.1f s), best of 3\n",
           deals, fill);
    printf("  %-44s %10.2f ms   1.00x\n", "reference: a list page of 200", list);
    static const char *const names[REPORT_KINDS] = {"funnel",   "forecast",        "horizon",
                                                    "win-loss", "stage-durations", "stale"};
    for (int kind = 0; kind < REPORT_KINDS; kind++) {
        double ms = s_time_report(store, &admin, (report_kind_t)kind, NULL);
        printf("  %-44s %10.2f ms %6.0fx\n", names[kind], ms, ms / list);
    }
    //  The funnel as of a past day: each deal read from its history too.
    rp_packer_t args;
    rp_packer_init(&args);
    msgpack_pack_map(&args.pk, 1);
    char as_of[32];
    rp_time_format(1767225600000LL + (int64_t)deals * 60000, as_of); //  after the creations
    as_of[10] = 0;
    rp_pack_kv_cstr(&args.pk, "as_of", as_of);
    rp_doc_t *doc = rp_doc_new(args.buffer.data, args.buffer.size, NULL);
    double ms = s_time_report(store, &admin, REPORT_FUNNEL, rp_doc_root(doc));
    char label[64];
    snprintf(label, sizeof label, "funnel as_of=%s", as_of);
    printf("  %-44s %10.2f ms %6.0fx\n", label, ms, ms / list);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&args);
    rp_store_destroy(&store);
    return 0;
}
