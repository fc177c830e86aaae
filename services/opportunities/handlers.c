/*  handlers.c — the opportunities op table and the service's own state. */
#include "handlers.h"
#include "deals.h"
#include "import.h"
#include "pipelines.h"
#include "query.h"
#include "report.h"

#include <assert.h>
#include <stdlib.h>

struct _opportunities_handlers_t {
    rp_writes_t *writes;   //  writes in flight
    pipelines_seed_t seed; //  the default pipeline's append
};

opportunities_handlers_t *opportunities_handlers_new(void)
{
    opportunities_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = rp_writes_new();
    return self;
}

void opportunities_handlers_destroy(opportunities_handlers_t **self_p)
{
    opportunities_handlers_t *self = *self_p;
    if (!self)
        return;
    rp_writes_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

rp_writes_t *opportunities_handlers_writes(void *self)
{
    return ((opportunities_handlers_t *)self)->writes;
}

int opportunities_handlers_init(rp_config_t *config, void **arg)
{
    (void)config;
    *arg = opportunities_handlers_new();
    return 0;
}

void opportunities_handlers_fini(void *arg)
{
    opportunities_handlers_t *self = (opportunities_handlers_t *)arg;
    opportunities_handlers_destroy(&self);
}

void opportunities_handlers_tick(void *arg, rp_service_t *service)
{
    opportunities_handlers_t *self = (opportunities_handlers_t *)arg;
    pipelines_seed(&self->seed, service);
}

const rp_service_op_t opportunities_handlers_ops[] = {
    //  opportunities.list lives in query.c (filters, sort orders, cursors).
    {"opportunities.list", RP_OP_READ, deals_query_list},
    {"opportunities.get", RP_OP_READ, deals_get},
    {"opportunities.history", RP_OP_READ, deals_history},
    {"opportunities.create", RP_OP_WRITE, deals_create},
    {"opportunities.update", RP_OP_WRITE, deals_update},
    {"opportunities.stage", RP_OP_WRITE, deals_stage},
    {"opportunities.archive", RP_OP_WRITE, deals_archive},
    {"opportunities.restore", RP_OP_WRITE, deals_restore},
    {"opportunities.import", RP_OP_WRITE, deals_import_request},
    //  Pipelines and their lost reasons: pipelines.c.
    {"opportunities.pipelines.list", RP_OP_READ, pipelines_list},
    {"opportunities.pipelines.get", RP_OP_READ, pipelines_get},
    {"opportunities.lost_reasons.get", RP_OP_READ, pipelines_reasons_get},
    {"opportunities.pipelines.create", RP_OP_WRITE, pipelines_create},
    {"opportunities.pipelines.update", RP_OP_WRITE, pipelines_update},
    {"opportunities.lost_reasons.set", RP_OP_WRITE, pipelines_reasons_set},
    //  The reports live in report.c (docs/opportunities.md § Reports).
    {"opportunities.report.funnel", RP_OP_READ, report_funnel},
    {"opportunities.report.forecast", RP_OP_READ, report_forecast},
    {"opportunities.report.horizon", RP_OP_READ, report_horizon},
    {"opportunities.report.win_loss", RP_OP_READ, report_win_loss},
    {"opportunities.report.stage_durations", RP_OP_READ, report_stage_durations},
    {"opportunities.report.stale", RP_OP_READ, report_stale},
    {NULL},
};

void opportunities_handlers_test(void) {}
