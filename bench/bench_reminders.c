/*  bench_reminders — the writer's clock at scale (issue 16, docs/reminders.md
    § The clock point 7): COUNT one-offs (default 10,000) due in the same
    second, fired by a real rapport-reminders process through the broker.

    Usage: bench_reminders BROKER_ENDPOINT SCRATCH_DIR REMINDERS_BINARY [COUNT]

    Starts REMINDERS_BINARY (data in SCRATCH_DIR/reminders, the broker and
    feed endpoints from the environment, as tools/bench.sh exports them),
    creates COUNT one-offs over ZeroMQ (reminders.create, 64 in flight), all
    due at one whole second a little after the creates end, then reads the
    journal until every reminder.fired is there. Prints:
      firings     firings per second, from the due time to the last one
                  committed (the journal's time of the event)
      throughput  firings per second from the first committed to the last
                  (the first waits for the clock's next 200 ms tick)
      delay       from the due time to each reminder.fired being committed,
                  p50 and p99 in milliseconds
    and, with BENCH_REMINDERS_REFERENCE set (tools/bench.sh: bench_journal
    --integrator with batches of 1,000 events, one in flight — the clock's
    own pattern of appends — measured just before, in the same run), that
    reference in events per second and the throughput as a ratio to it
    (1.0: the clock fires as fast as the journal takes its batches).
*/
#include <rapport/client.h>
#include <rapport/envelope.h>
#include <rapport/journal.h>
#include <rapport/log.h>

#include <czmq.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define WINDOW     64   //  creates in flight
#define BATCH      1000 //  the clock's (clock.h CLOCK_BATCH)
#define TIMEOUT_MS 10000

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static pid_t s_spawn(const char *binary, const char *scratch)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/reminders", scratch);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("RAPPORT_DATA_DIR", dir, 1);
        setenv("RAPPORT_LOG_LEVEL", "warn", 1);
        execl(binary, binary, (char *)NULL);
        _exit(127);
    }
    return pid;
}

//  One reminders.create as admin: {subject, kind, time_zone, due_at}.
static void s_pack_create(rp_packer_t *p, uint64_t id, size_t n, const char *due)
{
    rp_packer_reset(p);
    rp_request_pack(&p->pk, id, "reminders.create", 0, NULL, 2);
    rp_pack_cstr(&p->pk, "actor");
    msgpack_pack_map(&p->pk, 3);
    rp_pack_kv_cstr(&p->pk, "user", "bench");
    rp_pack_kv_cstr(&p->pk, "role", "admin");
    rp_pack_kv_cstr(&p->pk, "team", "hq");
    rp_pack_cstr(&p->pk, "args");
    msgpack_pack_map(&p->pk, 4);
    char subject[64];
    snprintf(subject, sizeof subject, "回访客户 %zu", n);
    rp_pack_kv_cstr(&p->pk, "subject", subject);
    rp_pack_kv_cstr(&p->pk, "kind", "call");
    rp_pack_kv_cstr(&p->pk, "time_zone", "UTC");
    rp_pack_kv_cstr(&p->pk, "due_at", due);
}

//  Wait for a reminders writer: a create (due far ahead) answered 200.
static bool s_wait_writer(rp_client_t *client)
{
    rp_packer_t p;
    rp_packer_init(&p);
    bool up = false;
    for (int tries = 0; tries < 100 && !up; tries++) {
        uint64_t id = rp_client_next_id(client);
        s_pack_create(&p, id, 0, "2099-01-01T00:00:00Z");
        rp_reply_t reply;
        rp_doc_t *doc = rp_client_call(client, "reminders.writer", id, p.buffer.data, p.buffer.size,
                                       1000, &reply);
        up = doc && reply.status == 200;
        rp_doc_destroy(&doc);
        if (!up)
            zclock_sleep(100);
    }
    rp_packer_destroy(&p);
    return up;
}

//  COUNT creates, WINDOW in flight: the number answered 200.
static size_t s_create(rp_client_t *client, size_t count, const char *due)
{
    rp_packer_t p;
    rp_packer_init(&p);
    size_t sent = 0, answered = 0, ok = 0;
    while (answered < count) {
        while (sent < count && sent - answered < WINDOW) {
            uint64_t id = rp_client_next_id(client);
            s_pack_create(&p, id, sent, due);
            if (rp_client_send(client, "reminders.writer", id, p.buffer.data, p.buffer.size,
                               TIMEOUT_MS))
                break;
            sent++;
        }
        rp_reply_t reply;
        rp_doc_t *doc = rp_client_recv(client, &reply, TIMEOUT_MS);
        if (!doc)
            break;
        answered++;
        ok += reply.status == 200;
        rp_doc_destroy(&doc);
    }
    rp_packer_destroy(&p);
    return ok;
}

typedef struct {
    int64_t *delays; //  ms, one per firing
    size_t count;
    int64_t first_ms; //  the first firing's commit
    int64_t last_ms;  //  the last firing's commit
    uint64_t seq;     //  read from here
} firings_t;

