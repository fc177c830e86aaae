/*  feedout.c — see feedout.h. */
#include "feedout.h"
#include "forward.h"
#include "json.h"
#include "problem.h"
#include "route.h"

#include <czmq.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <inttypes.h>
#include <rapport/log.h>

#define STREAM_WRITE_IDLE_S 60 //  a stream whose pending output does not move this long is dropped

typedef struct _stream_t stream_t;

struct _gw_feedout_t {
    gw_upstream_t *upstream;
    gw_feedout_config_t config;
    struct event *heartbeat;
    stream_t **streams; //  open ones, config.streams at most
    size_t count;
    uint64_t cursor;  //  the last seq the follower took
    uint64_t dropped; //  streams closed for a client that did not read
    bool stopped;
};

struct _stream_t {
    gw_feedout_t *owner;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    gw_feedview_t view;
    uint64_t cursor; //  the last seq scanned (sent, or not taken by the view)
    bool live;       //  caught up: the follower's events are written as they come
    bool inflight;   //  a journal.read is out (its callback frees a closed stream)
    bool writing;    //  a catch-up page is being written (its callback reads on)
    bool closed;     //  the connection is gone or was ended: not in owner->streams
    int empty;       //  journal.read pages in a row with nothing, the follower ahead
    //  A service stream (gw_feedout_service): the row's service and op,
    //  asked as the caller; cursor is the last seq the service answered.
    const char *service, *op;
    char user[128], role[128], team[128]; //  as the exchange holds them (127 bytes at most)
    bool dirty;                           //  the feed moved while a request was out: ask again
};

//  Pack {id, op: "journal.read", args: {from_seq, max}} and send it.
static int s_read(gw_feedout_t *self, uint64_t from, size_t max, gw_upstream_fn *fn, void *arg)
{
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, id, "journal.read", 0, NULL, 1);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_u64(&packer.pk, "from_seq", from);
    rp_pack_kv_u64(&packer.pk, "max", max);
    int rc = gw_upstream_send(self->upstream, "journal", id, packer.buffer.data, packer.buffer.size,
                              self->config.timeout_ms, fn, arg);
    rp_packer_destroy(&packer);
    return rc;
}

//  A failed journal.read as problem+json.
static void s_answer_error(gw_exchange_t **ex_p, const rp_reply_t *reply)
{
    char code[64], detail[200];
    snprintf(code, sizeof code, "%.*s", (int)(reply->error_code ? reply->error_code_len : 0),
             reply->error_code ? reply->error_code : "");
    snprintf(detail, sizeof detail, "%.*s",
             (int)(reply->error_message ? reply->error_message_len : 0),
             reply->error_message ? reply->error_message : "");
    bool known = reply->status >= 400 && reply->status <= 599;
    if (!*code || strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(code))
        snprintf(code, sizeof code, "bad_upstream");
    gw_problem_send(ex_p, known ? reply->status : 502, code,
                    *detail ? detail : "the journal did not answer the read");
}

//  An event of a journal.read page: its seq and type; false if malformed.
static bool s_event_head(const msgpack_object *event, uint64_t *seq, const char **type,
                         size_t *type_len)
{
    return rp_obj_u64(rp_obj_get(event, "seq"), seq) &&
           rp_obj_str(rp_obj_get(event, "type"), type, type_len);
}

//  ---------------------------------------------------------------------
//  Pages

typedef struct {
    gw_exchange_t *ex;
    gw_feedview_t view;
} page_t;

