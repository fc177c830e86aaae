/*  intake.h — request bodies the gateway streams, taken out of evhttp's
    way with public libevent API only.

    libevent 2.1's HTTP server hands a request to its callback only once the
    whole body is in memory, and gives no public hook between a request's
    headers and its body on the server side (2.2's evhttp_set_newreqcb is
    not in 2.1; header_cb and chunked_cb are per request, and the server
    never shows us the request before its body). So the intake stands in
    front of evhttp on every connection: evhttp_set_bevcb gives evhttp a
    filtering bufferevent (bufferevent_filter_new over the socket's), and
    the input filter sees each request's bytes before evhttp does:

      - At a request's start it reads the request line. Anything but a POST
        to a path given to gw_intake_take is passed through untouched, and
        evhttp frames it as always; when evhttp dispatches it
        (gw_intake_seen, from the gateway's request callback), whatever
        evhttp holds beyond it is pulled back, so the next request's start
        is read here too. evhttp reads one request at a time, and the
        filter only runs while evhttp reads (evhttp disables reading
        while it answers), so the intake never runs ahead of it.
      - A POST to a taken path: the intake reads the whole head (up to
        GW_INTAKE_HEAD_MAX bytes), frames the body itself (Content-Length
        or chunked, RFC 9112 §6/§7.1), and passes evhttp the head without
        Content-Length, Transfer-Encoding and Expect: to evhttp the request
        has no body, and its route runs at once. The route claims the
        body (gw_intake_claim), and the intake then reads it from the
        socket at the claimer's pace (a sink that can pause), never
        holding more than the socket buffer's worth.
      - Ambiguous framing in a taken request (Content-Length with
        Transfer-Encoding, two Content-Lengths, an unknown coding, a folded
        framing header) is refused: evhttp is given `Connection: close`,
        the claimer learns why (gw_intake_refused) and answers 400, and
        the connection closes after the answer. A body whose chunks are
        malformed ends the sink with ok false; the connection closes after
        the answer.
      - A body whose request was answered without being claimed (a 401
        from the router) or released before its end (an early 413) is read
        and dropped, up to discard_max bytes (then the connection is
        closed), so a keep-alive client reads its answer and goes on.

    Nothing here reads libevent's private structures. What it relies on
    is public: the filter forwards bufferevent_setfd to the socket's
    bufferevent (checked at gw_intake_new, which fails loudly otherwise),
    and evhttp reads a request only while its bufferevent's reading is
    enabled. A request for a taken path that reaches its route without
    passing the intake (no claim possible) is the claimer's to refuse with
    a 5xx; it is never buffered quietly.
*/
#ifndef GW_INTAKE_H
#define GW_INTAKE_H

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <stddef.h>

#define GW_INTAKE_HEAD_MAX  (64 * 1024) //  as evhttp_set_max_headers_size in gateway.c
#define GW_INTAKE_PATHS_MAX 16
#define GW_INTAKE_IDLE_S    60 //  a claimed body that stops this long drops the connection
//  A peer we held back (a paused body: our receive window closed) is
//  given this much more: its TCP probes the zero window with exponential
//  backoff, capped at TCP_RTO_MAX (120 s), so after our pause its next
//  bytes may come that much later, through no silence of its own.
#define GW_INTAKE_PROBE_MAX_S 120

typedef struct _gw_intake_t gw_intake_t;
typedef struct _gw_intake_conn_t gw_intake_conn_t;

//  Where a claimed body goes. data: the next bytes of the body (chunked
//  coding removed); return false to pause (gw_intake_resume goes on).
//  end: the body is complete (ok) or its framing broke (ok false); no
//  data follows. closed: the connection is gone (before or after end);
//  the claim is void and the claimer must not use it again.
typedef struct {
    bool (*data)(void *arg, const char *data, size_t size);
    void (*end)(void *arg, bool ok);
    void (*closed)(void *arg);
} gw_intake_sink_t;

//  NULL (logged) if this libevent cannot filter evhttp's connections.
gw_intake_t *gw_intake_new(struct event_base *base, struct evhttp *http, size_t discard_max);
void gw_intake_destroy(gw_intake_t **self_p);

//  POSTs to path (exact, without the query) have their body streamed;
//  tag is handed back with the claim. At most GW_INTAKE_PATHS_MAX paths.
void gw_intake_take(gw_intake_t *self, const char *path, const void *tag);

//  Every request, as the server's request callback receives it, before
//  it is answered.
void gw_intake_seen(gw_intake_t *self, struct evhttp_request *req);

//  Claim req's body for sink (arg is passed back). NULL if the intake did
//  not take it (not a taken path, or it reached evhttp with its body).
gw_intake_conn_t *gw_intake_claim(gw_intake_t *self, struct evhttp_request *req,
                                  const gw_intake_sink_t *sink, void *arg);

//  The tag given to gw_intake_take for the claimed request's path.
const void *gw_intake_tag(gw_intake_conn_t *conn);

//  Why the request's framing was refused, or NULL.
const char *gw_intake_refused(gw_intake_conn_t *conn);

//  The claimer accepts the body: answer a client's `Expect: 100-continue`.
void gw_intake_continue(gw_intake_conn_t *conn);

//  After data returned false: read on.
void gw_intake_resume(gw_intake_conn_t *conn);

//  The claimer is done (it has answered): the rest of the body, if any,
//  is dropped. The claim is void after this.
void gw_intake_release(gw_intake_conn_t *conn);

void gw_intake_test(void);

#endif
