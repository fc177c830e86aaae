/*  report.h — customers.composition: how the caller's customers split by
    one field (docs/customers.md "Reports").

    args {by: grade | tier | region | industry | owner} →
    data {by, total, groups: [{key, count, share}]}: every non-archived
    record the actor may see is counted once, under its value (key nil when
    the field is empty); groups come largest first (ties by key), share is
    count / total, so the shares add up to 1 (0 groups when total is 0).

    One pass over the records in one read snapshot: O(N) time, memory
    O(distinct values). Fine for 1e5–1e6 records on demand; a cached or
    incremental count would be the next step if it is called often.
*/
#ifndef CUSTOMERS_REPORT_H
#define CUSTOMERS_REPORT_H

#include <rapport/service.h>

//  The customers.composition op (rp_service_op_fn; arg unused).
void report_composition(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req);

#endif