static void s_on_page(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    page_t *page = (page_t *)arg;
    const msgpack_object *events = reply->data ? rp_obj_get(reply->data, "events") : NULL;
    if (reply->status != 200 || !rp_obj_is_array(events)) {
        s_answer_error(&page->ex, reply);
        free(page);
        return;
    }
    json_t *items = json_array();
    uint64_t next = page->view.after;
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        const msgpack_object *event = &events->via.array.ptr[i];
        uint64_t seq;
        const char *type;
        size_t type_len;
        if (!s_event_head(event, &seq, &type, &type_len) || seq <= next)
            continue;
        next = seq;
        if (!gw_feedview_match(&page->view, type, type_len))
            continue;
        json_t *item = gw_feedview_item(event, seq);
        if (!item) {
            rp_warn("gateway: event %" PRIu64 " cannot be said in JSON; the feed skips it", seq);
            continue;
        }
        json_array_append_new(items, item);
        if (json_array_size(items) == page->view.limit)
            break;
    }
    json_t *body = json_pack("{s:o, s:I}", "items", items, "next_after", (json_int_t)next);
    const char *journal;
    size_t journal_len;
    if (rp_obj_str(rp_obj_get(reply->data, "journal"), &journal, &journal_len) && journal_len &&
        journal_len <= 64)
        json_object_set_new(body, "journal", json_stringn(journal, journal_len));
    gw_exchange_add_header(page->ex, "Cache-Control", "no-store");
    gw_exchange_send_json(&page->ex, 200, body);
    free(page);
}

static void s_page(gw_feedout_t *self, gw_exchange_t **ex_p, const gw_feedview_t *view)
{
    if (view->after == UINT64_MAX) { //  nothing can follow
        gw_exchange_send_json(
            ex_p, 200, json_pack("{s:[], s:I}", "items", "next_after", (json_int_t)view->after));
        return;
    }
    page_t *page = (page_t *)zmalloc(sizeof *page);
    page->view = *view;
    page->ex = *ex_p;
    size_t max = gw_feedview_all(view) ? view->limit : GW_FEEDVIEW_LIMIT_MAX;
    if (s_read(self, view->after + 1, max, s_on_page, page) == 0) {
        *ex_p = NULL;
        return;
    }
    free(page);
    gw_problem_send(ex_p, 503, "broker_unavailable", "the journal cannot be reached; retry");
}

//  ---------------------------------------------------------------------
//  Streams

static void s_stream_free(stream_t *stream)
{
    free(stream);
}

//  Out of the owner's list; the connection is no longer ours.
static void s_stream_unlist(stream_t *stream)
{
    gw_feedout_t *self = stream->owner;
    for (size_t i = 0; i < self->count; i++)
        if (self->streams[i] == stream) {
            self->streams[i] = self->streams[--self->count];
            break;
        }
    if (stream->evcon)
        evhttp_connection_set_closecb(stream->evcon, NULL, NULL);
    stream->closed = true;
    stream->req = NULL;
    stream->evcon = NULL;
}

//  Close a stream: end it (the terminating chunk) or cut the connection.
static void s_stream_close(stream_t *stream, bool end)
{
    if (stream->closed)
        return;
    struct evhttp_request *req = stream->req;
    struct evhttp_connection *evcon = stream->evcon;
    s_stream_unlist(stream);
    if (end)
        evhttp_send_reply_end(req);
    else
        evhttp_connection_free(evcon);
    if (!stream->inflight)
        s_stream_free(stream);
}

//  The client went away (or evhttp gave up on it). libevent 2.1 detaches
//  a request whose answer is still being sent from its failed connection
//  rather than free it (evhttp_connection_incoming_fail), leaving it to
//  whoever sends: free it here, or it leaks.
static void s_on_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    stream_t *stream = (stream_t *)arg;
    struct evhttp_request *req = stream->req;
    s_stream_unlist(stream);
    if (req && !evhttp_request_get_connection(req))
        evhttp_request_free(req);
    if (!stream->inflight)
        s_stream_free(stream);
}

