/*  feed.h — the journal's event feed: a PUB socket (docs/protocol.md § Feed).

      [type, seq (8 B BE), event]   every committed event, in seq order
      ["$head", seq (8 B BE)]       the committed head, once a second

      [type, seq (8 B BE)]          an event too large to be fed: read it
                                    from the journal

    Subscribers filter by type prefix. PUB drops messages for a subscriber
    that falls behind its high-water mark; consumers notice the gap (or the
    head beyond their cursor) and replay through journal.read.

    What a subscriber that never reads costs is bounded in bytes, not only
    in messages: an event of more than inline_max bytes is fed as its
    [type, seq] alone, and the high-water mark is queue_bytes / inline_max
    messages (at most sndhwm), so the queue of one subscriber holds at most
    about queue_bytes of events (docs/protocol.md § Feed).
*/
#ifndef RAPPORT_BROKER_FEED_H
#define RAPPORT_BROKER_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct _feed_t feed_t;

typedef struct {
    int sndhwm;         //  messages per subscriber at most
    size_t queue_bytes; //  bytes of events per subscriber at most
    size_t inline_max;  //  the largest event fed whole
} feed_bounds_t;

//  Bind a PUB socket on endpoint within bounds. Returns NULL (reason
//  logged) if it cannot bind.
feed_t *feed_new(const char *endpoint, const feed_bounds_t *bounds);

//  The high-water mark bounds come to: min(sndhwm, queue_bytes /
//  inline_max), at least 1.
int feed_hwm(const feed_bounds_t *bounds);
void feed_destroy(feed_t **self_p);

//  The endpoint actually bound (a "*" port resolved), for logs and tests.
const char *feed_endpoint(feed_t *self);

void feed_publish(feed_t *self, const char *type, size_t type_len, uint64_t seq, const void *event,
                  size_t event_size);
void feed_head(feed_t *self, uint64_t head);

void feed_test(void);

#endif
