/*  routes.c — the opportunities service's HTTP routes, as rows for the
    gateway (libshared route.h). The ops they name: docs/opportunities.md;
    the HTTP reference: docs/api.md. Values are checked by the service.
*/
#include <rapport/route.h>

#define OPPORTUNITIES "/api/v1/opportunities"

//  GET /api/v1/opportunities and a customer's deals: the list's filters.
#define LIST_FILTERS                                                                               \
    RP_TEXT("q"), RP_TEXT("pipeline_id"), RP_TEXT("stage"), RP_TEXT("status"), RP_TEXT("owner"),   \
        RP_TEXT("team"), RP_TEXT("source"), RP_TEXT("lost_reason"), RP_TEXT("competitor"),         \
        RP_TEXT("tag"), RP_TEXT("expected_close_before"), RP_TEXT("expected_close_after"),         \
        RP_TEXT("closed_after"), RP_TEXT("closed_before"), RP_TEXT("created_after"),               \
        RP_TEXT("created_before"), RP_BOOL("stale"), RP_TEXT("amount_min"), RP_TEXT("amount_max"), \
        RP_BOOL("archived"), RP_TEXT("sort"), RP_TEXT("as_of")
static const rp_route_arg_t s_list_query[] = {RP_TEXT("customer_id"), LIST_FILTERS, RP_INT("limit"),
                                              RP_TEXT("cursor"), RP_END};
static const rp_route_arg_t s_customer_query[] = {LIST_FILTERS, RP_INT("limit"), RP_TEXT("cursor"),
                                                  RP_END};
//  The export: the same filters, no paging (export.c pages itself).
static const rp_route_arg_t s_export_query[] = {RP_TEXT("customer_id"), LIST_FILTERS, RP_END};
//  /customers/{id}/opportunities: the path's id is the list's customer_id.
static const rp_route_arg_t s_customer_params[] = {RP_AS("id", "customer_id"), RP_END};

//  The reports: the list's filters, and the reports' own from, to, by.
static const rp_route_arg_t s_report_query[] = {
    RP_TEXT("customer_id"), LIST_FILTERS, RP_TEXT("from"), RP_TEXT("to"), RP_TEXT("by"), RP_END};
#define REPORT(route, name)                                                                        \
    {                                                                                              \
        .method = "GET", .path = "/api/v1/reports/opportunities/" route,                           \
        .service = "opportunities", .op = "opportunities.report." name, .query = s_report_query    \
    }

static const rp_route_t s_rows[] = {
    {.method = "GET",
     .path = OPPORTUNITIES,
     .service = "opportunities",
     .op = "opportunities.list",
     .query = s_list_query},
    //  Streamed by the gateway's export.c (csvdefs.c: the columns).
    {.method = "GET",
     .path = OPPORTUNITIES "/export",
     .service = "opportunities",
     .op = "opportunities.list",
     .special = "export",
     .query = s_export_query},
    {.method = "GET",
     .path = "/api/v1/customers/{id}/opportunities",
     .service = "opportunities",
     .op = "opportunities.list",
     .params = s_customer_params,
     .query = s_customer_query},
    REPORT("funnel", "funnel"),
    REPORT("forecast", "forecast"),
    REPORT("horizon", "horizon"),
    REPORT("win-loss", "win_loss"),
    REPORT("stage-durations", "stage_durations"),
    REPORT("stale", "stale"),
};

RP_ROUTES(opportunities, s_rows);