//  Read the journal from f->seq on, taking the reminder.fired events.
static bool s_read(rp_client_t *client, firings_t *f, size_t max)
{
    rp_reply_t reply;
    rp_doc_t *doc = rp_journal_read(client, f->seq, RP_JOURNAL_READ_MAX, TIMEOUT_MS, &reply);
    const msgpack_object *events;
    uint64_t head;
    if (!doc || reply.status != 200 || !rp_journal_read_page(&reply, &events, &head)) {
        rp_doc_destroy(&doc);
        return false;
    }
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        const msgpack_object *e = &events->via.array.ptr[i];
        f->seq++;
        const char *str;
        size_t len;
        int64_t due, at;
        if (!rp_obj_streq(rp_obj_get(e, "type"), "reminder.fired") ||
            !rp_obj_str(rp_obj_get(rp_obj_get(e, "data"), "due_at"), &str, &len) ||
            !rp_time_parse(str, len, &due) || !rp_obj_str(rp_obj_get(e, "time"), &str, &len) ||
            !rp_time_parse(str, len, &at) || f->count == max)
            continue;
        f->delays[f->count++] = at - due;
        if (at > f->last_ms)
            f->last_ms = at;
        if (f->first_ms == 0 || at < f->first_ms)
            f->first_ms = at;
    }
    rp_doc_destroy(&doc);
    return true;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_reminders BROKER_ENDPOINT SCRATCH_DIR REMINDERS_BINARY "
                        "[COUNT]\n");
        return 2;
    }
    size_t count = argc > 4 ? (size_t)atol(argv[4]) : 10000;
    rp_log_init("bench", NULL, "warn");
    pid_t pid = s_spawn(argv[3], argv[2]);
    rp_client_t *client = rp_client_new(argv[1]);
    assert(pid > 0 && client);
    int status = 1;
    firings_t f = {calloc(count, sizeof(int64_t)), 0, 0, 0, 0};
    assert(f.delays);
    uint64_t head = 0;
    if (!s_wait_writer(client) || rp_journal_head(client, TIMEOUT_MS, &head) != 200) {
        fprintf(stderr, "bench_reminders: no reminders writer\n");
        goto done;
    }
    //  Due at a whole second after the creates (~3,000 a second here;
    //  a second of room per 1,000, and two more).
    int64_t due_ms = (zclock_time() / 1000 + 2 + (int64_t)(count / 1000)) * 1000;
    char due[32];
    rp_time_format(due_ms, due);
    int64_t t0 = zclock_usecs();
    size_t created = s_create(client, count, due);
    double create_s = (zclock_usecs() - t0) / 1e6;
    if (created != count) {
        fprintf(stderr, "bench_reminders: %zu of %zu created\n", created, count);
        goto done;
    }
    if (zclock_time() >= due_ms)
        fprintf(stderr, "bench_reminders: the creates ended after the due time: delays include "
                        "them\n");
    f.seq = head + 1;
    int64_t deadline = due_ms + 60000;
    while (f.count < count && zclock_time() < deadline) {
        uint64_t before = f.seq;
        if (!s_read(client, &f, count))
            break;
        if (f.seq == before)
            zclock_sleep(50); //  nothing new: the clock ticks every 200 ms
    }
    if (f.count < count) {
        fprintf(stderr, "bench_reminders: %zu of %zu fired\n", f.count, count);
        goto done;
    }
    qsort(f.delays, f.count, sizeof f.delays[0], s_cmp_i64);
    double span_s = (f.last_ms - due_ms) / 1000.0;
    double rate = count / (span_s > 0.001 ? span_s : 0.001);
    const char *ref = getenv("BENCH_REMINDERS_REFERENCE");
    double reference = ref ? atof(ref) : 0;
    printf("reminders: %zu one-offs due in one second (created in %.1f s, %.0f/s)\n", count,
           create_s, count / create_s);
    printf("  firings     %10.0f /s   (due time to the last committed: %.2f s)\n", rate, span_s);
    double busy_s = (f.last_ms - f.first_ms) / 1000.0;
    double throughput = count / (busy_s > 0.001 ? busy_s : 0.001);
    printf("  throughput  %10.0f /s   (first to last committed: %.2f s)\n", throughput, busy_s);
    printf("  delay       p50 %6" PRId64 " ms   p99 %6" PRId64 " ms   max %6" PRId64
           " ms (due time to committed)\n",
           f.delays[count / 2], f.delays[(count * 99) / 100], f.delays[count - 1]);
    if (reference > 0) {
        printf("  reference   %10.0f /s   (journal.append, 1,000 events a batch, one in flight)\n",
               reference);
        printf("  ratio       %10.2f     (throughput / reference)\n", throughput / reference);
    }
    status = 0;
done:
    free(f.delays);
    rp_client_destroy(&client);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return status;
}
