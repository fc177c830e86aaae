/*  rules_ops.h — the follow-up rules' ops (docs/reminders.md § Follow-up
    rules; HTTP: docs/api.md § Rules). Admins reach every rule; a manager
    the rules of their team (a manager's rule is their team's: team forced,
    another one is 422 out_of_scope); everyone else 403.

    Reads (on "reminders", any instance):
      reminders.rules.list  {}    → {items: [rule…], next_cursor: null}: the
                                    rules in reach, in id order
      reminders.rules.get   {id}  → the rule (404 when out of reach)
    Writes (on "reminders.writer"): the fields checked (rule.h: 422 naming
    each field), one rule.* event appended with the request's idem, the
    outcome apply recorded answered (the rule as stored):
      reminders.rules.create  {name, team?, active?, condition, action?,
                              escalation?}                 rule.created
      reminders.rules.update  {id, version?, field…}       rule.updated
      reminders.rules.delete  {id, version?}               rule.deleted
                              → {id, deleted: true}
    version (If-Match) not the stored one is 412 version_mismatch.
*/
#ifndef REMINDERS_RULES_OPS_H
#define REMINDERS_RULES_OPS_H

#include <rapport/service.h>

rp_service_op_fn reminders_rules_list;
rp_service_op_fn reminders_rules_get;
rp_service_op_fn reminders_rules_create;
rp_service_op_fn reminders_rules_update;
rp_service_op_fn reminders_rules_delete;

void reminders_rules_ops_test(void);

#endif
