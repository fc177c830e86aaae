/*  clock.h — the writer's clock (docs/reminders.md § The clock): every
    tick, the agenda's entries that have come due become reminder.fired
    events, appended in fire order, up to CLOCK_BATCH at a time (a full
    batch, once applied here, is followed by the next at once). Only the
    lease holder appends (the journal fences anyone else); a firing is
    recorded once per key — apply refuses a second reminder.fired of a key
    (409 already_fired) — so a writer killed after appending, and its
    successor reading the same agenda, fire nothing twice.

    A new lease epoch (this instance just took the writes over) first asks
    the journal's head and fires nothing until it has applied it: the
    predecessor's last batch may still be on its way down the feed, and
    its firings are then out of the agenda, not appended a second time.

    A firing more than late_after (reminders/late_after, an ISO 8601
    duration, default PT60S) after its time — the writer was down, or
    busy — is marked late: true. A late entry of a reminder with
    skip_missed fires the reminder's last firing at or before now instead
    (late too, with skipped: how many it passes over); apply arms the
    reminder from the last firing recorded, so the ones passed over never
    fire.

    The test clock (reminders/test_clock, off by default; refused when
    production is on, RAPPORT_PRODUCTION=1): the op reminders.clock.set
    {now} moves this writer's clock forward to now, from where it keeps
    running with the real one. The offset is this process's, in memory:
    a restarted or successor writer runs on the real clock again.
*/
#ifndef REMINDERS_CLOCK_H
#define REMINDERS_CLOCK_H

#include <rapport/service.h>

#define CLOCK_BATCH         1000
#define CLOCK_LATE_DEFAULT  "PT60S"
#define CLOCK_LATE_MS       60000  //  CLOCK_LATE_DEFAULT
#define CLOCK_SKIP_WALK_MAX 100000 //  firings walked to find a reminder's last missed one

typedef struct {
    bool in_flight;    //  a batch appended, or the journal's head asked: no answer yet
    bool full;         //  the last batch was CLOCK_BATCH: more are likely due
    uint64_t epoch;    //  the lease epoch the clock last fired in
    uint64_t seq;      //  the last batch appended (the head, at a new epoch), until applied here
    bool test_clock;   //  reminders/test_clock: reminders.clock.set is served
    int64_t offset_ms; //  the test clock's lead over the real one
    int64_t late_ms;   //  reminders/late_after
} reminders_clock_t;

//  Read reminders/late_after, reminders/test_clock and production into
//  self: 0, or an exit status with the reason logged (a late_after that
//  is not a duration; the test clock in production).
int reminders_clock_init(reminders_clock_t *self, rp_config_t *config);

//  The writer's now (Unix ms): the real clock, plus the test clock's lead.
int64_t reminders_clock_now(const reminders_clock_t *self);

//  Move the test clock to now_ms: 0, or -1 if that is earlier than the
//  clock's now (it only moves forward), or if the test clock is off.
int reminders_clock_set(reminders_clock_t *self, int64_t now_ms);

//  Append what has come due, if this instance is the writer and its last
//  batch has been applied.
void reminders_clock_tick(reminders_clock_t *self, rp_service_t *service);

//  The op reminders.clock.set {now: RFC 3339} (on reminders.writer; arg a
//  reminders_handlers_t): 200 {now}; 404 not_enabled when the test clock
//  is off, 422 invalid for a now that is not a time, 409 clock_backwards
//  for one earlier than the clock's now.
rp_service_op_fn reminders_clock_op_set;

void reminders_clock_test(void);

#endif
