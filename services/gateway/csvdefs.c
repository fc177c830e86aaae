/*  csvdefs.c — see csvdefs.h. */
#include "csvdefs.h"
#include "route.h"

#include <string.h>

static const gw_column_t s_customer_columns[] = {
    {"code", GW_COLUMN_TEXT},   {"name", GW_COLUMN_TEXT},     {"short_name", GW_COLUMN_TEXT},
    {"type", GW_COLUMN_TEXT},   {"grade", GW_COLUMN_TEXT},    {"tier", GW_COLUMN_TEXT},
    {"nature", GW_COLUMN_TEXT}, {"owner", GW_COLUMN_TEXT},    {"team", GW_COLUMN_TEXT},
    {"phone", GW_COLUMN_TEXT},  {"mobile", GW_COLUMN_TEXT},   {"fax", GW_COLUMN_TEXT},
    {"email", GW_COLUMN_TEXT},  {"website", GW_COLUMN_TEXT},  {"country", GW_COLUMN_TEXT},
    {"region", GW_COLUMN_TEXT}, {"address", GW_COLUMN_TEXT},  {"postcode", GW_COLUMN_TEXT},
    {"tax_id", GW_COLUMN_TEXT}, {"industry", GW_COLUMN_TEXT}, {"registered_on", GW_COLUMN_TEXT},
    {"tags", GW_COLUMN_LIST},   {"custom", GW_COLUMN_OBJECT}, {"credit_limit", GW_COLUMN_NUMBER},
    {NULL, GW_COLUMN_TEXT}};

const gw_columns_t gw_customer_columns = {"customer", s_customer_columns};

const gw_import_def_t gw_customers_import = {
    .path = "/api/v1/customers/import",
    .service = "customers.writer",
    .op = "customers.import",
    .columns = &gw_customer_columns,
};

//  The list's filters, as the export row names them (services/customers/routes.c).
static json_t *s_customers_query(gw_exchange_t **ex_p)
{
    return gw_routes_query(ex_p, gw_exchange_row(*ex_p));
}

const gw_export_def_t gw_customers_export = {
    .service = "customers",
    .op = "customers.list",
    .columns = &gw_customer_columns,
    .filename = "customers.csv",
    .query = s_customers_query,
};

//  Opportunities: the writable deal fields of docs/opportunities.md, in
//  record order (products, a list of maps, has no CSV column).
static const gw_column_t s_opportunity_columns[] = {
    {"customer_id", GW_COLUMN_TEXT},   {"title", GW_COLUMN_TEXT},
    {"pipeline_id", GW_COLUMN_TEXT},   {"stage", GW_COLUMN_TEXT},
    {"amount", GW_COLUMN_NUMBER},      {"currency", GW_COLUMN_TEXT},
    {"probability", GW_COLUMN_NUMBER}, {"expected_close", GW_COLUMN_TEXT},
    {"budget", GW_COLUMN_NUMBER},      {"quote_no", GW_COLUMN_TEXT},
    {"competitors", GW_COLUMN_LIST},   {"source", GW_COLUMN_TEXT},
    {"owner", GW_COLUMN_TEXT},         {"team", GW_COLUMN_TEXT},
    {"lost_reason", GW_COLUMN_TEXT},   {"tags", GW_COLUMN_LIST},
    {"custom", GW_COLUMN_OBJECT},      {NULL, GW_COLUMN_TEXT}};

const gw_columns_t gw_opportunity_columns = {"opportunity", s_opportunity_columns};

const gw_export_def_t gw_opportunities_export = {
    .service = "opportunities",
    .op = "opportunities.list",
    .columns = &gw_opportunity_columns,
    .filename = "opportunities.csv",
    .query = s_customers_query, //  the export row's query, as for customers
};

const gw_import_def_t gw_opportunities_import = {
    .path = "/api/v1/opportunities/import",
    .service = "opportunities.writer",
    .op = "opportunities.import",
    .columns = &gw_opportunity_columns,
    .create_only = true,
};

const gw_import_def_t *const gw_csvdefs_imports[] = {&gw_customers_import, &gw_opportunities_import,
                                                     NULL};

const gw_export_def_t *gw_csvdefs_export(const char *op)
{
    static const gw_export_def_t *const defs[] = {&gw_customers_export, &gw_opportunities_export,
                                                  NULL};
    for (size_t i = 0; op && defs[i]; i++)
        if (strcmp(defs[i]->op, op) == 0)
            return defs[i];
    return NULL;
}
