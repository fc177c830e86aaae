/*  routes.c — the customers service's HTTP routes, as rows for the gateway
    (libshared route.h). The ops they name: docs/customers.md; the HTTP
    reference: docs/api.md. Values are checked by the service, not here:
    these rows only say where each part of a request goes.
*/
#include <rapport/route.h>

#define CUSTOMERS "/api/v1/customers"

//  GET /api/v1/customers, and the export (the same filters, no paging).
#define LIST_FILTERS                                                                               \
    RP_TEXT("q"), RP_TEXT("grade"), RP_TEXT("tier"), RP_TEXT("owner"), RP_TEXT("team"),            \
        RP_TEXT("region"), RP_TEXT("industry"), RP_TEXT("tag"), RP_TEXT("sort"),                   \
        RP_TEXT("created_after"), RP_TEXT("created_before"), RP_TEXT("last_contacted_before"),     \
        RP_BOOL("archived")
static const rp_route_arg_t s_list_query[] = {LIST_FILTERS, RP_INT("limit"), RP_TEXT("cursor"),
                                              RP_END};
static const rp_route_arg_t s_export_query[] = {LIST_FILTERS, RP_END};
static const rp_route_arg_t s_page_query[] = {RP_INT("limit"), RP_TEXT("cursor"), RP_END};
//  The reports (report.h): money in one year and currency.
static const rp_route_arg_t s_composition_query[] = {RP_TEXT("by"), RP_TEXT("measure"),
                                                     RP_INT("year"), RP_TEXT("currency"), RP_END};
static const rp_route_arg_t s_top_query[] = {RP_TEXT("by"), RP_INT("year"), RP_TEXT("currency"),
                                             RP_INT("limit"), RP_END};
static const rp_route_arg_t s_products_query[] = {RP_INT("year"), RP_TEXT("currency"),
                                                  RP_INT("limit"), RP_END};

//  If-Match → args.version: the service checks it in the same step as the
//  change (412 version_mismatch).
static const rp_route_arg_t s_if_match[] = {RP_IF_MATCH("version"), RP_END};
//  Only the header may allow a likely duplicate: a body field is dropped.
static const rp_route_arg_t s_allow_duplicate[] = {
    RP_BOOL_AS("X-Rapport-Allow-Duplicate", "allow_duplicate"), RP_END};

//  Events that change customers without naming them by data.id: orders and
//  payments (stats, grade, tier), logged activities (last_contacted_at),
//  a month's regrade.
static const char *const s_stats_events[] = {"order.", "payment.", "activity.", "customer.regraded",
                                             NULL};

static const rp_route_t s_rows[] = {
    {.method = "GET",
     .path = CUSTOMERS,
     .service = "customers",
     .op = "customers.list",
     .query = s_list_query},
    {.method = "POST",
     .path = CUSTOMERS,
     .service = "customers",
     .op = "customers.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_allow_duplicate,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = CUSTOMERS "/{id}"},
    //  Streamed both ways: the gateway's import.c and export.c.
    {.method = "POST",
     .path = CUSTOMERS "/import",
     .service = "customers",
     .op = "customers.import",
     .write = true,
     .special = "import"},
    {.method = "GET",
     .path = CUSTOMERS "/export",
     .service = "customers",
     .op = "customers.list",
     .special = "export",
     .query = s_export_query},
    {.method = "GET",
     .path = CUSTOMERS "/duplicates",
     .service = "customers",
     .op = "customers.duplicates",
     .query = s_page_query},
    {.method = "GET",
     .path = "/api/v1/reports/customers/composition",
     .service = "customers",
     .op = "customers.composition",
     .query = s_composition_query},
    {.method = "GET",
     .path = "/api/v1/reports/customers/top",
     .service = "customers",
     .op = "customers.report.top",
     .query = s_top_query},
    {.method = "GET",
     .path = "/api/v1/reports/customers/products",
     .service = "customers",
     .op = "customers.report.products",
     .query = s_products_query},

    //  One customer. A GET is kept by the gateway until a customer.* event
    //  names it (data.id, or data.from of a merge), or an order or payment
    //  may have changed it.
    {.method = "GET",
     .path = CUSTOMERS "/{id}",
     .service = "customers",
     .op = "customers.get",
     .answer = RP_ANSWER_RECORD,
     .events = "customer.",
     .also = s_stats_events,
     .flags = RP_ROUTE_CACHED},
    {.method = "PATCH",
     .path = CUSTOMERS "/{id}",
     .service = "customers",
     .op = "customers.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "DELETE",
     .path = CUSTOMERS "/{id}",
     .service = "customers",
     .op = "customers.archive",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = CUSTOMERS "/{id}/restore",
     .service = "customers",
     .op = "customers.restore",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},

    //  Under a customer: the path names the customer (and the contact).
    {.method = "GET",
     .path = CUSTOMERS "/{id}/contacts",
     .service = "customers",
     .op = "customers.contacts.list",
     .query = s_page_query},
    {.method = "POST",
     .path = CUSTOMERS "/{id}/contacts",
     .service = "customers",
     .op = "customers.contacts.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = CUSTOMERS "/{customer_id}/contacts/{id}"},
    {.method = "GET",
     .path = CUSTOMERS "/{id}/contacts/{contact_id}",
     .service = "customers",
     .op = "customers.contacts.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PATCH",
     .path = CUSTOMERS "/{id}/contacts/{contact_id}",
     .service = "customers",
     .op = "customers.contacts.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "DELETE",
     .path = CUSTOMERS "/{id}/contacts/{contact_id}",
     .service = "customers",
     .op = "customers.contacts.delete",
     .write = true,
     .headers = s_if_match,
     .idem = true},
    {.method = "GET",
     .path = CUSTOMERS "/{id}/activities",
     .service = "customers",
     .op = "customers.activities.list",
     .query = s_page_query},
    {.method = "POST",
     .path = CUSTOMERS "/{id}/activities",
     .service = "customers",
     .op = "customers.activities.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .status = 201},
    {.method = "GET",
     .path = CUSTOMERS "/{id}/timeline",
     .service = "customers",
     .op = "customers.timeline",
     .query = s_page_query},
    {.method = "POST",
     .path = CUSTOMERS "/{id}/assign",
     .service = "customers",
     .op = "customers.assign",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = CUSTOMERS "/{id}/merge",
     .service = "customers",
     .op = "customers.merge",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD},

    //  Integrators' orders: a customer's, and those that named nobody
    //  (admins: the service checks the role).
    {.method = "GET",
     .path = CUSTOMERS "/{id}/orders",
     .service = "customers",
     .op = "customers.orders",
     .query = s_page_query},
    {.method = "GET",
     .path = "/api/v1/events/unmatched",
     .service = "customers",
     .op = "customers.unmatched.list",
     .query = s_page_query},
    {.method = "POST",
     .path = "/api/v1/events/unmatched/{id}/match",
     .service = "customers",
     .op = "customers.unmatched.match",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
};
RP_ROUTES(customers, s_rows);
