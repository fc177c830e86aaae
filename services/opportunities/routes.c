/*  routes.c — the opportunities service's HTTP routes, as rows for the
    gateway (libshared route.h). The ops they name: docs/opportunities.md;
    the HTTP reference: docs/api.md. Values are checked by the service.
*/
#include <rapport/route.h>

#define OPPORTUNITIES "/api/v1/opportunities"
#define PIPELINES     "/api/v1/pipelines"

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

//  Pages (pipelines, a deal's history); If-Match → args.version (checked in the
//  same step as the change: 412 version_mismatch).
static const rp_route_arg_t s_page_query[] = {RP_INT("limit"), RP_TEXT("cursor"), RP_END};
static const rp_route_arg_t s_if_match[] = {RP_IF_MATCH("version"), RP_END};

static const rp_route_t s_rows[] = {
    {.method = "GET",
     .path = OPPORTUNITIES,
     .service = "opportunities",
     .op = "opportunities.list",
     .query = s_list_query},
    //  Streamed by the gateway's import.c and export.c (csvdefs.c: the columns).
    {.method = "POST",
     .path = OPPORTUNITIES "/import",
     .service = "opportunities",
     .op = "opportunities.import",
     .write = true,
     .special = "import"},
    {.method = "GET",
     .path = OPPORTUNITIES "/export",
     .service = "opportunities",
     .op = "opportunities.list",
     .special = "export",
     .query = s_export_query},
    {.method = "POST",
     .path = OPPORTUNITIES,
     .service = "opportunities",
     .op = "opportunities.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = OPPORTUNITIES "/{id}"},
    {.method = "GET",
     .path = OPPORTUNITIES "/{id}",
     .service = "opportunities",
     .op = "opportunities.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PATCH",
     .path = OPPORTUNITIES "/{id}",
     .service = "opportunities",
     .op = "opportunities.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "DELETE",
     .path = OPPORTUNITIES "/{id}",
     .service = "opportunities",
     .op = "opportunities.archive",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = OPPORTUNITIES "/{id}/restore",
     .service = "opportunities",
     .op = "opportunities.restore",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = OPPORTUNITIES "/{id}/stage",
     .service = "opportunities",
     .op = "opportunities.stage",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "GET",
     .path = OPPORTUNITIES "/{id}/history",
     .service = "opportunities",
     .op = "opportunities.history",
     .query = s_page_query},
    {.method = "GET",
     .path = "/api/v1/customers/{id}/opportunities",
     .service = "opportunities",
     .op = "opportunities.list",
     .params = s_customer_params,
     .query = s_customer_query},

    //  Pipelines (pipelines.c): written by admins, read by everyone who
    //  reads deals (a team's pipeline by its team).
    {.method = "GET",
     .path = PIPELINES,
     .service = "opportunities",
     .op = "opportunities.pipelines.list",
     .query = s_page_query},
    {.method = "POST",
     .path = PIPELINES,
     .service = "opportunities",
     .op = "opportunities.pipelines.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = PIPELINES "/{id}"},
    {.method = "GET",
     .path = PIPELINES "/{id}",
     .service = "opportunities",
     .op = "opportunities.pipelines.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PATCH",
     .path = PIPELINES "/{id}",
     .service = "opportunities",
     .op = "opportunities.pipelines.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    //  {id, lost_reasons, version}: a record with the pipeline's ETag.
    {.method = "GET",
     .path = PIPELINES "/{id}/lost-reasons",
     .service = "opportunities",
     .op = "opportunities.lost_reasons.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PUT",
     .path = PIPELINES "/{id}/lost-reasons",
     .service = "opportunities",
     .op = "opportunities.lost_reasons.set",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    REPORT("funnel", "funnel"),
    REPORT("forecast", "forecast"),
    REPORT("horizon", "horizon"),
    REPORT("win-loss", "win_loss"),
    REPORT("stage-durations", "stage_durations"),
    REPORT("stale", "stale"),
};

RP_ROUTES(opportunities, s_rows);
