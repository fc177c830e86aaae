/*  ops.h — the reminder ops (docs/reminders.md § Ops): get, create,
    update and delete, scoped by the assignee: a reminder belongs to its
    assignee (and the team it keeps, the assignee's given or the
    creator's); sales reach their own, managers their team's, admin all,
    readonly their team's reads; a reminder out of reach is 404.

    Writes (on "reminders.writer") check the caller's fields — the record
    rules (reminder.h), time_zone a tz database name (default
    reminders/time_zone), the series (due_at, rrule, exdates) one
    rp_recurrence takes, the assignee and team within what the caller may
    assign (default: the caller, the caller's team) — append one
    reminder.* event with the request's idem and answer the outcome apply
    recorded: the reminder as stored ({id, deleted: true} for a delete),
    or the refusal.
*/
#ifndef REMINDERS_OPS_H
#define REMINDERS_OPS_H

#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/service.h>

//  May actor read (write false) or change the reminder?
bool reminders_ops_allowed(const rp_scope_t *actor, const rp_record_t *reminder, bool write);

//  Ops (rp_service_op_fn; arg: the reminders_handlers_t).
void reminders_ops_get(void *arg, rp_service_t *service, rp_origin_t *origin,
                       const rp_request_t *req);
void reminders_ops_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
void reminders_ops_update(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
void reminders_ops_delete(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
//  {id, version?, until | for}: the next firing moves to until (or now +
//  for), the due date does not (reminder.snoozed; 409 not_active when done
//  or cancelled).
void reminders_ops_snooze(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
//  {id, version?, occurrence?, all?}: a one-off, or a series with all,
//  done; occurrence (RFC 3339) of a series: it and those before it
//  (reminder.done).
//  reminders.cancel {id, version?, reason?} → reminder.cancelled: the
//  reminder stays, with no firing any more (409 not_active when closed).
void reminders_ops_cancel(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req);
void reminders_ops_done(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req);

void reminders_ops_test(void);

#endif
