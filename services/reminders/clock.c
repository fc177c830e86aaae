/*  clock.c — see clock.h. */
#include "clock.h"
#include "apply.h"
#include "handlers.h"
#include "reminder.h"

#include <rapport/duration.h>
#include <rapport/event.h>
#include <rapport/log.h>
#include <rapport/random.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define WAIT_MS 5000

typedef struct {
    int64_t now_ms;
    int64_t late_ms;
    rp_store_t *store;
    MDB_txn *txn;
    rp_packer_t *events; //  the batch, packed one after another
    size_t count;
    uint64_t hash; //  of the keys: the batch's idem
    size_t *sizes;
} due_t;

//  "on", "1", "true", "yes": a switch in the configuration.
static bool s_on(const char *value)
{
    static const char *const yes[] = {"on", "1", "true", "yes", NULL};
    for (size_t i = 0; value && yes[i]; i++)
        if (strcasecmp(value, yes[i]) == 0)
            return true;
    return false;
}

int reminders_clock_init(reminders_clock_t *self, rp_config_t *config)
{
    memset(self, 0, sizeof *self);
    const char *late = rp_config_get(config, "reminders/late_after", CLOCK_LATE_DEFAULT);
    int64_t seconds;
    if (strlen(late) > RP_DURATION_TEXT || rp_duration_parse(late, strlen(late), &seconds)) {
        rp_error("reminders: reminders/late_after \"%s\" is not an ISO 8601 duration (PT60S)",
                 late);
        return 2;
    }
    self->late_ms = seconds * 1000;
    self->test_clock = s_on(rp_config_get(config, "reminders/test_clock", "off"));
    if (self->test_clock && s_on(rp_config_get(config, "production", "0"))) {
        //  A clock that can be moved fires everything at once: never in production.
        rp_error("reminders: reminders/test_clock is on with production on "
                 "(RAPPORT_PRODUCTION=1): refused, the test clock is for tests only");
        return 2;
    }
    if (self->test_clock)
        rp_warn("reminders: TEST CLOCK ON (reminders/test_clock): reminders.clock.set can move "
                "this writer's clock forward; never in production");
    return 0;
}

int64_t reminders_clock_now(const reminders_clock_t *self)
{
    return zclock_time() + self->offset_ms;
}

int reminders_clock_set(reminders_clock_t *self, int64_t now_ms)
{
    int64_t real = zclock_time();
    if (!self->test_clock || now_ms < real + self->offset_ms)
        return -1;
    self->offset_ms = now_ms - real;
    return 0;
}

//  The occurrence of a key "<id>/<occurrence ms>/<offset | snooze-n>".
static int64_t s_occurrence(const char *key, size_t len, size_t id_len)
{
    if (len <= id_len + 1)
        return 0;
    return strtoll(key + id_len + 1, NULL, 10); //  stops at the next '/'
}

typedef struct {
    int64_t fire_ms;
    size_t skipped;
    char key[REMINDER_KEY_MAX];
} last_t;

//  A late agenda entry (fire_ms) of reminder id: if it has skip_missed,
//  its last firing at or before now that is not recorded yet into *last
//  (true); false when it has not, or when the entry is that firing.
static bool s_last_missed(const due_t *due, const char *id, size_t id_len, int64_t fire_ms,
                          last_t *last)
{
    MDB_val k = {id_len, (void *)id}, v;
    if (mdb_get(due->txn, rp_store_dbi(due->store, "reminders"), &k, &v))
        return false;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    if (!doc)
        return false;
    rp_record_t r;
    reminder_init(&r);
    rp_record_from_map(&r, rp_doc_root(doc));
    const char *field, *str;
    size_t len;
    int64_t done = INT64_MIN;
    if (rp_record_str(&r, REMINDER_DONE_THROUGH, &str, &len))
        rp_time_parse(str, len, &done);
    rp_recurrence_t *series = rp_record_bool(&r, REMINDER_SKIP_MISSED) &&
                                      !rp_obj_streq(&r.values[REMINDER_STATE], "snoozed")
                                  ? reminder_series(&r, &field)
                                  : NULL;
    bool found = false;
    size_t firings = 0, walked = 0;
    if (series) {
        int64_t offsets[REMINDER_MAX_OFFSETS];
        size_t count = reminder_offsets(&r, offsets);
        for (size_t i = 0; i < count; i++) {
            int64_t occ, from = fire_ms + offsets[i] * 1000;
            while (walked++ < CLOCK_SKIP_WALK_MAX && rp_recurrence_next(series, from, &occ) &&
                   occ - offsets[i] * 1000 <= due->now_ms) {
                from = occ + 1;
                if (occ <= done)
                    continue;
                firings++;
                int64_t at = occ - offsets[i] * 1000;
                if (!found || at > last->fire_ms) {
                    last->fire_ms = at;
                    reminder_key(id, id_len, occ, offsets[i], last->key);
                    found = true;
                }
            }
        }
        rp_recurrence_destroy(&series);
    }
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    if (!found || last->fire_ms <= fire_ms)
        return false;
    //  Recorded already (moved back over a fired time): the entry as it is.
    MDB_val fk = {strlen(last->key), last->key}, seen;
    if (mdb_get(due->txn, rp_store_dbi(due->store, "fired_keys"), &fk, &seen) == 0)
        return false;
    last->skipped = firings - 1;
    return true;
}