//  Unwritten bytes of the stream's connection.
static size_t s_pending(stream_t *stream)
{
    struct bufferevent *bev = evhttp_connection_get_bufferevent(stream->evcon);
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

//  Write out (buffer drained). A catch-up page waits for its written
//  callback before the next is read, so it is bounded by the page; what
//  is pushed (live events, heartbeats) is not, so when the client leaves
//  more than buffer_max unwritten it is dropped. False if closed.
static bool s_write(stream_t *stream, struct evbuffer *buffer,
                    void (*written)(struct evhttp_connection *, void *))
{
    evhttp_send_reply_chunk_with_cb(stream->req, buffer, written, written ? stream : NULL);
    if (stream->live && s_pending(stream) > stream->owner->config.buffer_max) {
        stream->owner->dropped++;
        rp_info("gateway: an event stream's client is not reading (%zu bytes waiting); "
                "closed, it resumes with Last-Event-ID",
                s_pending(stream));
        s_stream_close(stream, false);
        return false;
    }
    return true;
}

//  item (taken; NULL: none) as a Server-Sent Event into buffer, with an
//  event line when type is given; false if JSON cannot say it.
static bool s_frame_item(struct evbuffer *buffer, json_t *item, uint64_t seq, const char *type,
                         size_t type_len)
{
    size_t size = 0;
    char *text = item ? gw_json_dump(item, &size) : NULL;
    json_decref(item);
    if (!text) {
        rp_warn("gateway: item %" PRIu64 " cannot be said in JSON; the stream skips it", seq);
        return false;
    }
    evbuffer_add_printf(buffer, "id: %" PRIu64 "\n", seq);
    if (type)
        evbuffer_add_printf(buffer, "event: %.*s\n", (int)type_len, type);
    evbuffer_add(buffer, "data: ", 6);
    evbuffer_add(buffer, text, size);
    evbuffer_add(buffer, "\n\n", 2);
    free(text);
    return true;
}

//  One event as a Server-Sent Event into buffer; false if JSON cannot say it.
static bool s_frame(struct evbuffer *buffer, const msgpack_object *event, uint64_t seq,
                    const char *type, size_t type_len)
{
    return s_frame_item(buffer, gw_feedview_item(event, seq), seq, type, type_len);
}

//  A read's answer came: false when the stream closed meanwhile (freed).
static bool s_answered(stream_t *stream)
{
    stream->inflight = false;
    if (!stream->closed)
        return true;
    s_stream_free(stream);
    return false;
}

static void s_catch_up(stream_t *stream);

static void s_on_written(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    stream_t *stream = (stream_t *)arg;
    stream->writing = false;
    s_catch_up(stream);
}

static void s_on_catch_up(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    stream_t *stream = (stream_t *)arg;
    if (!s_answered(stream))
        return;
    const msgpack_object *events = reply->data ? rp_obj_get(reply->data, "events") : NULL;
    if (reply->status != 200 || !rp_obj_is_array(events)) {
        rp_warn("gateway: an event stream's journal.read answered %d; closed", reply->status);
        s_stream_close(stream, false);
        return;
    }
    struct evbuffer *buffer = evbuffer_new();
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        const msgpack_object *event = &events->via.array.ptr[i];
        uint64_t seq;
        const char *type;
        size_t type_len;
        if (!s_event_head(event, &seq, &type, &type_len) || seq <= stream->cursor)
            continue;
        stream->cursor = seq;
        if (gw_feedview_match(&stream->view, type, type_len))
            s_frame(buffer, event, seq, type, type_len);
    }
    uint64_t followed = stream->owner->cursor;
    bool empty = events->via.array.size == 0 && stream->cursor < followed;
    stream->empty = empty ? stream->empty + 1 : 0;
    if (stream->empty > GW_FEEDOUT_EMPTY_MAX) {
        //  The journal keeps having nothing where the follower has events:
        //  another journal answers (the follower will restart). (Once or
        //  twice is a race: the feed brought the follower an event committed
        //  after this read was answered; the next read has it.)
        evbuffer_free(buffer);
        s_stream_close(stream, false);
        return;
    }
    if (evbuffer_get_length(buffer)) { //  once written, the next page (perhaps empty)
        stream->writing = true;
        s_write(stream, buffer, s_on_written);
    } else if (stream->cursor >= followed)
        stream->live = true; //  from now on the follower's events come to it
    else
        s_catch_up(stream); //  a page of nothing taken: the next at once
    evbuffer_free(buffer);
}

