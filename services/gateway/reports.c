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
    const char *limit = json_string_value(json_object_get(query, "limit"));
    if (limit) {
        size_t len = strlen(limit);
        long n = len && len <= 3 && strspn(limit, "0123456789") == len ? atol(limit) : 0;
        if (n < 1 || n > 200) {
            json_decref(query);
            s_invalid(ex_p, "limit", "limit must be 1..200");
            return;
        }
        json_object_set_new(query, "limit", json_integer(n));
    }
    gw_forward_json(forwarder, ex_p, "customers", "customers.duplicates", NULL, query, NULL, NULL);
}