static bool s_due(void *arg, int64_t fire_ms, const char *key, size_t key_len, const char *id,
                  size_t id_len)
{
    due_t *due = (due_t *)arg;
    if (key_len >= REMINDER_KEY_MAX)
        return true;
    bool late = due->now_ms - fire_ms > due->late_ms;
    last_t last = {0};
    if (late && s_last_missed(due, id, id_len, fire_ms, &last)) {
        fire_ms = last.fire_ms;
        key = last.key;
        key_len = strlen(last.key);
    }
    char text[REMINDER_KEY_MAX];
    memcpy(text, key, key_len);
    text[key_len] = 0; //  strtoll needs its end
    size_t before = due->events->buffer.size;
    msgpack_packer *pk = &due->events->pk;
    rp_event_open(pk, "reminder.fired", "reminders", id, id_len, NULL); //  the clock's own
    msgpack_pack_map(pk, 7 + (last.skipped > 0));
    rp_pack_cstr(pk, "id");
    rp_pack_strn(pk, id, id_len);
    rp_pack_cstr(pk, "key");
    rp_pack_strn(pk, key, key_len);
    char at[32];
    rp_time_format(s_occurrence(text, key_len, id_len), at);
    rp_pack_kv_cstr(pk, "occurrence", at);
    rp_time_format(fire_ms, at);
    rp_pack_kv_cstr(pk, "due_at", at);
    rp_time_format(due->now_ms, at);
    rp_pack_kv_cstr(pk, "fired_at", at);
    rp_pack_kv_bool(pk, "late", late);
    const char *offset = strrchr(text, '/');
    rp_pack_kv_u64(pk, "offset", offset && offset[1] != 's' ? strtoull(offset + 1, NULL, 10) : 0);
    if (last.skipped)
        rp_pack_kv_u64(pk, "skipped", last.skipped);
    due->sizes[due->count++] = due->events->buffer.size - before;
    for (size_t i = 0; i < key_len; i++) //  FNV-1a over the keys
        due->hash = (due->hash ^ (uint8_t)key[i]) * 1099511628211ULL;
    return due->count < CLOCK_BATCH;
}

static int s_due_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    due_t *due = (due_t *)arg;
    due->store = store;
    due->txn = txn;
    size_t count = 0;
    return reminders_apply_due(store, txn, due->now_ms, CLOCK_BATCH, s_due, due, &count);
}

static void s_due_init(due_t *due, const reminders_clock_t *self, rp_packer_t *events)
{
    memset(due, 0, sizeof *due);
    due->now_ms = reminders_clock_now(self);
    due->late_ms = self->late_ms;
    due->events = events;
    due->hash = 14695981039346656037ULL;
    due->sizes = malloc(CLOCK_BATCH * sizeof *due->sizes);
    assert(due->sizes);
}

//  A full batch applied here: the next one at once, not a tick later (a
//  backlog of 10,000 is 10 batches, not 10 ticks).
static void s_applied(void *arg, rp_service_t *service, bool applied)
{
    if (applied)
        reminders_clock_tick((reminders_clock_t *)arg, service);
}

static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    (void)first;
    reminders_clock_t *self = (reminders_clock_t *)arg;
    self->in_flight = false;
    if (reply->status == 200) {
        self->seq = last;
        if (self->full)
            rp_service_wait(service, last, WAIT_MS, s_applied, self);
    } else
        rp_warn("reminders: firings could not be appended (%d); next tick", reply->status);
}

static void s_head(void *arg, rp_service_t *service, const rp_reply_t *reply)
{
    (void)service;
    reminders_clock_t *self = (reminders_clock_t *)arg;
    self->in_flight = false;
    uint64_t head;
    if (reply->status == 200 && rp_obj_u64(rp_obj_get(reply->data, "head"), &head))
        self->seq = head;
    else
        self->epoch = 0; //  ask again next tick
}

