/*  feed.h — the journal's event feed: a PUB socket (docs/protocol.md § Feed).

      [type, seq (8 B BE), event]   every committed event, in seq order
      ["$head", seq (8 B BE)]       the committed head, once a second

    Subscribers filter by type prefix. PUB drops messages for a subscriber
    that falls behind its high-water mark; consumers notice the gap (or the
    head beyond their cursor) and replay through journal.read.
*/
#ifndef RAPPORT_BROKER_FEED_H
#define RAPPORT_BROKER_FEED_H

#include <stddef.h>
#include <stdint.h>

typedef struct _feed_t feed_t;

//  Bind a PUB socket on endpoint with the given send high-water mark.
//  Returns NULL (reason logged) if it cannot bind.
feed_t *feed_new(const char *endpoint, int sndhwm);
void feed_destroy(feed_t **self_p);

//  The endpoint actually bound (a "*" port resolved), for logs and tests.
const char *feed_endpoint(feed_t *self);

void feed_publish(feed_t *self, const char *type, size_t type_len, uint64_t seq, const void *event,
                  size_t event_size);
void feed_head(feed_t *self, uint64_t head);

void feed_test(void);

#endif