//  Read the journal's next page for the stream.
static void s_catch_up(stream_t *stream)
{
    if (stream->closed || stream->live)
        return;
    if (stream->cursor == UINT64_MAX) {
        stream->live = true;
        return;
    }
    if (s_read(stream->owner, stream->cursor + 1, GW_FEEDOUT_STREAM_PAGE, s_on_catch_up, stream) ==
        0)
        stream->inflight = true;
    else
        s_stream_close(stream, false);
}

//  Open a stream on the exchange (taken): 200 text/event-stream, in the
//  owner's list. NULL (answered 503) when stopped or full.
static stream_t *s_stream_open(gw_feedout_t *self, gw_exchange_t **ex_p)
{
    if (self->stopped) {
        gw_problem_send(ex_p, 503, "shutting_down", "the gateway is stopping");
        return NULL;
    }
    if (self->count == self->config.streams) {
        gw_problem_send(ex_p, 503, "too_many_streams",
                        "this gateway has as many event streams open as it serves; retry later");
        return NULL;
    }
    stream_t *stream = (stream_t *)zmalloc(sizeof *stream);
    stream->owner = self;
    stream->req = gw_exchange_req(*ex_p);
    stream->evcon = evhttp_request_get_connection(stream->req);
    self->streams[self->count++] = stream;
    evhttp_connection_set_closecb(stream->evcon, s_on_closed, stream);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(stream->req);
    evhttp_add_header(headers, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(headers, "Cache-Control", "no-store");
    evhttp_add_header(headers, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(stream->req, 200, "OK");
    gw_exchange_done(ex_p, 200); //  counted (and timed) as it opens; the request stays evhttp's
    //  A stream is quiet between heartbeats: no read timeout; pending
    //  output that does not move for a minute drops it.
    struct bufferevent *bev = evhttp_connection_get_bufferevent(stream->evcon);
    struct timeval write = {STREAM_WRITE_IDLE_S, 0};
    if (bev)
        bufferevent_set_timeouts(bev, NULL, &write);
    return stream;
}

static void s_stream(gw_feedout_t *self, gw_exchange_t **ex_p, const gw_feedview_t *view)
{
    stream_t *stream = s_stream_open(self, ex_p);
    if (!stream)
        return;
    stream->view = *view;
    stream->cursor = view->after;
    s_catch_up(stream);
}

//  ---------------------------------------------------------------------
//  Service streams

//  Ask the stream's op {after: cursor} as its caller, min_seq the seq the
//  follower took: fn gets the answer. 0, or -1 if it could not be sent.
static int s_ask(gw_feedout_t *self, const char *service, const char *op, const gw_actor_t *actor,
                 uint64_t after, gw_upstream_fn *fn, void *arg)
{
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    gw_forward_envelope(&packer.pk, id, op, self->cursor, NULL, actor);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_u64(&packer.pk, "after", after);
    int rc = gw_upstream_send(self->upstream, service, id, packer.buffer.data, packer.buffer.size,
                              self->config.timeout_ms, fn, arg);
    rp_packer_destroy(&packer);
    return rc;
}

static void s_on_service(void *arg, const rp_reply_t *reply, const msgpack_object *root);

static void s_service_read(stream_t *stream)
{
    stream->dirty = false;
    gw_actor_t actor = {stream->user, stream->role, stream->team};
    if (s_ask(stream->owner, stream->service, stream->op, &actor, stream->cursor, s_on_service,
              stream) == 0)
        stream->inflight = true;
    else
        s_stream_close(stream, false);
}

//  The items of an answer {items: [{seq, …}…], next_after, more} as
//  Server-Sent Events (id: the item's seq), in the order given.
static void s_on_service(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    stream_t *stream = (stream_t *)arg;
    if (!s_answered(stream))
        return;
    const msgpack_object *items = reply->data ? rp_obj_get(reply->data, "items") : NULL;
    if (reply->status == 200 && rp_obj_is_array(items)) {
        struct evbuffer *buffer = evbuffer_new();
        for (uint32_t i = 0; i < items->via.array.size; i++) {
            uint64_t seq;
            if (!rp_obj_u64(rp_obj_get(&items->via.array.ptr[i], "seq"), &seq) ||
                seq <= stream->cursor)
                continue;
            stream->cursor = seq;
            s_frame_item(buffer, gw_json_from_msgpack(&items->via.array.ptr[i]), seq, NULL, 0);
        }
        uint64_t next;
        if (rp_obj_u64(rp_obj_get(reply->data, "next_after"), &next) && next > stream->cursor)
            stream->cursor = next;
        bool more = false;
        rp_obj_bool(rp_obj_get(reply->data, "more"), &more);
        bool open = !evbuffer_get_length(buffer) || s_write(stream, buffer, NULL);
        evbuffer_free(buffer);
        if (!open)
            return;
        stream->dirty |= more;
    } else if (reply->status != 503 && reply->status != 504) {
        rp_warn("gateway: a %s stream's %s answered %d; closed", stream->service, stream->op,
                reply->status);
        s_stream_close(stream, false);
        return;
    } //  unavailable, or behind: asked again when the feed moves
    if (stream->dirty)
        s_service_read(stream);
}

typedef struct {
    gw_exchange_t *ex;
} ask_t;

static void s_on_ask(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    ask_t *ask = (ask_t *)arg;
    if (reply->status == 200 && reply->data) {
        gw_exchange_add_header(ask->ex, "Cache-Control", "no-store");
        gw_exchange_send_json(&ask->ex, 200, gw_json_from_msgpack(reply->data));
    } else
        s_answer_error(&ask->ex, reply);
    free(ask);
}

void gw_feedout_service(gw_feedout_t *self, gw_exchange_t **ex_p)
{
    const rp_route_t *row = gw_exchange_row(*ex_p);
    const gw_actor_t *actor = gw_exchange_actor(*ex_p);
    const char *accept = gw_exchange_header(*ex_p, "Accept");
    bool stream = accept && strstr(accept, "text/event-stream") &&
                  evhttp_request_get_command(gw_exchange_req(*ex_p)) != EVHTTP_REQ_HEAD;
    const char *last = stream ? gw_exchange_header(*ex_p, "Last-Event-ID") : NULL;
    uint64_t after = 0;
    if (last && *last) {
        char *end;
        errno = 0;
        unsigned long long value = strtoull(last, &end, 10);
        if (*end || errno || last[0] < '0' || last[0] > '9') {
            gw_problem_send(ex_p, 400, "bad_last_event_id", "Last-Event-ID must be a seq");
            return;
        }
        after = value;
    }
    if (!stream) { //  one answer: what follows 0, as the op gives it
        ask_t *ask = (ask_t *)zmalloc(sizeof *ask);
        ask->ex = *ex_p;
        if (s_ask(self, row->service, row->op, actor, 0, s_on_ask, ask) == 0) {
            *ex_p = NULL;
            return;
        }
        free(ask);
        gw_problem_send(ex_p, 503, "broker_unavailable", "the service cannot be reached; retry");
        return;
    }
    char user[128], role[128], team[128];
    snprintf(user, sizeof user, "%s", actor->user ? actor->user : "");
    snprintf(role, sizeof role, "%s", actor->role ? actor->role : "");
    snprintf(team, sizeof team, "%s", actor->team ? actor->team : "");
    stream_t *s = s_stream_open(self, ex_p);
    if (!s)
        return;
    s->service = row->service;
    s->op = row->op;
    memcpy(s->user, user, sizeof user);
    memcpy(s->role, role, sizeof role);
    memcpy(s->team, team, sizeof team);
    s->cursor = after;
    s->live = true; //  what it pushes is bounded by buffer_max
    s_service_read(s);
}

void gw_feedout_event(gw_feedout_t *self, uint64_t seq, const char *type, size_t type_len,
                      const uint8_t *event, size_t size)
{
    self->cursor = seq;
    //  Service streams ask their op again (one request out at a time).
    for (size_t i = self->count; i-- > 0;) { //  closing one moves the last into i
        stream_t *stream = self->streams[i];
        if (!stream->service)
            continue;
        if (stream->inflight)
            stream->dirty = true;
        else
            s_service_read(stream);
    }
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    struct evbuffer *frame = NULL; //  made once, for the first stream that takes it
    bool failed = false;
    for (size_t i = self->count; i-- > 0;) { //  closing one moves the last into i
        stream_t *stream = self->streams[i];
        if (stream->service || !stream->live || seq <= stream->cursor)
            continue;
        stream->cursor = seq;
        if (failed || !gw_feedview_match(&stream->view, type, type_len))
            continue;
        if (!frame) {
            frame = evbuffer_new();
            failed = msgpack_unpack_next(&unpacked, (const char *)event, size, NULL) !=
                         MSGPACK_UNPACK_SUCCESS ||
                     !s_frame(frame, &unpacked.data, seq, type, type_len);
            if (failed)
                continue;
        }
        struct evbuffer *copy = evbuffer_new();
        evbuffer_add(copy, evbuffer_pullup(frame, -1), evbuffer_get_length(frame));
        s_write(stream, copy, NULL);
        evbuffer_free(copy);
    }
    if (frame)
        evbuffer_free(frame);
    msgpack_unpacked_destroy(&unpacked);
}

static void s_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_feedout_t *self = (gw_feedout_t *)arg;
    for (size_t i = self->count; i-- > 0;) {
        stream_t *stream = self->streams[i];
        if (stream->writing)
            continue; //  a page is on its way: not idle
        struct evbuffer *beat = evbuffer_new();
        evbuffer_add(beat, ": heartbeat\n\n", 13);
        s_write(stream, beat, NULL);
        evbuffer_free(beat);
    }
}

//  ---------------------------------------------------------------------

gw_feedout_t *gw_feedout_new(struct event_base *base, gw_upstream_t *upstream,
                             const gw_feedout_config_t *config)
{
    gw_feedout_t *self = (gw_feedout_t *)zmalloc(sizeof *self);
    self->upstream = upstream;
    self->config = *config;
    if (self->config.streams < 1)
        self->config.streams = 1;
    if (self->config.heartbeat_ms < 10)
        self->config.heartbeat_ms = 10;
    self->streams = (stream_t **)zmalloc(self->config.streams * sizeof *self->streams);
    self->heartbeat = event_new(base, -1, EV_PERSIST, s_on_heartbeat, self);
    assert(self->heartbeat);
    struct timeval beat = {self->config.heartbeat_ms / 1000,
                           (self->config.heartbeat_ms % 1000) * 1000};
    event_add(self->heartbeat, &beat);
    return self;
}

void gw_feedout_destroy(gw_feedout_t **self_p)
{
    gw_feedout_t *self = *self_p;
    if (!self)
        return;
    gw_feedout_stop(self);
    event_free(self->heartbeat);
    free(self->streams);
    free(self);
    *self_p = NULL;
}

void gw_feedout_answer(gw_feedout_t *self, gw_exchange_t **ex_p)
{
    json_t *args = gw_routes_query(ex_p, gw_exchange_row(*ex_p));
    if (!args)
        return;
    const char *accept = gw_exchange_header(*ex_p, "Accept");
    bool stream = accept && strstr(accept, "text/event-stream") &&
                  evhttp_request_get_command(gw_exchange_req(*ex_p)) != EVHTTP_REQ_HEAD;
    gw_feedview_t view;
    json_t *errors =
        gw_feedview_parse(&view, args, stream ? gw_exchange_header(*ex_p, "Last-Event-ID") : NULL);
    json_decref(args);
    if (errors)
        gw_problem_send_errors(ex_p, 422, "invalid", "the feed's query is not valid", errors);
    else if (stream)
        s_stream(self, ex_p, &view);
    else
        s_page(self, ex_p, &view);
}

void gw_feedout_restart(gw_feedout_t *self)
{
    while (self->count)
        s_stream_close(self->streams[self->count - 1], false);
    self->cursor = 0;
}

void gw_feedout_stop(gw_feedout_t *self)
{
    self->stopped = true;
    while (self->count)
        s_stream_close(self->streams[self->count - 1], true);
}

size_t gw_feedout_streams(gw_feedout_t *self)
{
    return self->count;
}

uint64_t gw_feedout_dropped(gw_feedout_t *self)
{
    return self->dropped;
}

//  ---------------------------------------------------------------------
//  Self-test: through rp_testbroker's journal (testkit.h).

#include "testkit.h"

static const rp_route_arg_t s_test_query[] = {RP_INT("after"), RP_TEXT("types"), RP_INT("limit"),
                                              RP_END};
static const rp_route_t s_test_row = {
    .method = "GET", .path = "/events", .special = "events", .query = s_test_query};

typedef struct {
    gw_feedout_t *feedout;
    gw_testkit_t *kit;
    struct event *later;
    int step;
} test_t;

static void s_test_handler(void *arg, gw_exchange_t **ex_p)
{
    test_t *test = (test_t *)arg;
    gw_exchange_set_row(*ex_p, &s_test_row);
    gw_exchange_set_actor(*ex_p, "k3", "integrator", "");
    gw_feedout_answer(test->feedout, ex_p);
}

//  What the follower would do while a stream is open: take a new event
//  (appended to the journal too), then let the heartbeats come, then stop.
static void s_test_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    test_t *test = (test_t *)arg;
    if (test->step++ == 0) {
        assert(gw_feedout_streams(test->feedout) == 1);
        uint64_t seq = rp_testbroker_append(gw_testkit_broker(test->kit), "a.v", false);
        rp_packer_t packer;
        rp_packer_init(&packer);
        msgpack_pack_map(&packer.pk, 3);
        rp_pack_kv_cstr(&packer.pk, "type", "a.v");
        rp_pack_kv_u64(&packer.pk, "seq", seq);
        rp_pack_cstr(&packer.pk, "data");
        msgpack_pack_map(&packer.pk, 1);
        rp_pack_kv_cstr(&packer.pk, "key_hash", "secret");
        gw_feedout_event(test->feedout, seq, "a.v", 3, (const uint8_t *)packer.buffer.data,
                         packer.buffer.size);
        rp_packer_destroy(&packer);
        struct timeval again = {0, 300 * 1000};
        evtimer_add(test->later, &again);
    } else
        gw_feedout_stop(test->feedout); //  ends the stream: the request is answered
}