//  A new epoch: ask the journal's head (the tick then waits to apply it).
static void s_new_epoch(reminders_clock_t *self, rp_service_t *service, uint64_t epoch)
{
    self->epoch = epoch;
    self->seq = 0;
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(rp_service_client(service));
    rp_request_pack(&packer.pk, id, "journal.head", 0, NULL, 1);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 0);
    if (rp_service_call(service, RP_JOURNAL_SERVICE, id, packer.buffer.data, packer.buffer.size,
                        WAIT_MS, s_head, self) == 0)
        self->in_flight = true;
    else
        self->epoch = 0;
    rp_packer_destroy(&packer);
}

void reminders_clock_tick(reminders_clock_t *self, rp_service_t *service)
{
    uint64_t epoch = rp_service_epoch(service);
    if (self->in_flight || epoch == 0)
        return;
    if (epoch != self->epoch) {
        s_new_epoch(self, service, epoch);
        return;
    }
    if (self->seq && rp_service_cursor(service) < self->seq)
        return;
    rp_packer_t events;
    rp_packer_init(&events);
    due_t due;
    s_due_init(&due, self, &events);
    if (rp_store_read(rp_service_store(service), s_due_read, &due) == 0 && due.count) {
        char idem[64];
        snprintf(idem, sizeof idem, "reminders/fire/%016" PRIx64, due.hash);
        self->full = due.count == CLOCK_BATCH;
        if (rp_service_append_packed(service, &events.buffer, due.sizes, due.count, idem, WAIT_MS,
                                     s_appended, self) == 0)
            self->in_flight = true;
    }
    free(due.sizes);
    rp_packer_destroy(&events);
}

void reminders_clock_op_set(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    reminders_clock_t *self = reminders_handlers_clock(arg);
    const char *str;
    size_t len;
    int64_t now;
    if (!self->test_clock) {
        rp_service_reply_error(service, &origin, 404, "not_enabled",
                               "the test clock is off (reminders/test_clock)");
        return;
    }
    if (!rp_obj_str(rp_obj_get(req->args, "now"), &str, &len) || !rp_time_parse(str, len, &now)) {
        rp_field_error_t error;
        rp_field_error_set(&error, "now", 3, "invalid");
        error.message = "an RFC 3339 time";
        rp_service_reply_invalid(service, &origin, "now is not a time", &error, 1);
        return;
    }
    if (reminders_clock_set(self, now)) {
        rp_service_reply_error(service, &origin, 409, "clock_backwards",
                               "the test clock only moves forward");
        return;
    }
    rp_warn("reminders: the test clock set to %.*s", (int)len, str);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(origin), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 1);
    char text[32];
    rp_time_format(reminders_clock_now(self), text);
    rp_pack_kv_cstr(&packer.pk, "now", text);
    rp_service_reply(service, &origin, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  Self-test

static void s_test_event(rp_store_t *store, uint64_t seq, const char *type, rp_packer_t *data)
{
    rp_apply_test_event(store, reminders_apply_event, seq, type, "reminders", "ann", data);
}

//  reminder.created {id, record: {subject, due_at, time_zone UTC, rrule,
//  skip_missed}}.
static void s_test_create(rp_store_t *store, uint64_t seq, const char *id, const char *due,
                          const char *rrule, bool skip)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 6);
    rp_pack_kv_cstr(&data.pk, "subject", "日报");
    rp_pack_kv_cstr(&data.pk, "due_at", due);
    rp_pack_kv_cstr(&data.pk, "time_zone", "UTC");
    rp_pack_kv_cstr(&data.pk, "assignee", "ann");
    rp_pack_kv_cstr(&data.pk, "rrule", rrule);
    rp_pack_kv_bool(&data.pk, "skip_missed", skip);
    s_test_event(store, seq, "reminder.created", &data);
    rp_packer_destroy(&data);
}

