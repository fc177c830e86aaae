/*  sweep.c — see sweep.h. */
#include "sweep.h"
#include "rules.h"

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

#define WAIT_MS 5000

typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    rp_packer_t *events; //  the batch, packed one after another
    size_t sizes[SWEEP_BATCH];
    size_t count;
    uint64_t hash;  //  of what the batch holds: its idem
    int64_t now_ms; //  the writer's clock
} batch_t;

static void s_hash(batch_t *self, const void *bytes, size_t len)
{
    for (size_t i = 0; i < len; i++) //  FNV-1a
        self->hash = (self->hash ^ ((const uint8_t *)bytes)[i]) * 1099511628211ULL;
}

//  Open an event {type, id, source, subject: record, data: {id: rule,
//  record, …pairs more}}.
static void s_open(msgpack_packer *pk, const char *type, const char *rule, size_t rule_len,
                   const char *record, size_t record_len, uint32_t pairs)
{
    rp_event_open(pk, type, "reminders", record, record_len, NULL);
    msgpack_pack_map(pk, 2 + pairs);
    rp_pack_cstr(pk, "id");
    rp_pack_strn(pk, rule, rule_len);
    rp_pack_cstr(pk, "record");
    rp_pack_strn(pk, record, record_len);
}

static bool s_entry(void *arg, int64_t at_ms, char what, const char *rule, size_t rule_len,
                    const char *record, size_t record_len)
{
    batch_t *self = (batch_t *)arg;
    size_t before = self->events->buffer.size;
    msgpack_packer *pk = &self->events->pk;
    char at[32];
    rp_time_format(at_ms, at);
    if (what == 'm') {
        s_open(pk, "rule.matched", rule, rule_len, record, record_len, 1);
        rp_pack_kv_cstr(pk, "at", at);
    } else {
        rules_escalation_t esc;
        if (what != 'e' || rules_apply_escalation(self->store, self->txn, rule, rule_len, record,
                                                  record_len, &esc) != 0)
            return true; //  nothing open: apply has it already
        s_open(pk, "rule.escalated", rule, rule_len, record, record_len, 4);
        rp_pack_kv_cstr(pk, "follow_up", esc.follow_up);
        rp_pack_kv_cstr(pk, "key", esc.key);
        rp_pack_kv_cstr(pk, "owner", esc.owner);
        rp_pack_cstr(pk, "manager_id");
        if (esc.manager[0])
            rp_pack_cstr(pk, esc.manager);
        else
            msgpack_pack_nil(pk);
    }
    s_hash(self, &what, 1);
    s_hash(self, rule, rule_len);
    s_hash(self, "", 1);
    s_hash(self, record, record_len);
    s_hash(self, at, strlen(at));
    self->sizes[self->count++] = self->events->buffer.size - before;
    return self->count < SWEEP_BATCH;
}

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    batch_t *self = (batch_t *)arg;
    self->store = store;
    self->txn = txn;
    size_t seen;
    return rules_apply_due(store, txn, self->now_ms, SWEEP_BATCH, s_entry, self, &seen);
}

static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    (void)service;
    (void)first;
    reminders_sweep_t *self = (reminders_sweep_t *)arg;
    self->in_flight = false;
    if (reply->status == 200)
        self->seq = last;
    else
        rp_warn("reminders: the rules' sweep could not be appended (%d); next sweep",
                reply->status);
}

//  A sweep period: an ISO 8601 duration of a second or more, in ms.
static bool s_every(const char *text, int64_t *ms)
{
    int64_t seconds;
    if (strlen(text) > RP_DURATION_TEXT || rp_duration_parse(text, strlen(text), &seconds) ||
        seconds < 1)
        return false;
    *ms = seconds * 1000;
    return true;
}

int reminders_sweep_configure(reminders_sweep_t *self, rp_config_t *config)
{
    memset(self, 0, sizeof *self);
    const char *every = rp_config_get(config, "reminders/sweep_every", "PT1S");
    if (!s_every(every, &self->every_ms)) {
        rp_error("reminders: reminders/sweep_every \"%s\" is not a duration of a second or more",
                 every);
        return -1;
    }
    return 0;
}

void reminders_sweep_tick(reminders_sweep_t *self, rp_service_t *service, int64_t now)
{
    if (self->in_flight || rp_service_epoch(service) == 0 ||
        (self->seq && rp_service_cursor(service) < self->seq) ||
        now - self->last_ms < self->every_ms)
        return;
    self->last_ms = now;
    rp_packer_t events;
    rp_packer_init(&events);
    batch_t *batch = calloc(1, sizeof *batch);
    assert(batch);
    batch->events = &events;
    batch->now_ms = now;
    batch->hash = 14695981039346656037ULL;
    if (rp_store_read(rp_service_store(service), s_read, batch) == 0 && batch->count) {
        char idem[64];
        snprintf(idem, sizeof idem, "reminders/rules/%016" PRIx64, batch->hash);
        if (rp_service_append_packed(service, &events.buffer, batch->sizes, batch->count, idem,
                                     WAIT_MS, s_appended, self) == 0)
            self->in_flight = true;
    }
    free(batch);
    rp_packer_destroy(&events);
}

void reminders_sweep_test(void)
{
    int64_t ms = 0;
    assert(s_every("PT1S", &ms) && ms == 1000);
    assert(s_every("PT5M", &ms) && ms == 300000);
    assert(!s_every("PT0S", &ms) && !s_every("soon", &ms) && !s_every("P1M", &ms));
    //  The batch's key: the same entries, the same hash.
    batch_t a = {.hash = 14695981039346656037ULL}, b = a;
    s_hash(&a, "m", 1);
    s_hash(&b, "m", 1);
    assert(a.hash == b.hash);
    s_hash(&b, "e", 1);
    assert(a.hash != b.hash);
}
