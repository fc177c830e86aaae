/*  deals.h — the deal ops (docs/opportunities.md § Ops): get, create,
    update, stage, archive, restore and history, with the scoping of
    customers (sales their own, managers their team's, admin all, readonly
    their team's reads, integrators none; a deal out of reach is 404).

    Writes (on "opportunities.writer") check the caller's fields, append
    one opportunity.* event with the request's idem and answer the
    outcome apply recorded: the deal as stored, or the refusal ({code,
    message}; apply decides unknown customers, pipelines, stages and lost
    reasons, so a retry gets the first answer). Creating a deal needs its
    customer within the caller's read reach (else 422 unknown_customer,
    as if it did not exist); the owner defaults to the caller, the team
    to the caller's.
*/
#ifndef OPPORTUNITIES_DEALS_H
#define OPPORTUNITIES_DEALS_H

#include <rapport/service.h>

//  Ops (rp_service_op_fn; arg: the opportunities_handlers_t).
void deals_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_history(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_create(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_update(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_stage(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_archive(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_restore(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

void deals_test(void);

#endif
