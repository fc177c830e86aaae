/*  report.h — the opportunities reports (docs/opportunities.md § Reports):
    funnel, forecast, horizon, win-loss, stage-durations, stale; read ops
    opportunities.report.<name>, one function each.

    Every report walks the deals with the list's own machinery (query.h:
    deals_query_parse for the filters, deals_query_walk over all deals,
    max_scan SIZE_MAX, with the caller's scope), so a report cell is the
    sum over the list with the same filters; with as_of=<date> the walk
    hands each deal as it stood at the end of that day (from its history;
    deals created later do not exist). Args of the reports themselves:
        pipeline_id   funnel, stage-durations: the pipeline (default
                      "default"; also the list's filter); 422
                      unknown_pipeline when it does not exist
        from, to      dates YYYY-MM-DD, both ends included: funnel on
                      created_at, forecast on expected_close (open deals)
                      and closed_at (won), win-loss on closed_at
        by            forecast: month (default) | owner | team;
                      win-loss: reason (default) | competitor | owner | source
    Any other key is the list's (or ignored, as the list ignores it).

    Money is summed per currency, in integer hundredths (rapport/money.h),
    never added across currencies: "amounts" is {currency: number}; a deal
    without an amount counts and adds nothing; one without a currency
    counts as CNY. Weighted sums are exact (rp_money_weighted_*).

    One read snapshot, one pass over the deals. The funnel reads a deal's
    history (one range scan) only when the deal has moved (stage_entered_at
    differs from created_at) and is not already at the last non-lost stage.
*/
#ifndef OPPORTUNITIES_REPORT_H
#define OPPORTUNITIES_REPORT_H

#include "query.h"

#include <rapport/scope.h>
#include <rapport/service.h>
#include <rapport/store.h>

#define REPORT_MAX_ERRORS (DEALS_QUERY_MAX_ERRORS + 4)

typedef enum {
    REPORT_FUNNEL,
    REPORT_FORECAST,
    REPORT_HORIZON,
    REPORT_WIN_LOSS,
    REPORT_STAGE_DURATIONS,
    REPORT_STALE,
    REPORT_KINDS
} report_kind_t;

//  Why a report was refused: 422 with errors (count > 0), or status with
//  code and message.
typedef struct {
    const char *code;
    const char *message;
    rp_field_error_t errors[REPORT_MAX_ERRORS];
    int count;
} report_error_t;

//  Compute report kind over store for args as scope sees it, at now (an
//  RFC 3339 UTC time, rp_time_now's form), and pack its data map into
//  out. 0, or the HTTP status of a refusal (error says why).
int report_build(report_kind_t kind, rp_store_t *store, const rp_scope_t *scope,
                 const msgpack_object *args, const char *now, rp_packer_t *out,
                 report_error_t *error);

//  The ops (rp_service_op_fn; arg unused): opportunities.report.funnel,
//  .forecast, .horizon, .win_loss, .stage_durations, .stale.
void report_funnel(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void report_forecast(void *arg, rp_service_t *service, rp_origin_t *origin,
                     const rp_request_t *req);
void report_horizon(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void report_win_loss(void *arg, rp_service_t *service, rp_origin_t *origin,
                     const rp_request_t *req);
void report_stage_durations(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req);
void report_stale(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

void report_test(void);

#endif
