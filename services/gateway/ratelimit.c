/*  ratelimit.c — see ratelimit.h. */
#include "ratelimit.h"

#include <czmq.h>
#include <math.h>

//  Sweep idle buckets every this many takes, so memory follows the keys
//  that are active, not every key ever seen.
#define SWEEP_EVERY 65536

typedef struct {
    double tokens;
    int64_t at_ms; //  when tokens was last brought up to date
} bucket_t;

struct _gw_ratelimit_t {
    double per_ms;
    double burst;
    size_t max_buckets;
    zhashx_t *buckets; //  key → bucket_t (owned)
    uint64_t takes;
};

gw_ratelimit_t *gw_ratelimit_new(int64_t per_s, int64_t burst, size_t max_buckets)
{
    gw_ratelimit_t *self = (gw_ratelimit_t *)zmalloc(sizeof *self);
    self->per_ms = per_s > 0 ? (double)per_s / 1000.0 : 0;
    self->burst = burst >= 1 ? (double)burst : per_s > 1 ? (double)per_s : 1;
    self->max_buckets = max_buckets ? max_buckets : GW_RATELIMIT_BUCKETS;
    self->buckets = zhashx_new();
    zhashx_set_destructor(self->buckets, (zhashx_destructor_fn *)zstr_free);
    return self;
}

void gw_ratelimit_destroy(gw_ratelimit_t **self_p)
{
    gw_ratelimit_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->buckets);
    free(self);
    *self_p = NULL;
}

bool gw_ratelimit_enabled(gw_ratelimit_t *self)
{
    return self->per_ms > 0;
}

size_t gw_ratelimit_size(gw_ratelimit_t *self)
{
    return zhashx_size(self->buckets);
}

static void s_refill(gw_ratelimit_t *self, bucket_t *bucket, int64_t now_ms)
{
    if (now_ms > bucket->at_ms) {
        bucket->tokens += (double)(now_ms - bucket->at_ms) * self->per_ms;
        if (bucket->tokens > self->burst)
            bucket->tokens = self->burst;
        bucket->at_ms = now_ms;
    }
}

//  Drop every bucket that would be full by now; if none is, the least
//  recently used one.
static void s_sweep(gw_ratelimit_t *self, int64_t now_ms)
{
    //  Keys are copied and deleted after the walk (a delete frees the key).
    zlistx_t *idle = zlistx_new();
    zlistx_set_destructor(idle, (zlistx_destructor_fn *)zstr_free);
    const char *oldest = NULL;
    int64_t oldest_at = INT64_MAX;
    for (bucket_t *bucket = (bucket_t *)zhashx_first(self->buckets); bucket;
         bucket = (bucket_t *)zhashx_next(self->buckets)) {
        const char *key = (const char *)zhashx_cursor(self->buckets);
        double full_at = (double)bucket->at_ms + (self->burst - bucket->tokens) / self->per_ms;
        if (full_at <= (double)now_ms)
            zlistx_add_end(idle, strdup(key));
        else if (bucket->at_ms < oldest_at) {
            oldest_at = bucket->at_ms;
            oldest = key;
        }
    }
    if (zlistx_size(idle) == 0 && oldest && zhashx_size(self->buckets) >= self->max_buckets)
        zlistx_add_end(idle, strdup(oldest));
    for (char *key = (char *)zlistx_first(idle); key; key = (char *)zlistx_next(idle))
        zhashx_delete(self->buckets, key);
    zlistx_destroy(&idle);
}

bool gw_ratelimit_take(gw_ratelimit_t *self, const char *key, int64_t now_ms, int *retry_after_s)
{
    if (self->per_ms <= 0)
        return true;
    if (++self->takes % SWEEP_EVERY == 0)
        s_sweep(self, now_ms);
    bucket_t *bucket = (bucket_t *)zhashx_lookup(self->buckets, key);
    if (!bucket) {
        if (zhashx_size(self->buckets) >= self->max_buckets)
            s_sweep(self, now_ms);
        bucket = (bucket_t *)zmalloc(sizeof *bucket);
        bucket->tokens = self->burst;
        bucket->at_ms = now_ms;
        zhashx_insert(self->buckets, key, bucket);
    }
    s_refill(self, bucket, now_ms);
    if (bucket->tokens >= 1.0) {
        bucket->tokens -= 1.0;
        return true;
    }
    double wait_ms = (1.0 - bucket->tokens) / self->per_ms;
    *retry_after_s = (int)ceil(wait_ms / 1000.0);
    if (*retry_after_s < 1)
        *retry_after_s = 1;
    return false;
}

