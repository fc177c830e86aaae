/*  feed.h — the journal feed for consumers: every event exactly once, in
    seq order, from a cursor on (docs/protocol.md § Feed).

    The broker publishes [type, seq (8 bytes BE), event] for each committed
    event (an event too large for the feed as [type, seq] alone, which
    rp_feed reads from the journal at once) and ["$head", seq] once a
    second; PUB/SUB may lose messages (a slow subscriber, a reconnect). rp_feed turns that into a
   reliable stream with the Clone pattern:

      1. subscribe to the feed (rp_feed_new);
      2. replay cursor+1 … head through journal.read, in pages (rp_feed_sync);
      3. then take fed events: seq ≤ cursor is a duplicate and dropped,
         seq = cursor+1 is delivered, seq > cursor+1 is a gap and makes it
         replay up to the journal's head first;
      4. a $head beyond the cursor, with nothing delivered for
         RP_FEED_LAG_MS, means the tail was lost: replay too.

    Events reach the caller through one callback, strictly in order:

        int fn (void *arg, uint64_t seq, const char *type, size_t type_len,
                const uint8_t *event, size_t size);

    where event is the packed event map (docs/events.md). fn returns 0 once
    it has taken the event (the cursor moves to seq); any other value stops
    delivery there, is returned by the rp_feed call that was delivering, and
    the same event is offered again on the next replay.

    Event loop use: poll rp_feed_sock, then rp_feed_recv; or receive the
    message yourself and pass it to rp_feed_handle (to inspect or drop it).
    Replays are synchronous journal.read calls on the feed's own client.

    The journal's identity (rp_feed_set_journal, for a consumer that keeps
    its cursor, as a service store does): the cursor counts in one journal.
    If journal.read answers for another journal (data.journal, made when
    the journal was created), or a head behind the cursor (a journal that
    lost events), the cursor means nothing there: rp_feed stops delivering
    and answers RP_FEED_FOREIGN, with rp_feed_foreign saying why, until a
    later rp_feed_sync finds the journal it knows again (a volume mounted
    back), or the consumer starts over (rp_feed_reset).
*/
#ifndef RAPPORT_FEED_H
#define RAPPORT_FEED_H

#include <czmq.h>
#include <stdint.h>

//  How long a $head beyond the cursor may go without progress before the
//  tail is presumed lost, and the deadline of each journal.read.
#define RP_FEED_LAG_MS     1000
#define RP_FEED_TIMEOUT_MS 5000

#define RP_FEED_FOREIGN     -2 //  the journal is not the one the cursor counts in
#define RP_FEED_JOURNAL_MAX 64 //  bytes of a journal id

typedef struct _rp_feed_t rp_feed_t;

typedef int(rp_feed_fn)(void *arg, uint64_t seq, const char *type, size_t type_len,
                        const uint8_t *event, size_t size);

//  Subscribe to the feed at feed_endpoint (all types) and connect a client
//  for journal.read to broker_endpoint. cursor is the last seq already
//  taken (0: none). Nothing is delivered until the first call below.
rp_feed_t *rp_feed_new(const char *feed_endpoint, const char *broker_endpoint, uint64_t cursor,
                       rp_feed_fn *fn, void *arg);
void rp_feed_destroy(rp_feed_t **self_p);

//  The SUB socket, to poll for readability.
zsock_t *rp_feed_sock(rp_feed_t *self);

//  Process one message received from rp_feed_sock (takes *msg_p).
//  Returns 0, -1 if a replay it needed failed (logged; retried on the next
//  gap or $head), or the non-zero value fn returned.
int rp_feed_handle(rp_feed_t *self, zmsg_t **msg_p);

//  Receive one message if one is waiting (never blocks) and handle it.
int rp_feed_recv(rp_feed_t *self);

//  True if the last rp_feed_recv found nothing waiting: a loop that drains
//  the feed stops there, without asking the socket for events first.
bool rp_feed_drained(rp_feed_t *self);

//  Replay from cursor+1 up to the journal's current head. Same returns.
int rp_feed_sync(rp_feed_t *self);

//  The last seq delivered (taken by fn).
uint64_t rp_feed_cursor(rp_feed_t *self);

//  The highest journal head seen (from replies, $head and events).
uint64_t rp_feed_head(rp_feed_t *self);

//  Check the journal's identity from now on: id is the journal the cursor
//  counts in ("" if unknown: the first one seen is taken).
void rp_feed_set_journal(rp_feed_t *self, const char *id);

//  The journal the cursor counts in ("" while unknown).
const char *rp_feed_journal(rp_feed_t *self);

//  Why the feed refuses the journal (a static or internal string), or NULL
//  while it does not.
const char *rp_feed_foreign(rp_feed_t *self);

//  Start over at cursor in whatever journal answers next (a rebuild).
void rp_feed_reset(rp_feed_t *self, uint64_t cursor);

//  Override the lag and journal.read timeout (tests, tuning).
void rp_feed_set_timing(rp_feed_t *self, int lag_ms, int timeout_ms);

void rp_feed_test(void);

#endif
