/*  purge.c — see purge.h. */
#include "purge.h"

#include <rapport/duration.h>
#include <rapport/envelope.h>
#include <rapport/event.h>
#include <rapport/log.h>
#include <rapport/pack.h>
#include <rapport/random.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define WAIT_MS 5000

static bool s_duration(const char *text, int64_t *ms)
{
    int64_t seconds;
    if (strlen(text) > RP_DURATION_TEXT || rp_duration_parse(text, strlen(text), &seconds) ||
        seconds < 1)
        return false;
    *ms = seconds * 1000;
    return true;
}

int notifications_purge_configure(notifications_purge_t *self, rp_config_t *config)
{
    memset(self, 0, sizeof *self);
    const char *retention = rp_config_get(config, "notifications/retention", PURGE_RETENTION);
    const char *every = rp_config_get(config, "notifications/purge_every", PURGE_EVERY);
    if (!s_duration(retention, &self->retention_ms)) {
        rp_error("notifications: notifications/retention \"%s\" is not a duration of a second "
                 "or more",
                 retention);
        return -1;
    }
    if (!s_duration(every, &self->every_ms)) {
        rp_error("notifications: notifications/purge_every \"%s\" is not a duration of a second "
                 "or more",
                 every);
        return -1;
    }
    return 0;
}

static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    (void)service;
    (void)first;
    (void)last;
    notifications_purge_t *self = (notifications_purge_t *)arg;
    self->in_flight = false;
    if (reply->status != 200) {
        self->last_ms = 0; //  again at the next tick
        rp_warn("notifications: the purge could not be appended (%d)", reply->status);
    }
}

void notifications_purge_tick(notifications_purge_t *self, rp_service_t *service, int64_t now_ms)
{
    if (self->in_flight || rp_service_epoch(service) == 0 ||
        (self->last_ms && now_ms - self->last_ms < self->every_ms))
        return;
    self->last_ms = now_ms;
    char period[24], before[32], idem[64];
    snprintf(period, sizeof period, "%" PRId64, now_ms / self->every_ms);
    rp_time_format(now_ms - self->retention_ms, before);
    snprintf(idem, sizeof idem, "notifications/purge/%s", period);
    rp_packer_t event;
    rp_packer_init(&event);
    //  The writer's own event: no actor.
    rp_event_open(&event.pk, "notification.purged", "notifications", period, strlen(period), NULL);
    msgpack_pack_map(&event.pk, 2);
    rp_pack_kv_cstr(&event.pk, "id", period);
    rp_pack_kv_cstr(&event.pk, "before", before);
    rp_journal_event_t one = {event.buffer.data, event.buffer.size};
    if (rp_service_append(service, &one, 1, idem, WAIT_MS, s_appended, self) == 0)
        self->in_flight = true;
    rp_packer_destroy(&event);
}

void notifications_purge_test(void)
{
    rp_config_t *config = rp_config_new("notifications-selftest");
    notifications_purge_t purge;
    assert(notifications_purge_configure(&purge, config) == 0);
    assert(purge.retention_ms == 90LL * 86400 * 1000 && purge.every_ms == 86400LL * 1000);
    rp_config_destroy(&config);
}