static json_t *s_test_page(gw_testkit_t *kit, const char *path, int status)
{
    gw_testkit_answer_t answer;
    gw_testkit_request(kit, "GET", path, NULL, NULL, &answer);
    if (answer.status != status || !answer.json) {
        fprintf(stderr, "feedout test: %s: %d %s\n", path, answer.status, answer.body);
        assert(false);
    }
    json_t *json = json_incref(answer.json);
    gw_testkit_answer_free(&answer);
    return json;
}

//  The seqs of a page's items, as "1,3".
static void s_test_seqs(json_t *page, char *seqs, size_t size)
{
    seqs[0] = 0;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(page, "items"), i, item)
    {
        size_t len = strlen(seqs);
        snprintf(seqs + len, size - len, "%s%" JSON_INTEGER_FORMAT, i ? "," : "",
                 json_integer_value(json_object_get(item, "seq")));
    }
}

static void s_test_expect(gw_testkit_t *kit, const char *path, const char *seqs, int next_after)
{
    json_t *page = s_test_page(kit, path, 200);
    char found[256];
    s_test_seqs(page, found, sizeof found);
    if (!streq(found, seqs) ||
        json_integer_value(json_object_get(page, "next_after")) != next_after) {
        fprintf(stderr, "feedout test: %s: [%s] next_after %" JSON_INTEGER_FORMAT "\n", path, found,
                json_integer_value(json_object_get(page, "next_after")));
        assert(false);
    }
    json_decref(page);
}