//  ---------------------------------------------------------------------

void gw_ratelimit_test(void)
{
    int retry = 0;
    //  Burst 3 at 2/s: three pass at once, the fourth waits half a second
    //  (Retry-After rounds up to 1), one more token after 500 ms.
    gw_ratelimit_t *limit = gw_ratelimit_new(2, 3, 0);
    assert(gw_ratelimit_enabled(limit));
    for (int i = 0; i < 3; i++)
        assert(gw_ratelimit_take(limit, "a", 1000, &retry));
    assert(!gw_ratelimit_take(limit, "a", 1000, &retry) && retry == 1);
    assert(gw_ratelimit_take(limit, "b", 1000, &retry)); //  buckets are per key
    assert(!gw_ratelimit_take(limit, "a", 1499, &retry) && retry == 1);
    assert(gw_ratelimit_take(limit, "a", 1500, &retry));
    assert(!gw_ratelimit_take(limit, "a", 1500, &retry));
    //  A long pause refills to the burst, not beyond.
    for (int i = 0; i < 3; i++)
        assert(gw_ratelimit_take(limit, "a", 100000, &retry));
    assert(!gw_ratelimit_take(limit, "a", 100000, &retry));
    //  A clock that goes backwards changes nothing.
    assert(!gw_ratelimit_take(limit, "a", 5, &retry));
    gw_ratelimit_destroy(&limit);
    assert(limit == NULL);

    //  Slow rates: Retry-After in whole seconds, rounded up.
    limit = gw_ratelimit_new(1, 1, 0);
    assert(gw_ratelimit_take(limit, "k", 0, &retry));
    assert(!gw_ratelimit_take(limit, "k", 0, &retry) && retry == 1);
    gw_ratelimit_destroy(&limit);
    limit = gw_ratelimit_new(1, 2, 0);
    assert(gw_ratelimit_take(limit, "k", 0, &retry) && gw_ratelimit_take(limit, "k", 0, &retry));
    assert(!gw_ratelimit_take(limit, "k", 0, &retry) && retry == 1);
    assert(!gw_ratelimit_take(limit, "k", 1, &retry) && retry == 1);
    gw_ratelimit_destroy(&limit);

    //  Disabled: everything passes, nothing is stored.
    limit = gw_ratelimit_new(0, 0, 0);
    assert(!gw_ratelimit_enabled(limit));
    for (int i = 0; i < 100; i++)
        assert(gw_ratelimit_take(limit, "k", 0, &retry));
    assert(gw_ratelimit_size(limit) == 0);
    gw_ratelimit_destroy(&limit);

    //  Bounded: 4 buckets at most. Idle (refilled) buckets go first, with
    //  no change in behaviour; if none is idle, the least recently used.
    limit = gw_ratelimit_new(10, 10, 4);
    char key[16];
    for (int i = 0; i < 4; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert(gw_ratelimit_take(limit, key, i, &retry));
    }
    assert(gw_ratelimit_size(limit) == 4);
    assert(gw_ratelimit_take(limit, "k4", 10, &retry)); //  none idle: k0 (oldest) goes
    assert(gw_ratelimit_size(limit) == 4);
    for (int i = 0; i < 10; i++) //  drain k4 entirely
        gw_ratelimit_take(limit, "k4", 10, &retry);
    assert(!gw_ratelimit_take(limit, "k4", 10, &retry));
    //  At 1 s every bucket but k4 (emptied at 10 ms) has refilled: they go.
    assert(gw_ratelimit_take(limit, "k5", 1000, &retry));
    assert(gw_ratelimit_size(limit) == 2);
    //  k4 kept its state: 9.9 tokens at 1,000 ms → at most 9 more now.
    for (int i = 0; i < 9; i++)
        assert(gw_ratelimit_take(limit, "k4", 1000, &retry));
    assert(!gw_ratelimit_take(limit, "k4", 1000, &retry));
    gw_ratelimit_destroy(&limit);

    //  burst < 1 defaults to the rate.
    limit = gw_ratelimit_new(5, 0, 0);
    for (int i = 0; i < 5; i++)
        assert(gw_ratelimit_take(limit, "k", 0, &retry));
    assert(!gw_ratelimit_take(limit, "k", 0, &retry));
    gw_ratelimit_destroy(&limit);
}
