/*  ratelimit.h — a token bucket per API key.

    Each key's bucket holds up to `burst` tokens and refills at `per_s`
    tokens a second; a request takes one token, or is refused with the
    whole seconds until one is there (429 with Retry-After, rounded up).
    A key unseen so far starts with a full bucket.

    Memory is bounded: at most GW_RATELIMIT_BUCKETS buckets. A bucket that
    has had time to refill completely is the same as no bucket, so idle
    buckets are dropped whenever the table fills (and every so often) with
    no change in behaviour; if every bucket is busy, the least recently
    used one is dropped (that key gets a fresh bucket: the only
    approximation, and only beyond that many keys active at once).

    Configuration (config/gateway.cfg): rate/per_s (RAPPORT_RATE_PER_S,
    default 500), rate/burst (RAPPORT_RATE_BURST, default 1000); per_s 0
    disables the limit. Times are passed in (milliseconds on a monotonic
    clock) so the self-test controls them.
*/
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_RATELIMIT_PER_S   500
#define GW_RATELIMIT_BURST   1000
#define GW_RATELIMIT_BUCKETS 100000

typedef struct _gw_ratelimit_t gw_ratelimit_t;

//  per_s 0: every request passes. burst < 1 becomes max(1, per_s).
//  max_buckets 0: GW_RATELIMIT_BUCKETS.
gw_ratelimit_t *gw_ratelimit_new(int64_t per_s, int64_t burst, size_t max_buckets);
void gw_ratelimit_destroy(gw_ratelimit_t **self_p);

//  Take a token from key's bucket at time now_ms. True if allowed; else
//  false with *retry_after_s = whole seconds until a token is there (≥ 1).
bool gw_ratelimit_take(gw_ratelimit_t *self, const char *key, int64_t now_ms, int *retry_after_s);

//  False when the limit is disabled.
bool gw_ratelimit_enabled(gw_ratelimit_t *self);

//  Buckets held.
size_t gw_ratelimit_size(gw_ratelimit_t *self);

void gw_ratelimit_test(void);

#endif
