/*  handlers.c — the reminders op table and the service's own state. */
#include "handlers.h"
#include "ops.h"
#include "query.h"
#include "reminder.h"

#include <rapport/log.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _reminders_handlers_t {
    rp_writes_t *writes;        //  writes in flight
    char zone[RP_ZONE_MAX + 1]; //  the default time zone
};

reminders_handlers_t *reminders_handlers_new(const char *zone)
{
    reminders_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = rp_writes_new();
    snprintf(self->zone, sizeof self->zone, "%s", zone);
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

const char *reminders_handlers_zone(void *self)
{
    return ((reminders_handlers_t *)self)->zone;
}

int reminders_handlers_init(rp_config_t *config, void **arg)
{
    const char *zone = rp_config_get(config, "reminders/time_zone", REMINDER_ZONE_DEFAULT);
    char canonical[RP_ZONE_MAX + 1];
    if (!rp_intl_zone(zone, strlen(zone), canonical)) {
        rp_error("reminders: reminders/time_zone \"%s\" is not a time zone", zone);
        return -1;
    }
    *arg = reminders_handlers_new(canonical);
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
    {"reminders.create", RP_OP_WRITE, reminders_ops_create},
    {"reminders.update", RP_OP_WRITE, reminders_ops_update},
    {"reminders.delete", RP_OP_WRITE, reminders_ops_delete},
    {"reminders.snooze", RP_OP_WRITE, reminders_ops_snooze},
    {"reminders.done", RP_OP_WRITE, reminders_ops_done},
    {NULL},
};

void reminders_handlers_test(void)
{
    reminders_handlers_t *self = reminders_handlers_new("Europe/Berlin");
    assert(strcmp(reminders_handlers_zone(self), "Europe/Berlin") == 0);
    assert(reminders_handlers_writes(self));
    reminders_handlers_destroy(&self);
    assert(!self);
}
