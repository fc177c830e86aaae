/*  rule.h — a follow-up rule (docs/reminders.md § Follow-up rules): its
    field table over rp_record (rapport/record.h), the check of its
    condition, action and escalation, and the rule read for evaluation.

    Stored in the `rules` database as one MessagePack map with every field
    below in table order (absent values nil):
      name        1..100 bytes of text, required
      team        1..100 bytes, nil: the rule is every team's
      active      bool (stored true when not given)
      condition   {type, …}: idle {duration, grade?, tier?, team?, tags?},
                  new_lead {within}, stage_stale {duration?},
                  closing {within}, overdue {}, date {before}
      action      nil, or {subject? (1..200 bytes), remind_before? ([≤ 5
                  durations])}
      escalation  nil, or {after}
    Durations are ISO 8601 (rapport/duration.h): duration, within and after
    at least a second; before may be PT0S.

    The same check serves the writer (client input: 422 invalid naming
    each field, "condition.duration") and apply (event data: 422
    bad_event), so no event stores a rule that does not check.
*/
#ifndef REMINDERS_RULE_H
#define REMINDERS_RULE_H

#include <rapport/record.h>
#include <rapport/store.h>

typedef enum {
    RULE_ID,
    RULE_NAME,
    RULE_TEAM,
    RULE_ACTIVE,
    RULE_CONDITION,
    RULE_ACTION,
    RULE_ESCALATION,
    RULE_CREATED_BY, //  read-only: the actor's user
    RULE_VERSION,
    RULE_CREATED_AT,
    RULE_UPDATED_AT,
    RULE_FIELDS
} rule_field_t;

typedef enum {
    RULE_IDLE,
    RULE_NEW_LEAD,
    RULE_STAGE_STALE,
    RULE_CLOSING,
    RULE_OVERDUE,
    RULE_DATE,
    RULE_KINDS
} rule_kind_t;

#define RULE_MAX_ERRORS  32
#define RULE_MAX_OFFSETS 5 //  action.remind_before's durations
#define RULE_MAX_TAGS    20

//  An empty rule record.
void rule_init(rp_record_t *self);

//  The condition's type name ("idle").
const char *rule_kind_name(rule_kind_t kind);

//  Check condition, action and escalation of whole (the rule as it would
//  be stored), adding errors from count on (at most max in all). The
//  number of errors.
int rule_check(const rp_record_t *whole, rp_field_error_t *errors, int count, int max);

//  A stored rule, read for evaluation: its strings and maps borrow from
//  a private copy of the stored bytes, valid until rule_release.
typedef struct {
    rp_doc_t *doc;
    void *bytes;
    rp_record_t r;
    rule_kind_t kind;
    bool active;
    int64_t duration_s; //  idle duration, new_lead/closing within, stage_stale duration,
                        //  date before; 0: none (stage_stale: the stage's rot_days)
    const msgpack_object *grade, *tier, *team, *tags; //  the condition's filters, or NULL
    int64_t escalate_s;                               //  0: no escalation
} rule_t;

//  Read the stored value into self: 0, or -1 for one that does not decode
//  or check. Release it in every case.
int rule_read(rule_t *self, const void *bytes, size_t size);
void rule_release(rule_t *self);

//  Load rule id from the `rules` database: 0, MDB_NOTFOUND, -1 as above.
int rule_load(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, rule_t *self);

//  The rule's team (false: every team's).
bool rule_team(const rule_t *self, const char **team, size_t *len);

void rule_test(void);

#endif
