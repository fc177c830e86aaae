/*  reports.h — read-only views over the customers, forwarded to any
    customers instance (docs/api.md):

        GET /api/v1/reports/customers/composition?by=grade|tier|region|industry|owner
            → customers.composition: {by, total, groups: [{key, count, share}]}
        GET /api/v1/customers/duplicates?limit=&cursor=
            → customers.duplicates: {items: [{a, b, reasons}], next_cursor}
*/
#ifndef GW_REPORTS_H
#define GW_REPORTS_H

#include "forward.h"

void gw_reports_composition(gw_forwarder_t *forwarder, gw_exchange_t **ex_p);
void gw_reports_duplicates(gw_forwarder_t *forwarder, gw_exchange_t **ex_p);

#endif
