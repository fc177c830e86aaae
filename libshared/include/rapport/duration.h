/*  duration.h — ISO 8601 durations as people write them in reminders and
    rules ("P3D", "PT1H30M", "P1W", "PT3S"), read into seconds.

    Weeks, days, hours, minutes and seconds, integers only; a day is 86,400
    seconds (reminders count elapsed time: a rule's "P3D idle" is 72 hours,
    whatever the clocks did meanwhile). Years and months are refused: their
    length depends on the calendar, and "P1M" is as often meant as 30 days
    as a calendar month — say which with days. Negative durations are
    refused; the largest is RP_DURATION_MAX.
*/
#ifndef RAPPORT_DURATION_H
#define RAPPORT_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_DURATION_MAX  (3660LL * 86400) //  ten years of days
#define RP_DURATION_TEXT 32               //  bytes of a duration's text, at most

//  Read text (len bytes) into *seconds. NULL when it is one, else why not:
//  "invalid" (not a duration), "unsupported" (years or months),
//  "out_of_range" (over RP_DURATION_MAX). Lower-case designators are
//  accepted ("pt1h").
const char *rp_duration_parse(const char *text, size_t len, int64_t *seconds);

//  The shortest text for seconds ("P3D", "PT1H30M", "PT0S") into out.
void rp_duration_format(int64_t seconds, char out[RP_DURATION_TEXT]);

void rp_duration_test(void);

#endif
