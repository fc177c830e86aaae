/*  clock.c — see clock.h. */
#include "clock.h"
#include "apply.h"
#include "reminder.h"

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
    int64_t now_ms;
    rp_packer_t *events; //  the batch, packed one after another
    size_t count;
    uint64_t hash; //  of the keys: the batch's idem
    size_t *sizes;
} due_t;

//  The occurrence of a key "<id>/<occurrence ms>/<offset | snooze-n>".
static int64_t s_occurrence(const char *key, size_t len, size_t id_len)
{
    if (len <= id_len + 1)
        return 0;
    return strtoll(key + id_len + 1, NULL, 10); //  stops at the next '/'
}

static bool s_due(void *arg, int64_t fire_ms, const char *key, size_t key_len, const char *id,
                  size_t id_len)
{
    due_t *due = (due_t *)arg;
    char text[REMINDER_KEY_MAX + 1];
    if (key_len > REMINDER_KEY_MAX)
        return true;
    memcpy(text, key, key_len);
    text[key_len] = 0; //  strtoll needs its end
    size_t before = due->events->buffer.size;
    msgpack_packer *pk = &due->events->pk;
    msgpack_pack_map(pk, 5);
    rp_pack_kv_cstr(pk, "type", "reminder.fired");
    char uuid[RP_UUID_SIZE];
    rp_uuid_format(uuid);
    rp_pack_kv_cstr(pk, "id", uuid);
    rp_pack_kv_cstr(pk, "source", "reminders");
    rp_pack_cstr(pk, "subject");
    rp_pack_strn(pk, id, id_len);
    rp_pack_cstr(pk, "data");
    msgpack_pack_map(pk, 6);
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
    rp_pack_kv_bool(pk, "late", due->now_ms - fire_ms > CLOCK_LATE_MS);
    due->sizes[due->count++] = due->events->buffer.size - before;
    for (size_t i = 0; i < key_len; i++) //  FNV-1a over the keys
        due->hash = (due->hash ^ (uint8_t)key[i]) * 1099511628211ULL;
    return due->count < CLOCK_BATCH;
}

static int s_due_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    due_t *due = (due_t *)arg;
    size_t count = 0;
    return reminders_apply_due(store, txn, due->now_ms, CLOCK_BATCH, s_due, due, &count);
}

static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    (void)service;
    (void)first;
    reminders_clock_t *self = (reminders_clock_t *)arg;
    self->in_flight = false;
    if (reply->status == 200)
        self->seq = last;
    else
        rp_warn("reminders: firings could not be appended (%d); next tick", reply->status);
}

void reminders_clock_tick(reminders_clock_t *self, rp_service_t *service)
{
    if (self->in_flight || rp_service_epoch(service) == 0 ||
        (self->seq && rp_service_cursor(service) < self->seq))
        return;
    rp_packer_t events;
    rp_packer_init(&events);
    size_t *sizes = malloc(CLOCK_BATCH * sizeof *sizes);
    assert(sizes);
    due_t due = {zclock_time(), &events, 0, 14695981039346656037ULL, sizes};
    if (rp_store_read(rp_service_store(service), s_due_read, &due) == 0 && due.count) {
        rp_journal_event_t *list = malloc(due.count * sizeof *list);
        assert(list);
        size_t offset = 0;
        for (size_t i = 0; i < due.count; i++) {
            list[i].data = events.buffer.data + offset;
            list[i].size = sizes[i];
            offset += sizes[i];
        }
        char idem[64];
        snprintf(idem, sizeof idem, "reminders/fire/%016" PRIx64, due.hash);
        if (rp_service_append(service, list, due.count, idem, WAIT_MS, s_appended, self) == 0)
            self->in_flight = true;
        free(list);
    }
    free(sizes);
    rp_packer_destroy(&events);
}

void reminders_clock_test(void)
{
    assert(s_occurrence("r1/1700000000000/0", 18, 2) == 1700000000000LL);
    assert(s_occurrence("r1/5/snooze-1", 13, 2) == 5);
    assert(s_occurrence("r1", 2, 2) == 0);
}
