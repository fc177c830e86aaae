/*  rules.h — the follow-up rules in the reminders store (docs/reminders.md
    § Follow-up rules): rule.* applied, conditions evaluated on the
    journal's state, follow-ups and escalations kept by apply.

    Databases (RULES_DBNAMES):
      rules           rule id → the rule (rule.h)
      rule_pairs      <rule> NUL <record> → the pair's state {kind, onset,
                      open, since, opened, escalate, escalated, owner,
                      team}: a scheduled onset, and/or the open follow-up
      rule_due        the rules' agenda, <ms 8 bytes BE> <'m' | 'e'> <rule>
                      NUL <record> → "": 'm' the time a pair's condition
                      comes to hold (the writer's sweep appends
                      rule.matched), 'e' the time an open follow-up is to
                      be escalated (rule.escalated)
      rule_escalated  an escalation's key "<follow-up id>/<opened ms>" →
                      the seq that recorded it (once per follow-up)

    A pair is evaluated at a time now — the event's time, or for
    rule.matched the later of it and data.at — against the records in the
    store (customers for idle and new_lead, deals for stage_stale, closing
    and overdue): the condition applies or not (archived, filtered out, a
    closed deal, no owner: not), and when it applies it holds from its
    onset on. Holding at now with no follow-up open: one opens
    (reminders_apply_derive, id rules_follow_up_id 'f'), due at the onset,
    for the record's owner and team, and when the rule escalates an 'e'
    entry is put at now + after. Applying but not yet holding: an 'm' entry
    at the onset. Not holding with a follow-up open: it is closed (done),
    with the manager's escalation reminder if there is one. A follow-up
    that stays open follows the record's owner and team.

    Evaluated: every record of a rule's kind on rule.created and
    rule.updated (bounded by the number of customers or deals: rules
    change rarely), every pair of a rule on rule.deleted and when it is
    deactivated, the records a foreign event touches after it is applied
    (rules_apply_follow), and a pair on rule.matched.
*/
#ifndef REMINDERS_RULES_H
#define REMINDERS_RULES_H

#include "rule.h"

#include <rapport/envelope.h>
#include <rapport/store.h>

#define RULES_DBNAMES "rules", "rule_pairs", "rule_due", "rule_escalated"
#define RULES_KEY_MAX 160 //  an escalation's key

//  Apply a rule.* event (rp_apply_run's table): 0 or an LMDB error.
int rules_apply_event(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  After a foreign event (customer.*, opportunity.*, lead.captured,
//  activity.logged, orders) has been applied: evaluate the pairs of the
//  records it touched. 0 or an LMDB error.
int rules_apply_follow(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event);

//  The important dates' lead time: the active date rule's before for
//  team (a rule of that team first, else one of every team's). False
//  when there is none.
bool rules_date_lead(rp_store_t *store, MDB_txn *txn, const char *team, size_t team_len,
                     int64_t *seconds);

//  The derived reminder id of (rule, record) with prefix 'f' (the
//  follow-up) or 'e' (the manager's escalation): "<p>-<rule>-<record>",
//  or when that is longer than REMINDERS_MAX_ID "<p>-h<32 hex digits>"
//  of two hashes of both. Its length.
size_t rules_follow_up_id(char prefix, const char *rule, size_t rule_len, const char *record,
                          size_t record_len, char *out);

//  The rules' agenda in time order, entries at or before until_ms, at
//  most max: fn per entry (false stops). *count: those given to fn.
typedef bool(rules_due_fn)(void *arg, int64_t at_ms, char what, const char *rule, size_t rule_len,
                           const char *record, size_t record_len);
int rules_apply_due(rp_store_t *store, MDB_txn *txn, int64_t until_ms, size_t max, rules_due_fn *fn,
                    void *arg, size_t *count);

//  An open follow-up's escalation, for the sweep's rule.escalated.
typedef struct {
    char follow_up[65];
    char key[RULES_KEY_MAX];
    char owner[101];
    char manager[101]; //  "" when the owner has none
} rules_escalation_t;

//  0, MDB_NOTFOUND (no open follow-up), or an LMDB error.
int rules_apply_escalation(rp_store_t *store, MDB_txn *txn, const char *rule, size_t rule_len,
                           const char *record, size_t record_len, rules_escalation_t *out);

void rules_apply_test(void);

#endif