//  The batch the clock would append at now (RFC 3339), applied at seq on:
//  "<id> <due_at> <late> <skipped>;" per firing into got. The next seq.
static uint64_t s_test_tick(rp_store_t *store, uint64_t seq, const char *now, char *got,
                            size_t size)
{
    reminders_clock_t clock = {.late_ms = CLOCK_LATE_MS, .test_clock = true};
    int64_t ms;
    assert(rp_time_parse(now, strlen(now), &ms));
    clock.offset_ms = ms - zclock_time();
    rp_packer_t events;
    rp_packer_init(&events);
    due_t due;
    s_due_init(&due, &clock, &events);
    assert(rp_store_read(store, s_due_read, &due) == 0);
    got[0] = 0;
    size_t offset = 0;
    for (size_t i = 0; i < due.count; i++) {
        rp_doc_t *doc = rp_doc_new(events.buffer.data + offset, due.sizes[i], NULL);
        assert(doc);
        offset += due.sizes[i];
        const msgpack_object *data = rp_obj_get(rp_doc_root(doc), "data");
        const char *id, *at;
        size_t id_len, at_len;
        bool late = false;
        uint64_t skipped = 0;
        assert(rp_obj_str(rp_obj_get(data, "id"), &id, &id_len));
        assert(rp_obj_str(rp_obj_get(data, "due_at"), &at, &at_len));
        assert(rp_obj_bool(rp_obj_get(data, "late"), &late));
        rp_obj_u64(rp_obj_get(data, "skipped"), &skipped);
        snprintf(got + strlen(got), size - strlen(got), "%.*s %.*s %s %" PRIu64 ";", (int)id_len,
                 id, 19, at, late ? "late" : "on-time", skipped);
        //  Applied, as the journal would give it back.
        rp_packer_t copy;
        rp_packer_init(&copy);
        msgpack_pack_object(&copy.pk, *data);
        s_test_event(store, seq++, "reminder.fired", &copy);
        rp_packer_destroy(&copy);
        rp_doc_destroy(&doc);
    }
    free(due.sizes);
    rp_packer_destroy(&events);
    return seq;
}

static void s_test_expect(rp_store_t *store, uint64_t *seq, const char *now, const char *want)
{
    char got[1024];
    *seq = s_test_tick(store, *seq, now, got, sizeof got);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "clock at %s: %s\nwant %s\n", now, got, want);
        assert(false);
    }
}

//  A daily series with skip_missed and one without, the writer down for
//  three days: the first fires its last missed day alone (late, two
//  skipped), the second each of the three (late), one a tick.
static void s_test_skip_missed(void)
{
    char dir[] = "/tmp/rp-reminders-clock-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, reminders_apply_dbnames);
    assert(store);
    s_test_create(store, 1, "skip", "2026-12-01T09:00:00Z", "FREQ=DAILY", true);
    s_test_create(store, 2, "each", "2026-12-01T09:00:00Z", "FREQ=DAILY", false);
    uint64_t seq = 3;
    s_test_expect(store, &seq, "2026-12-01T08:59:59Z", "");
    s_test_expect(store, &seq, "2026-12-01T09:00:00Z",
                  "each 2026-12-01T09:00:00 on-time 0;skip 2026-12-01T09:00:00 on-time 0;");
    //  Down from 2 December 08:00 to 4 December 10:00: three days missed.
    s_test_expect(store, &seq, "2026-12-04T10:00:00Z",
                  "each 2026-12-02T09:00:00 late 0;skip 2026-12-04T09:00:00 late 2;");
    s_test_expect(store, &seq, "2026-12-04T10:00:00.200Z", "each 2026-12-03T09:00:00 late 0;");
    s_test_expect(store, &seq, "2026-12-04T10:00:00.400Z", "each 2026-12-04T09:00:00 late 0;");
    //  The days passed over never fire: next the 5th, on time.
    s_test_expect(store, &seq, "2026-12-04T10:00:00.600Z", "");
    s_test_expect(store, &seq, "2026-12-05T09:00:30Z",
                  "each 2026-12-05T09:00:00 on-time 0;skip 2026-12-05T09:00:00 on-time 0;");
    //  Late but only one missed: the entry itself, nothing skipped.
    s_test_expect(store, &seq, "2026-12-06T09:05:00Z",
                  "each 2026-12-06T09:00:00 late 0;skip 2026-12-06T09:00:00 late 0;");
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

void reminders_clock_test(void)
{
    assert(s_occurrence("r1/1700000000000/0", 18, 2) == 1700000000000LL);
    assert(s_occurrence("r1/5/snooze-1", 13, 2) == 5);
    assert(s_occurrence("r1", 2, 2) == 0);
    assert(s_on("on") && s_on("1") && s_on("TRUE") && !s_on("off") && !s_on("0") && !s_on(NULL));

    //  The test clock moves forward only, and only when on.
    reminders_clock_t clock = {.late_ms = CLOCK_LATE_MS};
    int64_t now = reminders_clock_now(&clock);
    assert(reminders_clock_set(&clock, now + 3600000) == -1);
    clock.test_clock = true;
    assert(reminders_clock_set(&clock, now + 3600000) == 0);
    assert(reminders_clock_now(&clock) >= now + 3600000);
    assert(reminders_clock_set(&clock, now) == -1);
    assert(reminders_clock_now(&clock) >= now + 3600000);

    s_test_skip_missed();
}
