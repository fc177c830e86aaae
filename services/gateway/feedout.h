/*  feedout.h — the journal for integrators over HTTP: GET /api/v1/events
    (the row in services/broker/routes.c; admin and integrator keys), as
    pages or as Server-Sent Events. What is served: feedview.h (after,
    types, limit; secrets removed).

    A page (any Accept but text/event-stream): one journal.read on the
    broker (MDP service "journal"), sent asynchronously like any forward,
    from after + 1: `limit` events when every type is asked for, else
    GW_FEEDVIEW_LIMIT_MAX (the journal's page) scanned, of which the first
    `limit` that match are served:
        200 {items: [event + seq…], next_after, journal}
    next_after is the seq of the last event served when the page is full,
    else of the last event scanned (after when there were none): a page
    may hold fewer than limit events (even none) while more follow, and a
    client that asks again with after=next_after neither loops nor misses
    an event. `journal` is the journal's identity (docs/protocol.md): a
    client that finds another one starts over from after=0. Errors of the
    journal are problem+json (503, 504).

    A stream (Accept: text/event-stream, not HEAD; limit does not apply):
    200 text/event-stream, then each
    event the view takes as
        id: <seq>\nevent: <type>\ndata: <item, JSON on one line>\n\n
    from after (or Last-Event-ID) on: first the journal's events, read in
    pages of GW_FEEDOUT_STREAM_PAGE (the next page once the previous one
    is written to the socket), until the stream has reached what the
    gateway's follower took; from then on each event the follower takes
    (gw_feedout_event, in seq order, every one once) is written at once.
    So a client sees every event after its start once, in order. Every
    heartbeat_ms a comment line `: heartbeat` keeps it open. Bounds: at
    most streams_max streams (more: 503 too_many_streams); a stream whose
    unwritten output passes buffer_max (a client that does not read) is
    closed, and resumes with Last-Event-ID. When the follower finds
    another journal (gw_feedout_restart) every stream is closed (seqs mean
    nothing across journals); gw_feedout_stop ends them cleanly.
*/
#ifndef GW_FEEDOUT_H
#define GW_FEEDOUT_H

#include "exchange.h"
#include "feedview.h"
#include "upstream.h"

#include <event2/event.h>

#define GW_FEEDOUT_HEARTBEAT_MS 15000
#define GW_FEEDOUT_STREAMS_MAX  256
#define GW_FEEDOUT_BUFFER_MAX   (1024 * 1024)
#define GW_FEEDOUT_STREAM_PAGE  200 //  events a stream reads at once while catching up
#define GW_FEEDOUT_EMPTY_MAX    10  //  empty reads in a row behind the follower before giving up

typedef struct {
    int timeout_ms;    //  a journal.read's deadline
    int heartbeat_ms;  //  between heartbeats (events/heartbeat_ms)
    size_t streams;    //  open streams at most (events/streams_max)
    size_t buffer_max; //  a stream's unwritten bytes at most (events/buffer_max)
} gw_feedout_config_t;

typedef struct _gw_feedout_t gw_feedout_t;

gw_feedout_t *gw_feedout_new(struct event_base *base, gw_upstream_t *upstream,
                             const gw_feedout_config_t *config);

//  Free; every stream must have ended (gw_feedout_stop) and the upstream
//  have answered every read (gw_upstream_close).
void gw_feedout_destroy(gw_feedout_t **self_p);

//  The route: read the view from the exchange's row query (400 bad_query,
//  422 invalid) and answer a page or open a stream. Takes the exchange.
void gw_feedout_answer(gw_feedout_t *self, gw_exchange_t **ex_p);

//  Service streams: a row with special "stream" names a service and an
//  op answering {after} with {items: [{seq, …}…], next_after, more} for
//  its caller (the notifications' inbox: notifications.since). With
//  Accept: text/event-stream, 200 text/event-stream, each item written as
//      id: <item seq>\ndata: <item, JSON on one line>\n\n
//  from Last-Event-ID (default 0) on: the op is asked at once, then again
//  each time the follower takes an event (min_seq that event's seq, so the
//  service has applied it; one request out at a time, asked again at its
//  answer if the feed moved meanwhile, or if it said more). Heartbeats,
//  bounds and the end as for the journal's streams; a 503 or 504 answer
//  leaves the stream open (asked again at the next event), another error
//  closes it. Without that Accept: one answer, the op's data for after 0.
//  Takes the exchange.
void gw_feedout_service(gw_feedout_t *self, gw_exchange_t **ex_p);

//  Every event the gateway's follower takes, in seq order.
void gw_feedout_event(gw_feedout_t *self, uint64_t seq, const char *type, size_t type_len,
                      const uint8_t *event, size_t size);

//  Another journal: close every stream; the follower starts over from 0.
void gw_feedout_restart(gw_feedout_t *self);

//  End every stream (the terminating chunk) and refuse new ones (503).
void gw_feedout_stop(gw_feedout_t *self);

//  Streams open now; streams closed so far for a client that did not read.
size_t gw_feedout_streams(gw_feedout_t *self);
uint64_t gw_feedout_dropped(gw_feedout_t *self);

void gw_feedout_test(void);

#endif
