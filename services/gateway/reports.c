/*  reports.c — see reports.h. */
#include "reports.h"
#include "problem.h"
#include "request.h"

#include <stdlib.h>
#include <string.h>

static void s_invalid(gw_exchange_t **ex_p, const char *field, const char *message)
{
    gw_problem_send_errors(
        ex_p, 422, "invalid", "some query parameters are not valid",
        json_pack("[{s:s, s:s, s:s}]", "field", field, "code", "invalid", "message", message));
}

void gw_reports_composition(gw_forwarder_t *forwarder, gw_exchange_t **ex_p)
{
    static const char *const allowed[] = {"by", NULL};
    static const char *const bys[] = {"grade", "tier", "region", "industry", "owner", NULL};
    json_t *query = gw_request_query(ex_p, allowed);
    if (!query)
        return;
    const char *by = json_string_value(json_object_get(query, "by"));
    bool ok = false;
    for (size_t i = 0; by && bys[i]; i++)
        ok = ok || strcmp(by, bys[i]) == 0;
    if (!ok) {
        json_decref(query);
        s_invalid(ex_p, "by", "by is one of grade, tier, region, industry, owner");
        return;
    }
    gw_forward_json(forwarder, ex_p, "customers", "customers.composition", NULL, query, NULL, NULL);
}

void gw_reports_duplicates(gw_forwarder_t *forwarder, gw_exchange_t **ex_p)
{
    static const char *const allowed[] = {"limit", "cursor", NULL};
    json_t *query = gw_request_query(ex_p, allowed);
    if (!query)
        return;
    if (!gw_request_limit(ex_p, query))
        return;
    gw_forward_json(forwarder, ex_p, "customers", "customers.duplicates", NULL, query, NULL, NULL);
}
