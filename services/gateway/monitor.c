/*  monitor.c — see monitor.h. */
#include "monitor.h"

#include <czmq.h>
#include <rapport/service.h>

#define PROBE_TIMEOUT_MS 1000

struct _gw_monitor_t {
    gw_upstream_t *upstream;
    gw_fleet_t *fleet;
    struct event *timer;
    bool asking; //  a broker.status is in flight
};

//  Send a body-less request {id, op} to a service; fn gets the answer.
static int s_ask(gw_monitor_t *self, const char *service, const char *op, gw_upstream_fn *fn)
{
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, id, op, 0, NULL, 0);
    int rc = gw_upstream_send(self->upstream, service, id, packer.buffer.data, packer.buffer.size,
                              PROBE_TIMEOUT_MS, fn, self);
    rp_packer_destroy(&packer);
    return rc;
}

//  A probe's reply went through the observer already (its cursor); its
//  gauges go to the fleet.
static void s_probed(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    gw_monitor_t *self = (gw_monitor_t *)arg;
    const char *service;
    size_t len;
    if (reply->status != 200 || !rp_obj_str(rp_obj_get(reply->data, "service"), &service, &len) ||
        len >= 64)
        return;
    char name[64];
    memcpy(name, service, len);
    name[len] = 0;
    gw_fleet_gauges(self->fleet, name, reply->instance, reply->instance_len,
                    rp_obj_get(reply->data, "gauges"), zclock_mono());
}

static void s_probe(void *arg, const char *service, size_t workers)
{
    gw_monitor_t *self = (gw_monitor_t *)arg;
    for (size_t i = 0; i < workers && i < GW_MONITOR_PROBES; i++)
        if (s_ask(self, service, RP_SERVICE_STATUS_OP, s_probed))
            return;
}

static void s_status(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    gw_monitor_t *self = (gw_monitor_t *)arg;
    self->asking = false;
    gw_fleet_status(self->fleet, reply->status == 200 ? reply->data : NULL, zclock_mono());
    if (reply->status == 200 && self->timer)
        gw_fleet_each_service(self->fleet, s_probe, self);
}

static void s_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_monitor_t *self = (gw_monitor_t *)arg;
    if (!self->asking && s_ask(self, "broker.status", "broker.status", s_status) == 0)
        self->asking = true;
}

gw_monitor_t *gw_monitor_new(struct event_base *base, gw_upstream_t *upstream, gw_fleet_t *fleet)
{
    gw_monitor_t *self = (gw_monitor_t *)zmalloc(sizeof *self);
    self->upstream = upstream;
    self->fleet = fleet;
    self->timer = event_new(base, -1, EV_PERSIST, s_tick, self);
    assert(self->timer);
    struct timeval period = {GW_MONITOR_PERIOD_MS / 1000, (GW_MONITOR_PERIOD_MS % 1000) * 1000};
    event_add(self->timer, &period);
    event_active(self->timer, EV_TIMEOUT, 0);
    return self;
}

void gw_monitor_stop(gw_monitor_t *self)
{
    if (self->timer) {
        event_free(self->timer);
        self->timer = NULL;
    }
}

void gw_monitor_destroy(gw_monitor_t **self_p)
{
    gw_monitor_t *self = *self_p;
    if (!self)
        return;
    gw_monitor_stop(self);
    free(self);
    *self_p = NULL;
}

void gw_monitor_observe(void *fleet, const char *service, const rp_reply_t *reply)
{
    if (reply->instance)
        gw_fleet_saw((gw_fleet_t *)fleet, service, reply->instance, reply->instance_len,
                     reply->cursor, zclock_mono());
}