void gw_feedout_test(void)
{
    test_t *test = (test_t *)zmalloc(sizeof *test);
    test->kit = gw_testkit_new(s_test_handler, test);
    gw_feedout_config_t config = {
        .timeout_ms = 5000, .heartbeat_ms = 100, .streams = 4, .buffer_max = 1024 * 1024};
    test->feedout =
        gw_feedout_new(gw_testkit_base(test->kit), gw_testkit_upstream(test->kit), &config);
    rp_testbroker_t *broker = gw_testkit_broker(test->kit);
    const char *types[] = {"a.x", "b.y", "a.z", "b.y", "a.w"};
    for (size_t i = 0; i < 5; i++) //  seqs 1..5, followed by the gateway
        assert(rp_testbroker_append(broker, types[i], false) == i + 1);

    //  Pages: filtered, chained by next_after, which moves over what was
    //  scanned even when nothing was taken; the head answers after itself.
    s_test_expect(test->kit, "/events?types=a.*&limit=2", "1,3", 3);
    s_test_expect(test->kit, "/events?types=a.*&limit=2&after=3", "5", 5);
    s_test_expect(test->kit, "/events?types=a.*&after=5", "", 5);
    s_test_expect(test->kit, "/events?types=c.x,b.y&after=2", "4", 5);
    s_test_expect(test->kit, "/events?types=c.x", "", 5);
    s_test_expect(test->kit, "/events?limit=3", "1,2,3", 3);
    json_t *problem = s_test_page(test->kit, "/events?limit=0&types=A", 422);
    assert(json_array_size(json_object_get(problem, "errors")) == 2);
    json_decref(problem);
    problem = s_test_page(test->kit, "/events?color=red", 400);
    json_decref(problem);

    //  A stream from Last-Event-ID 1: the journal's a.* after it, then a
    //  new event as the follower takes it (its key hash gone), heartbeats,
    //  and the end when the gateway stops.
    test->later = evtimer_new(gw_testkit_base(test->kit), s_test_later, test);
    struct timeval soon = {0, 300 * 1000};
    evtimer_add(test->later, &soon);
    gw_testkit_answer_t answer;
    gw_testkit_request(test->kit, "GET", "/events?types=a.*&after=4",
                       "Accept: text/event-stream\nLast-Event-ID: 1\n", NULL, &answer);
    assert(answer.status == 200 && test->step == 2);
    char value[64];
    assert(strstr(gw_testkit_header(&answer, "Content-Type", value, sizeof value),
                  "text/event-stream"));
    const char *three = strstr(answer.body, "id: 3\nevent: a.z\ndata: {");
    const char *five = strstr(answer.body, "id: 5\nevent: a.w\ndata: {");
    const char *six = strstr(answer.body, "id: 6\nevent: a.v\ndata: {");
    assert(three && five && six && three < five && five < six);
    assert(!strstr(answer.body, "id: 1\n") && !strstr(answer.body, "id: 2\n"));
    assert(!strstr(answer.body, "id: 4\n") && !strstr(answer.body, "secret"));
    assert(strstr(six, "\n\n: heartbeat\n\n"));
    assert(gw_feedout_streams(test->feedout) == 0);
    gw_testkit_answer_free(&answer);

    //  Stopped: no more streams.
    problem = s_test_page(test->kit, "/events", 200);
    json_decref(problem);
    gw_testkit_request(test->kit, "GET", "/events", "Accept: text/event-stream\n", NULL, &answer);
    assert(answer.status == 503);
    gw_testkit_answer_free(&answer);

    event_free(test->later);
    gw_feedout_destroy(&test->feedout); //  its heartbeat lives in the kit's base
    gw_testkit_destroy(&test->kit);
    free(test);
}
