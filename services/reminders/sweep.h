/*  sweep.h — the writer's sweep of the follow-up rules (docs/reminders.md
    § Follow-up rules): every reminders/sweep_every (default PT1S), the
    rules' agenda (rules.h, rule_due) up to now becomes events, in time
    order, up to SWEEP_BATCH at a time:
      'm' entries  rule.matched {id: rule, record, at}: the condition of a
                   pair came to hold at at (apply checks it again);
      'e' entries  rule.escalated {id: rule, record, follow_up, key, owner,
                   manager_id}: an open follow-up is past its escalation.
    The agenda is apply's, so a sweep is a scan of what is due, not of the
    customers or the deals. The batch's idempotency key is a hash of what
    it holds, so a successor that reads the same agenda appends nothing
    new; apply takes a pair once (rule.matched opens nothing twice, a
    second rule.escalated of a key is 409 already_escalated). Only the
    lease holder appends, and not again until its last batch is applied
    here.
*/
#ifndef REMINDERS_SWEEP_H
#define REMINDERS_SWEEP_H

#include <rapport/config.h>
#include <rapport/service.h>

#define SWEEP_BATCH    1000
#define SWEEP_EVERY_MS 1000

typedef struct {
    int64_t every_ms;
    int64_t last_ms; //  the last sweep's start
    bool in_flight;
    uint64_t seq; //  the last batch appended, until applied here
} reminders_sweep_t;

//  reminders/sweep_every (an ISO 8601 duration of at least a second) into
//  self: 0, or -1 (logged) when it is not one.
int reminders_sweep_configure(reminders_sweep_t *self, rp_config_t *config);

//  From the writer's tick, now its clock's (clock.h: the test clock's
//  when on): sweep when every_ms has passed since the last.
void reminders_sweep_tick(reminders_sweep_t *self, rp_service_t *service, int64_t now);

void reminders_sweep_test(void);

#endif
