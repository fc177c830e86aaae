/*  cache.h — recent GET answers of records, kept true by the journal feed.

    For any resource whose events name the record by data.id (a route
    row with RP_ROUTE_CACHED and its `events` prefix, route.h): a record's
    GET answer is a function of the service's store and of the caller's
    scope (user, role, team), and the store changes that record only by
    events of that prefix. So the gateway keeps the answers it has
    forwarded, keyed by kind (the prefix), record id and caller, and drops
    them when the feed brings an event of that kind that names the record
    (data.id, and each of data.from, as a merge names its sources). A read
    that hits is answered without a trip through the broker.

    The rules that make a hit as true as a read from an instance:
      - keep: an answer computed by an instance at cursor c is kept only if
        the gateway's feed has not passed c (every later event that touches
        the customer is still to come, and will drop it);
      - drop: an event at seq s naming the record drops its answers with
        a cursor below s; an event of a watched kind whose ids cannot be
        read drops everything; so does a feed that goes backwards (a new
        journal);
      - hit: only once the feed has caught up (synced), and only if the
        answer is at least as new as the caller's own last write (min_seq:
        max(answer cursor, feed cursor) >= min_seq), so each caller still
        reads its own writes;
    so a hit is the answer of an instance at the gateway's feed position.
    Bounded: at most max_records records, each with the answers of
    GW_CACHE_CALLERS callers, and max_bytes of answers (bodies, callers,
    bookkeeping); beyond either, the least recently used records go
    (read or kept: the table keeps them in order of use). An answer
    over a quarter of max_bytes (or GW_CACHE_BODY_MAX) is not kept.
*/
#ifndef GW_CACHE_H
#define GW_CACHE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define GW_CACHE_CALLERS  4           //  answers kept per record (distinct scopes)
#define GW_CACHE_KINDS    8           //  event prefixes watched
#define GW_CACHE_BODY_MAX (64 * 1024) //  a larger answer is not kept

typedef struct _gw_cache_t gw_cache_t;

//  One kept answer: the body as sent, and its ETag header value.
typedef struct {
    const char *body;
    size_t size;
    const char *etag; //  "" when the answer had none
} gw_cache_answer_t;

//  A cache for at most max_records records and max_bytes of answers;
//  max_records 0 keeps nothing.
gw_cache_t *gw_cache_new(size_t max_records, size_t max_bytes);
void gw_cache_destroy(gw_cache_t **self_p);
//  Keep records of kind: an event type prefix ("customer.", a static
//  string) whose events name their record by data.id. A kind not watched
//  is never kept. At most GW_CACHE_KINDS; watching one twice is harmless.
void gw_cache_watch(gw_cache_t *self, const char *kind);
//  Events of prefix (a static string) change records of kind too: an
//  event naming one by data.customer.id drops its answers; any other event
//  of prefix drops every answer (integrators' orders name customers by
//  code or tax id, which the gateway cannot resolve). At most
//  GW_CACHE_KINDS prefixes.
void gw_cache_also(gw_cache_t *self, const char *kind, const char *prefix);
//  Every feed event, in seq order (the follower's rp_feed_fn arguments).
void gw_cache_event(gw_cache_t *self, uint64_t seq, const char *type, size_t type_len,
                    const uint8_t *event, size_t size);
//  The feed starts over in another journal: nothing kept counts in it.
void gw_cache_restart(gw_cache_t *self);

//  Whether the feed has caught up with the journal (hits only then).
void gw_cache_set_synced(gw_cache_t *self, bool synced);
//  The answer kept for record id of kind and caller, valid for a caller
//  whose last seen seq is min_seq; NULL on a miss. Valid until the next call.
const gw_cache_answer_t *gw_cache_find(gw_cache_t *self, const char *kind, const char *id,
                                       const char *caller, uint64_t min_seq);
//  Keep the answer an instance at cursor gave caller for record id of kind.
void gw_cache_keep(gw_cache_t *self, const char *kind, const char *id, const char *caller,
                   uint64_t cursor, const char *etag, const char *body, size_t size);
//  Counters, and the same as Prometheus text for /metrics.
uint64_t gw_cache_hits(gw_cache_t *self);
uint64_t gw_cache_misses(gw_cache_t *self);
size_t gw_cache_records(gw_cache_t *self);
size_t gw_cache_bytes(gw_cache_t *self);
void gw_cache_render(gw_cache_t *self, FILE *out);
void gw_cache_test(void);
#endif
