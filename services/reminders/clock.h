/*  clock.h — the writer's clock (docs/reminders.md § The clock): every
    tick, the agenda's entries that have come due become reminder.fired
    events, appended in fire order, up to CLOCK_BATCH at a time. Only the
    lease holder appends (the journal fences anyone else); a firing is
    recorded once per key — apply refuses a second reminder.fired of a key
    (409 already_fired) — so a writer killed after appending, and its
    successor reading the same agenda, fire nothing twice.

    A firing more than CLOCK_LATE_MS after its time (the writer was down,
    or busy) is marked late: true.
*/
#ifndef REMINDERS_CLOCK_H
#define REMINDERS_CLOCK_H

#include <rapport/service.h>

#define CLOCK_BATCH   1000
#define CLOCK_LATE_MS 60000

typedef struct {
    bool in_flight;
    uint64_t seq; //  the last batch appended, until applied here
} reminders_clock_t;

//  Append what has come due, if this instance is the writer and its last
//  batch has been applied.
void reminders_clock_tick(reminders_clock_t *self, rp_service_t *service);

void reminders_clock_test(void);

#endif
