/*  recurrence.h — when a series happens: an RFC 5545 RRULE from a local
    start in an IANA time zone, computed with libical (Debian's libical3:
    docs/decisions.md § Recurrence), occurrence after occurrence, with no
    cap on how many.

    Occurrences are computed in the zone's local time and each one turned
    into a UTC instant on its own, so a 09:00 weekly meeting stays at 09:00
    local across DST changes. A local time that does not exist (in a
    spring-forward gap) moves forward by the gap (02:30 → 03:30 in Berlin);
    one that happens twice (fall back) takes the first (the earlier
    instant). These two rules are ours, not libical's (its conversion
    goes backward in a gap, and takes either occurrence of an ambiguous
    time depending on the zone), so the conversion is done here from the
    zone's UTC offsets.

    The rule's parts are libical's: FREQ (DAILY to YEARLY; SECONDLY to
    HOURLY are refused: reminders are not a clock's ticks), INTERVAL,
    COUNT, UNTIL, BYDAY with ordinals (2TU, -1FR), BYMONTHDAY, BYMONTH,
    BYSETPOS…; EXDATEs are local times (or dates, for an all-day series)
    that are skipped.
*/
#ifndef RAPPORT_RECURRENCE_H
#define RAPPORT_RECURRENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_RECURRENCE_RULE_MAX 512 //  bytes of an RRULE
#define RP_RECURRENCE_EXDATES  100 //  EXDATEs of a series

typedef struct _rp_recurrence_t rp_recurrence_t;

//  A series from start, a local time "YYYY-MM-DDTHH:MM[:SS]" or, for an
//  all-day series, a date "YYYY-MM-DD" (its 00:00), in zone (an IANA name:
//  "Europe/Berlin"); rrule (without "RRULE:") or NULL for one occurrence;
//  exdates (NULL-terminated local times or dates, or NULL). NULL with
//  *error set to the part that is wrong ("start", "zone", "rrule",
//  "exdates") when one is.
rp_recurrence_t *rp_recurrence_new(const char *start, const char *zone, const char *rrule,
                                   const char *const *exdates, const char **error);
void rp_recurrence_destroy(rp_recurrence_t **self_p);

//  The first occurrence at or after from_ms (Unix ms, UTC): true with
//  *at_ms; false when the series has ended (or, for a rule that matches
//  nothing, after a bounded search).
bool rp_recurrence_next(rp_recurrence_t *self, int64_t from_ms, int64_t *at_ms);

//  A local time in zone as a UTC instant, by the rules above (the local
//  time given as the fields of a date and time). False for an unknown zone.
bool rp_recurrence_local_ms(const char *zone, int year, int month, int day, int hour, int minute,
                            int second, int64_t *ms);

void rp_recurrence_test(void);

#endif
