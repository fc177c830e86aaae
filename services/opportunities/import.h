/*  import.h — opportunities.import: one batch of a deals import file (the
    gateway's generic CSV / NDJSON import, services/gateway/import.h),
    checked and written as one journal append.

    On opportunities.writer. args (as for customers.import):
        {session, mode: "create", dry_run?, final?,
         rows: [{line, record: {field: value…}}]}       (0..DEALS_IMPORT_MAX rows)
    data: {created, updated: 0, skipped: 0, rejected: [{line, errors:
    [{field, code, message}]}]} for this batch; the gateway adds the
    batches up.

    Each row is checked as opportunities.create checks a request (the same
    field rules, owner and team defaulted to the caller and within what the
    caller may assign, the customer within the caller's read reach); the
    accepted rows become opportunity.created events in one append, and a
    row whose event apply refused (an unknown pipeline, stage or lost
    reason, a customer archived meanwhile) is reported rejected with the
    outcome's code. A deal has no natural key to match a row with, so the
    only mode is "create" ("upsert" is 422 invalid, field mode). dry_run
    does the request's checks and appends nothing.
*/
#ifndef OPPORTUNITIES_IMPORT_H
#define OPPORTUNITIES_IMPORT_H

#include <rapport/service.h>

#define DEALS_IMPORT_MAX 500

//  The op (rp_service_op_fn; arg: the opportunities handlers).
void deals_import_request(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);

#endif
