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

#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/service.h>
#include <rapport/store.h>

//  Check a client's deal fields (args of create or update, or an import
//  row's record) into deal, which the caller has initialized: field rules,
//  and owner / team within what actor may assign; a create's owner and
//  team default to the actor's. The number of errors written (< max).
int deals_check(const rp_scope_t *actor, const msgpack_object *fields, bool create,
                rp_record_t *deal, rp_field_error_t *errors, int max);

//  In a read transaction: is the deal's customer held, unarchived and
//  within the actor's read reach?
bool deals_customer_visible(rp_store_t *store, MDB_txn *txn, const rp_scope_t *actor,
                            const rp_record_t *deal);

//  What people read for a refusal apply recorded (rp_write_message_fn).
const char *deals_refusal_message(int status, const char *code, size_t len);

//  Ops (rp_service_op_fn; arg: the opportunities_handlers_t).
void deals_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_history(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_create(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_update(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_stage(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_archive(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);
void deals_restore(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

#endif
