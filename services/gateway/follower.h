/*  follower.h — the journal feed (rp_feed) inside the gateway's libevent
    loop: every event exactly once, in seq order, from seq 1 on.

    At start it replays the journal from the beginning (journal.read
    pages); if that fails (no broker), it tries again at a one-second tick
    once the feed shows signs of the broker (its $head each second), so a
    missing broker does not hold the loop again and again. Then it follows
    the feed. rp_feed's SUB socket is integrated the way upstream.c integrates
    its DEALER: ZMQ_FD is edge-triggered, so each wake-up drains every
    message waiting (rp_feed_recv), a bounded number at a time so HTTP
    requests are not starved by a burst of events; a one-second tick also
    drains, in case an edge was consumed elsewhere.

    The journal's identity is checked (rp_feed_set_journal): when the feed
    finds another journal, or a head behind its cursor (the broker came back
    with a lost journal replaced), everything folded from the old one means
    nothing in the new one. The follower does not refuse, as a service store
    does: the gateway keeps nothing that is not derived from the journal (it
    replays from seq 1 at every start anyway), so it starts over as a
    restart would: restart(arg) empties what was folded, the cursor goes
    back to 0, and the replay from seq 1 runs (not synced until it is done:
    user keys answer 503 not_ready meanwhile, /ready too).

    Replays (the first one, and after a gap or a lost tail) are synchronous
    journal.read calls: they hold the loop for a round trip per page of up
    to 1,000 events, bounded by GW_FOLLOWER_READ_MS each.
*/
#ifndef GW_FOLLOWER_H
#define GW_FOLLOWER_H

#include <event2/event.h>
#include <rapport/feed.h>
#include <stdbool.h>

#define GW_FOLLOWER_READ_MS 2000 //  one journal.read's deadline

typedef struct _gw_follower_t gw_follower_t;

//  Called after each batch of events (and each replay) with the cursor.
typedef void(gw_follower_progress_fn)(void *arg, uint64_t cursor);

//  Subscribe and schedule the first replay; fn(arg, …) takes every event
//  (rp_feed_fn: return 0 to take it). progress may be NULL.
gw_follower_t *gw_follower_new(struct event_base *base, const char *feed_endpoint,
                               const char *broker_endpoint, rp_feed_fn *fn, void *arg,
                               gw_follower_progress_fn *progress);
void gw_follower_destroy(gw_follower_t **self_p);

//  Called when the feed found another journal, before starting over from
//  seq 1 (with the arg given to gw_follower_new).
typedef void(gw_follower_restart_fn)(void *arg);
void gw_follower_on_restart(gw_follower_t *self, gw_follower_restart_fn *restart);

//  True once the first replay has reached the journal's head.
bool gw_follower_synced(gw_follower_t *self);

//  The last seq taken.
uint64_t gw_follower_cursor(gw_follower_t *self);

void gw_follower_test(void);

#endif
