/*  handlers.c — the reminders op table and the service's own state. */
#include "handlers.h"
#include "clock.h"
#include "dates.h"
#include "ops.h"
#include "query.h"
#include "report.h"
#include "reminder.h"
#include "rules_ops.h"
#include "sweep.h"

#include "apply.h"

#include <rapport/log.h>
#include <rapport/testservice.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _reminders_handlers_t {
    rp_writes_t *writes;        //  writes in flight
    char zone[RP_ZONE_MAX + 1]; //  the default time zone
    reminders_clock_t clock;    //  the writer's firings (clock.h)
    reminders_sweep_t sweep;    //  the writer's sweep of the rules (sweep.h)
};

reminders_handlers_t *reminders_handlers_new(const char *zone)
{
    reminders_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = rp_writes_new();
    self->clock.late_ms = CLOCK_LATE_MS;
    snprintf(self->zone, sizeof self->zone, "%s", zone);
    self->sweep.every_ms = SWEEP_EVERY_MS;
    return self;
}

void reminders_handlers_destroy(reminders_handlers_t **self_p)
{
    reminders_handlers_t *self = *self_p;
    if (!self)
        return;
    rp_writes_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

rp_writes_t *reminders_handlers_writes(void *self)
{
    return ((reminders_handlers_t *)self)->writes;
}

void reminders_handlers_tick(void *arg, rp_service_t *service)
{
    reminders_handlers_t *self = (reminders_handlers_t *)arg;
    reminders_clock_tick(&self->clock, service);
    reminders_sweep_tick(&self->sweep, service, reminders_clock_now(&self->clock));
}

const char *reminders_handlers_zone(void *self)
{
    return ((reminders_handlers_t *)self)->zone;
}

reminders_clock_t *reminders_handlers_clock(void *self)
{
    return &((reminders_handlers_t *)self)->clock;
}

int reminders_handlers_init(rp_config_t *config, void **arg)
{
    const char *zone = rp_config_get(config, "reminders/time_zone", REMINDER_ZONE_DEFAULT);
    char canonical[RP_ZONE_MAX + 1];
    if (!rp_intl_zone(zone, strlen(zone), canonical)) {
        rp_error("reminders: reminders/time_zone \"%s\" is not a time zone", zone);
        return -1;
    }
    reminders_clock_t clock;
    int status = reminders_clock_init(&clock, config);
    if (status)
        return status;
    reminders_handlers_t *self = reminders_handlers_new(canonical);
    self->clock = clock;
    if (reminders_sweep_configure(&self->sweep, config)) {
        reminders_handlers_destroy(&self);
        return -1;
    }
    dates_set_zone(canonical); //  before anything is applied
    *arg = self;
    return 0;
}

void reminders_handlers_fini(void *arg)
{
    reminders_handlers_t *self = (reminders_handlers_t *)arg;
    reminders_handlers_destroy(&self);
}

const rp_service_op_t reminders_handlers_ops[] = {
    {"reminders.list", RP_OP_READ, reminders_query_list},
    {"reminders.get", RP_OP_READ, reminders_ops_get},
    {"reminders.occurrences", RP_OP_READ, reminders_query_occurrences},
    {"reminders.agenda", RP_OP_READ, reminders_query_agenda},
    {"reminders.report.visits", RP_OP_READ, reminders_report_visits},
    {"reminders.create", RP_OP_WRITE, reminders_ops_create},
    {"reminders.update", RP_OP_WRITE, reminders_ops_update},
    {"reminders.delete", RP_OP_WRITE, reminders_ops_delete},
    {"reminders.snooze", RP_OP_WRITE, reminders_ops_snooze},
    {"reminders.done", RP_OP_WRITE, reminders_ops_done},
    {"reminders.cancel", RP_OP_WRITE, reminders_ops_cancel},
    {"reminders.clock.set", RP_OP_WRITE, reminders_clock_op_set}, //  the test clock's
    {"reminders.rules.list", RP_OP_READ, reminders_rules_list},
    {"reminders.rules.get", RP_OP_READ, reminders_rules_get},
    {"reminders.rules.create", RP_OP_WRITE, reminders_rules_create},
    {"reminders.rules.update", RP_OP_WRITE, reminders_rules_update},
    {"reminders.rules.delete", RP_OP_WRITE, reminders_rules_delete},
    {NULL},
};

//  ---------------------------------------------------------------------
//  Self-test: requests through the runtime and the test broker.

void reminders_handlers_test(void)
{
    reminders_handlers_t *self = reminders_handlers_new("Europe/Berlin");
    assert(strcmp(reminders_handlers_zone(self), "Europe/Berlin") == 0);
    assert(reminders_handlers_writes(self));
    reminders_handlers_destroy(&self);
    assert(!self);

    static const char *const owns[] = {"reminder.", "rule.", NULL};
    static const rp_service_def_t def = {.name = "reminders",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = reminders_apply_dbnames,
                                         .apply = reminders_apply_event,
                                         .ops = reminders_handlers_ops,
                                         .init = reminders_handlers_init,
                                         .fini = reminders_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t ann = {"ann", "sales", "east"}, bob = {"bob", "sales", "east"},
                                 boss = {"boss", "manager", "east"},
                                 viewer = {"vic", "readonly", "east"};
    rp_reply_t reply;
    //  Made by ann: hers, in her team, in the server's zone.
    rp_doc_t *doc = rp_testservice_call_kv(
        service, true, "reminders.create", &ann,
        (const char *[]){"subject", "回访", "due_at", "2027-01-05T10:00:00+08:00", NULL}, &reply);
    assert(reply.status == 200);
    char id[REMINDERS_MAX_ID + 1];
    const char *str;
    size_t len;
    assert(rp_obj_str(rp_obj_get(reply.data, "id"), &str, &len) && len <= REMINDERS_MAX_ID);
    memcpy(id, str, len);
    id[len] = 0;
    assert(rp_obj_streq(rp_obj_get(reply.data, "assignee"), "ann"));
    assert(rp_obj_streq(rp_obj_get(reply.data, "team"), "east"));
    assert(rp_obj_streq(rp_obj_get(reply.data, "time_zone"), REMINDER_ZONE_DEFAULT));
    assert(rp_obj_streq(rp_obj_get(reply.data, "next_fire_at"), "2027-01-05T02:00:00.000Z"));
    rp_doc_destroy(&doc);
    //  Readonly users write nothing; a bad zone is named.
    doc = rp_testservice_call_kv(
        service, true, "reminders.create", &viewer,
        (const char *[]){"subject", "x", "due_at", "2027-01-05T10:00:00Z", NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, true, "reminders.create", &ann,
                                 (const char *[]){"subject", "x", "due_at", "2027-01-05T10:00:00Z",
                                                  "time_zone", "Mars/Olympus", NULL},
                                 &reply);
    assert(rp_testservice_error_is(&reply, 422, "invalid"));
    rp_doc_destroy(&doc);
    //  Reads: ann and her manager; bob gets 404.
    doc = rp_testservice_call_kv(service, false, "reminders.get", &boss,
                                 (const char *[]){"id", id, NULL}, &reply);
    assert(reply.status == 200);
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, false, "reminders.get", &bob,
                                 (const char *[]){"id", id, NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, false, "reminders.list", &bob, (const char *[]){NULL},
                                 &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 0);
    rp_doc_destroy(&doc);
    //  A stale version is 412; the right one moves it.
    doc = rp_testservice_call_kv(service, true, "reminders.update", &ann,
                                 (const char *[]){"id", id, "version", "#7", "subject", "y", NULL},
                                 &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(
        service, true, "reminders.update", &boss,
        (const char *[]){"id", id, "version", "#1", "due_at", "2027-01-06T10:00:00+08:00", NULL},
        &reply);
    assert(reply.status == 200);
    assert(rp_obj_streq(rp_obj_get(reply.data, "next_fire_at"), "2027-01-06T02:00:00.000Z"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, true, "reminders.delete", &ann,
                                 (const char *[]){"id", id, NULL}, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "id"), id));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call_kv(service, false, "reminders.occurrences", &ann,
                                 (const char *[]){"id", id, NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);
    //  The test clock is off by default: its op is refused.
    doc = rp_testservice_call_kv(service, true, "reminders.clock.set", &ann,
                                 (const char *[]){"now", "2030-01-01T00:00:00Z", NULL}, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_enabled"));
    rp_doc_destroy(&doc);
    rp_testservice_destroy(&service);
}
