/*  schedule.h — when to try a delivery again: the retry schedule.

    A schedule is a list of delays, one per attempt, each counted from the
    end of the attempt before it (the first from when the message was
    made). The default is the issue's: now, 5 s, 5 min, 30 min, 2 h, 5 h,
    10 h, 14 h, 20 h and 24 h — ten attempts over about three days, after
    which the message has failed. Configured (webhooks/schedule,
    RAPPORT_WEBHOOKS_SCHEDULE) as comma-separated durations: ISO 8601 as
    rapport/duration.h reads them ("PT5M") or the short forms "5s", "5m",
    "2h", "1d" (integers; "m" is minutes), so tests can say "0s,1s,1s,1s".

    Each delay is spread by up to ±10 % so that the messages of a burst
    that failed together are not retried together. The random value comes
    from the caller (rp_random_bytes in the service, fixed in tests), so
    the arithmetic is testable. A receiver's Retry-After (on 429 and 503:
    delta-seconds or an HTTP-date, read by libcurl's curl_getdate) is a
    lower bound on the next delay, capped at RP_SCHEDULE_RETRY_AFTER_MAX
    so a receiver cannot park a message for good.
*/
#ifndef RAPPORT_SCHEDULE_H
#define RAPPORT_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_SCHEDULE_MAX             32    //  attempts in a schedule
#define RP_SCHEDULE_TEXT_MAX        1024  //  bytes of a schedule's text
#define RP_SCHEDULE_RETRY_AFTER_MAX 86400 //  seconds a Retry-After may ask
#define RP_SCHEDULE_DEFAULT         "0s,5s,5m,30m,2h,5h,10h,14h,20h,24h"

typedef struct {
    size_t count;                   //  attempts
    int64_t delay[RP_SCHEDULE_MAX]; //  seconds before attempt n
} rp_schedule_t;

//  Read a schedule's text into *schedule. NULL when it is one, else why
//  not, with *bad_at (may be NULL) the index of the bad entry: "empty",
//  "invalid" (an entry is not a duration), "out_of_range" (over
//  RP_DURATION_MAX), "unsupported" (years or months), "too_many" (over
//  RP_SCHEDULE_MAX entries or RP_SCHEDULE_TEXT_MAX bytes).
const char *rp_schedule_parse(const char *text, rp_schedule_t *schedule, size_t *bad_at);

//  The default schedule (RP_SCHEDULE_DEFAULT).
void rp_schedule_default(rp_schedule_t *schedule);

//  The delay in milliseconds before attempt n (0 is the first), spread by
//  random (uniform over 32 bits) within ±10 %. Returns false when the
//  schedule has no attempt n: the message has failed for good.
bool rp_schedule_delay(const rp_schedule_t *schedule, size_t attempt, uint32_t random,
                       int64_t *delay_ms);

//  A Retry-After header's value, at now (Unix seconds), as seconds to wait
//  from now: 0 for a date in the past, at most RP_SCHEDULE_RETRY_AFTER_MAX.
//  Returns false for a value that is neither delta-seconds nor a date.
bool rp_schedule_retry_after(const char *value, int64_t now, int64_t *seconds);

//  The delay to use: delay_ms, raised to retry_after seconds if that is
//  longer (a negative retry_after: none given).
int64_t rp_schedule_at_least(int64_t delay_ms, int64_t retry_after);

void rp_schedule_test(void);

#endif
