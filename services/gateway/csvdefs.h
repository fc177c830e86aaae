/*  csvdefs.h — the resources that import and export CSV: for each, its
    column table (columns.h), the service and op an import's batches go to
    (import.h), and the service and list op an export pages through
    (export.h).

    Adding CSV to another resource is one more table and two definitions
    here, gw_importer_add for the import's path, and a route calling
    gw_export with the export's definition.
*/
#ifndef GW_CSVDEFS_H
#define GW_CSVDEFS_H

#include "export.h"
#include "import.h"

//  Customers: the writable fields of docs/customers.md, in record order.
extern const gw_columns_t gw_customer_columns;

//  POST /api/v1/customers/import → customers.import on customers.writer.
extern const gw_import_def_t gw_customers_import;

//  GET /api/v1/customers/export → customers.list on customers, with the
//  the export row's query (services/customers/routes.c), as customers.csv.
extern const gw_export_def_t gw_customers_export;

//  Opportunities: the writable deal fields of docs/opportunities.md.
extern const gw_columns_t gw_opportunity_columns;

//  GET /api/v1/opportunities/export → opportunities.list on opportunities,
//  with the export row's query (services/opportunities/routes.c).
extern const gw_export_def_t gw_opportunities_export;

//  POST /api/v1/opportunities/import → opportunities.import on
//  opportunities.writer (mode create only: services/opportunities/import.h).
extern const gw_import_def_t gw_opportunities_import;

//  Every import, NULL-terminated (the gateway streams each one's path).
extern const gw_import_def_t *const gw_csvdefs_imports[];

//  The export definition whose list op is op (an export row's), or NULL.
const gw_export_def_t *gw_csvdefs_export(const char *op);

#endif
