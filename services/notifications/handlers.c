/*  handlers.c — the notifications op table and the service's own state. */
#include "handlers.h"
#include "apply.h"
#include "ops.h"
#include "purge.h"

#include "../reminders/dates.h"
#include "../reminders/reminder.h"

#include <rapport/intl.h>
#include <rapport/log.h>
#include <rapport/testservice.h>

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

struct _notifications_handlers_t {
    rp_writes_t *writes;         //  writes in flight
    notifications_purge_t purge; //  the writer's retention (purge.h)
};

rp_writes_t *notifications_handlers_writes(void *self)
{
    return ((notifications_handlers_t *)self)->writes;
}

void notifications_handlers_tick(void *arg, rp_service_t *service)
{
    notifications_handlers_t *self = (notifications_handlers_t *)arg;
    notifications_purge_tick(&self->purge, service, zclock_time());
}

int notifications_handlers_init(rp_config_t *config, void **arg)
{
    notifications_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    if (notifications_purge_configure(&self->purge, config)) {
        free(self);
        return 2;
    }
    //  The reminders fold derives important dates in the owners' zones,
    //  else this one: the reminders service's default, as it reads it.
    const char *zone = rp_config_get(config, "reminders/time_zone", REMINDER_ZONE_DEFAULT);
    char canonical[RP_ZONE_MAX + 1];
    if (!rp_intl_zone(zone, strlen(zone), canonical)) {
        rp_error("notifications: reminders/time_zone \"%s\" is not a time zone", zone);
        free(self);
        return 2;
    }
    dates_set_zone(canonical);
    self->writes = rp_writes_new();
    *arg = self;
    return 0;
}

void notifications_handlers_fini(void *arg)
{
    notifications_handlers_t *self = (notifications_handlers_t *)arg;
    if (!self)
        return;
    rp_writes_destroy(&self->writes);
    free(self);
}

const rp_service_op_t notifications_handlers_ops[] = {
    {"notifications.list", RP_OP_READ, notifications_ops_list},
    {"notifications.since", RP_OP_READ, notifications_ops_since},
    {"notifications.read", RP_OP_WRITE, notifications_ops_read},
    {"notifications.archive", RP_OP_WRITE, notifications_ops_archive},
    {"notifications.read_all", RP_OP_WRITE, notifications_ops_read_all},
    {NULL},
};

//  ---------------------------------------------------------------------
//  Self-test: the ops through the runtime and the test broker.

void notifications_handlers_test(void)
{
    static const char *const owns[] = {"notification.", NULL};
    static const rp_service_def_t def = {.name = "notifications",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = notifications_apply_dbnames,
                                         .apply = notifications_apply_event,
                                         .ops = notifications_handlers_ops,
                                         .init = notifications_handlers_init,
                                         .fini = notifications_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t ann = {"ann", "sales", "east"};
    rp_reply_t reply;
    //  An empty inbox; a bad cursor named; an id that is none is 404.
    rp_doc_t *doc = rp_testservice_call_kv(service, false, "notifications.list", &ann,
                                           (const char *[]){NULL}, &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 0);
    uint64_t unread = 9;
    assert(rp_obj_u64(rp_obj_get(reply.data, "unread_count"), &unread) && unread == 0);
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, false, "notifications.list", &ann,
                                 (const char *[]){"cursor", "x", NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, true, "notifications.read", &ann,
                                 (const char *[]){"id", "n1", NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, true, "notifications.read_all", &ann,
                                 (const char *[]){"x", "y", NULL}, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "user"), "ann"));
    rp_doc_destroy(&doc);
    rp_testservice_destroy(&service);
}
