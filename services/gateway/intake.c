/*  intake.c — see intake.h. */
#include "intake.h"

#include <czmq.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <rapport/log.h>
#include <strings.h>
#include <sys/socket.h>

#define LINE_MAX_BYTES   8192 //  a request line
#define CHUNK_LINE_MAX   1024 //  a chunk-size or trailer line
#define TRAILER_LINE_MAX 64

typedef enum {
    S_HEAD,   //  at a request's start
    S_PASS,   //  evhttp's request: everything passes until evhttp dispatches it
    S_TAKEN,  //  a taken request: its head passed, its body read here
    S_OPAQUE, //  something evhttp will refuse: everything passes
    S_DEAD,   //  the framing is lost: everything is dropped until the close
} state_t;

typedef enum { B_LENGTH, B_CHUNK_SIZE, B_CHUNK_DATA, B_TRAILER, B_DONE } body_t;

struct _gw_intake_t {
    size_t discard_max;
    char *paths[GW_INTAKE_PATHS_MAX];
    const void *tags[GW_INTAKE_PATHS_MAX];
    size_t path_count;
    zhashx_t *conns; //  filtering bufferevent → conn (borrowed: the filter owns it)
};

struct _gw_intake_conn_t {
    gw_intake_t *intake;             //  NULL once the intake is gone
    struct bufferevent *bev, *under; //  the filter evhttp reads, the socket's
    struct evhttp_connection *evcon; //  known from the first request seen
    struct event *kick;              //  processes held bytes, or closes, from the loop
    struct event *flush;             //  writes evhttp's output, from the loop
    struct event *writable;          //  the socket can take more (made when needed)
    state_t state;
    //  the taken request
    const void *tag;
    const char *refused;
    bool expect_continue, continued;
    body_t body;
    uint64_t remaining; //  of the body or the current chunk
    size_t trailer_lines;
    struct evhttp_request *dispatched; //  until answered
    bool answered, released, paused, ended, close_pending;
    bool held_back; //  this body was paused: its peer may be backing off (s_rearm)
    uint64_t discarded;
    int64_t armed_ms;
    const gw_intake_sink_t *sink;
    void *arg;
};

typedef struct _gw_intake_conn_t conn_t;

//  ---------------------------------------------------------------------
//  Small helpers

static bool s_ieq(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

//  1*DIGIT, at most 18 of them.
static bool s_decimal(const char *s, size_t len, uint64_t *value)
{
    if (len == 0 || len > 18)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *value = v;
    return true;
}

//  A chunk-size line: 1*HEXDIG, then nothing or an extension (";", or
//  the blank evhttp allows). 1 with *size, 0 for an empty line, -1 bad.
static int s_chunk_size(const char *line, size_t len, uint64_t *size)
{
    if (len == 0)
        return 0;
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && isxdigit((unsigned char)line[i]); i++) {
        if (v >> 56)
            return -1;
        char c = (char)tolower((unsigned char)line[i]);
        v = v * 16 + (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    if (i == 0 || (i < len && line[i] != ';' && line[i] != ' ' && line[i] != '\t'))
        return -1;
    *size = v;
    return 1;
}

static void s_kick_later(conn_t *c)
{
    if (c->kick)
        event_active(c->kick, EV_TIMEOUT, 1);
}

static void s_read(conn_t *c, bool on)
{
    if (!c->bev)
        return;
    if (on)
        bufferevent_enable(c->bev, EV_READ);
    else
        bufferevent_disable(c->bev, EV_READ);
}

//  evhttp's read timeout is reset only when bytes pass to it; a body read
//  here passes none, so its reading keeps the timer alive itself. Once
//  the body has been paused, the read timeout also covers the peer's
//  zero-window probe backoff (GW_INTAKE_PROBE_MAX_S): under load a long
//  pause left a peer that had all its bytes queued waiting for its next
//  probe, and the plain idle timeout dropped an import we were slowing.
static void s_rearm(conn_t *c)
{
    int64_t now = zclock_mono();
    if (!c->bev || now - c->armed_ms < 1000)
        return;
    struct timeval read = {GW_INTAKE_IDLE_S + (c->held_back ? GW_INTAKE_PROBE_MAX_S : 0), 0};
    struct timeval write = {GW_INTAKE_IDLE_S, 0};
    bufferevent_set_timeouts(c->bev, &read, &write);
    c->armed_ms = now;
}

//  The body is done with: evhttp's own timeouts again (gateway.c's
//  evhttp_set_timeout is GW_INTAKE_IDLE_S).
static void s_disarm(conn_t *c)
{
    if (!c->bev || !c->held_back)
        return;
    c->held_back = false;
    struct timeval tv = {GW_INTAKE_IDLE_S, 0};
    bufferevent_set_timeouts(c->bev, &tv, &tv);
    c->armed_ms = 0;
}

//  ---------------------------------------------------------------------
//  A request's head

//  The tag of a taken path for a request line "POST <target> HTTP/x.y".
static bool s_taken(gw_intake_t *self, const char *line, size_t len, const void **tag)
{
    if (len < 6 || memcmp(line, "POST ", 5) != 0)
        return false;
    const char *target = line + 5;
    const char *end = (const char *)memchr(target, ' ', len - 5);
    size_t target_len = end ? (size_t)(end - target) : 0;
    if (target_len == 0 || target_len >= LINE_MAX_BYTES)
        return false;
    char buffer[LINE_MAX_BYTES];
    memcpy(buffer, target, target_len);
    buffer[target_len] = 0;
    //  The path as the router sees it (evhttp_uri_get_path, not decoded).
    struct evhttp_uri *uri = NULL;
    const char *path = buffer;
    if (buffer[0] == '/')
        buffer[strcspn(buffer, "?#")] = 0;
    else {
        uri = evhttp_uri_parse_with_flags(buffer, EVHTTP_URI_NONCONFORMANT);
        path = uri ? evhttp_uri_get_path(uri) : NULL;
    }
    bool found = false;
    for (size_t i = 0; path && i < self->path_count && !found; i++)
        if (streq(path, self->paths[i])) {
            *tag = self->tags[i];
            found = true;
        }
    if (uri)
        evhttp_uri_free(uri);
    return found;
}

//  Bytes of the head (through its empty line) in data, 0 if incomplete.
static size_t s_head_end(const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    bool first = true;
    while (p < end) {
        const char *eol = (const char *)memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            return 0;
        size_t n = (size_t)(eol - p);
        if (!first && (n == 0 || (n == 1 && *p == '\r')))
            return (size_t)(eol + 1 - data);
        first = false;
        p = eol + 1;
    }
    return 0;
}

typedef enum { H_KEEP, H_FRAMING, H_CONNECTION } header_t;

//  What a header line is to the intake (name: value; value trimmed).
static header_t s_header(conn_t *c, const char *line, size_t len, int *cl_count, int *te_count,
                         bool *chunked, uint64_t *length, bool *bad_length)
{
    const char *colon = (const char *)memchr(line, ':', len);
    if (!colon) {
        c->refused = "a header line has no colon";
        return H_FRAMING;
    }
    size_t name_len = (size_t)(colon - line);
    const char *v = colon + 1, *ve = line + len;
    while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
    size_t value_len = (size_t)(ve - v);
    if (s_ieq(line, name_len, "Content-Length")) {
        (*cl_count)++;
        *bad_length |= !s_decimal(v, value_len, length);
        return H_FRAMING;
    }
    if (s_ieq(line, name_len, "Transfer-Encoding")) {
        (*te_count)++;
        *chunked = s_ieq(v, value_len, "chunked");
        return H_FRAMING;
    }
    if (s_ieq(line, name_len, "Expect")) {
        c->expect_continue = s_ieq(v, value_len, "100-continue");
        return H_FRAMING;
    }
    return s_ieq(line, name_len, "Connection") ? H_CONNECTION : H_KEEP;
}

//  Read a taken request's head (len bytes, complete): its framing into c,
//  and into dst the head evhttp gets — without the body's framing.
static void s_rewrite(conn_t *c, const char *head, size_t len, struct evbuffer *dst)
{
    int cl_count = 0, te_count = 0;
    bool chunked = false, bad_length = false;
    uint64_t length = 0;
    c->refused = NULL;
    c->expect_continue = false;
    //  First pass: the framing; second: what evhttp gets, which depends on
    //  whether the framing is refused (then Connection: close).
    for (int pass = 0; pass < 2; pass++) {
        const char *p = head, *end = head + len;
        const char *eol = (const char *)memchr(p, '\n', len);
        if (pass == 1)
            evbuffer_add(dst, p, (size_t)(eol + 1 - p)); //  the request line
        p = eol + 1;
        header_t last = H_KEEP;
        while (p < end) {
            eol = (const char *)memchr(p, '\n', (size_t)(end - p));
            size_t n = (size_t)(eol - p), trimmed = n && p[n - 1] == '\r' ? n - 1 : n;
            if (trimmed == 0)
                break;
            header_t kind = last;
            if (*p == ' ' || *p == '\t') { //  obs-fold: part of the last header
                if (pass == 0 && last == H_FRAMING)
                    c->refused = "a framing header is folded over lines";
            } else if (pass == 0)
                kind =
                    s_header(c, p, trimmed, &cl_count, &te_count, &chunked, &length, &bad_length);
            else {
                int ignored = 0;
                bool ignored_b = false;
                uint64_t ignored_u = 0;
                const char *refused = c->refused;
                bool expect = c->expect_continue;
                kind =
                    s_header(c, p, trimmed, &ignored, &ignored, &ignored_b, &ignored_u, &ignored_b);
                c->refused = refused;
                c->expect_continue = expect;
            }
            if (pass == 1 && (kind == H_KEEP || (kind == H_CONNECTION && !c->refused)))
                evbuffer_add(dst, p, n + 1);
            last = kind;
            p = eol + 1;
        }
        if (pass == 0 && !c->refused) {
            if (te_count > 1 || (te_count && !chunked))
                c->refused = "only the chunked transfer coding is accepted";
            else if (te_count && cl_count)
                c->refused = "Content-Length and Transfer-Encoding together";
            else if (cl_count > 1)
                c->refused = "more than one Content-Length";
            else if (bad_length)
                c->refused = "the Content-Length is not a number";
        }
    }
    if (c->refused)
        evbuffer_add(dst, "Connection: close\r\n", 19);
    evbuffer_add(dst, "\r\n", 2);
    c->remaining = 0;
    if (c->refused)
        c->body = B_DONE;
    else if (te_count)
        c->body = B_CHUNK_SIZE;
    else {
        c->remaining = length;
        c->body = length ? B_LENGTH : B_DONE;
    }
}

//  At a request's start: bytes added to dst, or -1 to wait for more.
static int s_head(conn_t *c, struct evbuffer *src, struct evbuffer *dst, bool eof)
{
    size_t len = evbuffer_get_length(src);
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(src, NULL, &eol_len, EVBUFFER_EOL_LF);
    if (eol.pos < 0 || eol.pos >= LINE_MAX_BYTES) {
        if (eol.pos < 0 && !eof && len < LINE_MAX_BYTES)
            return -1;
        c->state = S_OPAQUE; //  evhttp refuses it
        return 0;
    }
    const char *line = eol.pos ? (const char *)evbuffer_pullup(src, eol.pos) : "";
    size_t n = (size_t)eol.pos;
    if (n && line[n - 1] == '\r')
        n--;
    const void *tag = NULL;
    if (!c->intake || !s_taken(c->intake, line, n, &tag)) {
        c->state = S_PASS;
        return 0;
    }
    size_t max = len < GW_INTAKE_HEAD_MAX ? len : GW_INTAKE_HEAD_MAX;
    const char *head = (const char *)evbuffer_pullup(src, (ev_ssize_t)max);
    size_t head_len = s_head_end(head, max);
    if (!head_len) {
        if (!eof && len < GW_INTAKE_HEAD_MAX)
            return -1;
        c->state = S_OPAQUE; //  evhttp refuses a head this long
        return 0;
    }
    if (c->sink && c->sink->closed) //  a claimer that never released: cannot be, but be sure
        c->sink->closed(c->arg);
    size_t before = evbuffer_get_length(dst);
    s_rewrite(c, head, head_len, dst);
    evbuffer_drain(src, head_len);
    c->state = S_TAKEN;
    c->tag = tag;
    c->continued = c->answered = c->released = c->paused = c->ended = false;
    c->dispatched = NULL;
    c->sink = NULL;
    c->arg = NULL;
    c->discarded = 0;
    c->trailer_lines = 0;
    return (int)(evbuffer_get_length(dst) - before);
}

//  ---------------------------------------------------------------------
//  A taken request's body

//  The framing is lost: the claimer learns it, the connection closes.
static void s_broken(conn_t *c)
{
    if (c->sink && !c->ended) {
        c->ended = true;
        c->sink->end(c->arg, false);
    }
    c->state = S_DEAD;
    c->close_pending = true;
    if (c->answered)
        s_kick_later(c);
}

//  Hand n bytes of src to the claimer, or drop them. False if it paused
//  (or the discard went over its bound).
static bool s_deliver(conn_t *c, struct evbuffer *src, size_t n)
{
    s_rearm(c);
    if (!c->sink || c->released) {
        evbuffer_drain(src, n);
        c->remaining -= n;
        c->discarded += n;
        if (c->intake && c->discarded > c->intake->discard_max) {
            c->state = S_DEAD;
            c->close_pending = true;
            if (c->answered)
                s_kick_later(c);
            return false;
        }
        return true;
    }
    struct evbuffer_iovec chunks[8];
    int count = evbuffer_peek(src, (ev_ssize_t)n, NULL, chunks, 8);
    size_t done = 0;
    bool more = true;
    for (int i = 0; i < count && i < 8 && done < n && more && c->sink; i++) {
        size_t size = chunks[i].iov_len < n - done ? chunks[i].iov_len : n - done;
        more = c->sink->data(c->arg, (const char *)chunks[i].iov_base, size);
        done += size;
    }
    evbuffer_drain(src, done);
    c->remaining -= done;
    if (!more && c->sink) {
        c->paused = true;
        c->held_back = true;
        s_read(c, false);
        return false;
    }
    return true;
}

//  A line of the chunked coding: 1 with it (len bytes, line end cut)
//  copied into line, 0 to wait, -1 too long.
static int s_body_line(struct evbuffer *src, char line[CHUNK_LINE_MAX + 1], size_t *len)
{
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(src, NULL, &eol_len, EVBUFFER_EOL_LF);
    if (eol.pos < 0)
        return evbuffer_get_length(src) > CHUNK_LINE_MAX ? -1 : 0;
    if (eol.pos > CHUNK_LINE_MAX)
        return -1;
    size_t n = (size_t)eol.pos;
    evbuffer_remove(src, line, n);
    evbuffer_drain(src, eol_len);
    line[n] = 0;
    if (n && line[n - 1] == '\r')
        n--;
    *len = n;
    return 1;
}

//  Read the body on; true when it is complete and the next request may be
//  read at once (its answer is out), false to stop for now.
static bool s_body(conn_t *c, struct evbuffer *src)
{
    if (!c->sink && !c->released && !c->answered)
        return false; //  waiting for the claim (or the answer without one)
    while (c->body != B_DONE) {
        bool discard = c->released || (c->answered && !c->sink);
        if (!discard && (!c->sink || c->paused))
            return false; //  paused
        //  Before waiting for bytes: a sink that paused at the data's last
        //  byte resumes here with none to come.
        if ((c->body == B_LENGTH || c->body == B_CHUNK_DATA) && c->remaining == 0) {
            c->body = c->body == B_LENGTH ? B_DONE : B_CHUNK_SIZE;
            continue;
        }
        size_t len = evbuffer_get_length(src);
        if (len == 0)
            return false;
        if (c->body == B_LENGTH || c->body == B_CHUNK_DATA) {
            size_t n = c->remaining < len ? (size_t)c->remaining : len;
            if (!s_deliver(c, src, n))
                return false;
            continue;
        }
        char line[CHUNK_LINE_MAX + 1];
        size_t n = 0;
        int got = s_body_line(src, line, &n);
        if (got == 0)
            return false;
        uint64_t size = 0;
        int kind = got < 0 ? -1 : c->body == B_TRAILER ? (n ? 1 : 0) : s_chunk_size(line, n, &size);
        if (kind < 0 || (c->body == B_TRAILER && ++c->trailer_lines > TRAILER_LINE_MAX)) {
            s_broken(c);
            return false;
        }
        if (c->body == B_TRAILER) {
            if (kind == 0)
                c->body = B_DONE;
        } else if (kind == 1) { //  an empty line (after a chunk's data) is skipped, as evhttp does
            c->remaining = size;
            c->body = size ? B_CHUNK_DATA : B_TRAILER;
        }
    }
    if (c->sink && !c->ended) {
        c->ended = true;
        c->sink->end(c->arg, true); //  it may release (and answer) here
    }
    c->state = S_HEAD;
    s_disarm(c);
    if (!c->answered) {
        s_read(c, false); //  as evhttp left it while it answers
        return false;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  The filter

static enum bufferevent_filter_result s_filter_in(struct evbuffer *src, struct evbuffer *dst,
                                                  ev_ssize_t limit,
                                                  enum bufferevent_flush_mode mode, void *arg)
{
    conn_t *c = (conn_t *)arg;
    size_t passed = 0, room = limit < 0 ? SIZE_MAX : (size_t)limit;
    bool go = true;
    //  A taken request may complete with nothing more to read (no body).
    while (go && (evbuffer_get_length(src) || c->state == S_TAKEN)) {
        switch (c->state) {
        case S_PASS:
        case S_OPAQUE: {
            size_t n = evbuffer_get_length(src);
            n = n < room - passed ? n : room - passed;
            evbuffer_remove_buffer(src, dst, n);
            passed += n;
            go = false;
            break;
        }
        case S_DEAD:
            evbuffer_drain(src, evbuffer_get_length(src));
            go = false;
            break;
        case S_HEAD: {
            int added = s_head(c, src, dst, mode != BEV_NORMAL);
            if (added < 0)
                go = false;
            else
                passed += (size_t)added;
            break;
        }
        case S_TAKEN:
            if (c->refused) {
                evbuffer_drain(src, evbuffer_get_length(src)); //  evhttp closes after the answer
                go = false;
            } else
                go = s_body(c, src);
            break;
        }
    }
    //  BEV_OK makes evhttp read: only when it has something to read.
    return passed ? BEV_OK : BEV_NEED_MORE;
}

//  The output side. evhttp counts an answer as written once its
//  bufferevent's output is empty, and may then close the socket at once
//  (Connection: close); with a filter that moment must be when the bytes
//  are in the kernel, not in the socket bufferevent's output, or a closing
//  answer is lost. So the output filter writes to the socket itself, and
//  only from the loop (s_flush_now): evhttp sets its write callback after
//  adding the bytes, so the callback must not run inside the add.
static conn_t *s_flushing = NULL; //  the conn whose output is being written now

static void s_flush_now(evutil_socket_t fd, short what, void *arg);

static enum bufferevent_filter_result s_filter_out(struct evbuffer *src, struct evbuffer *dst,
                                                   ev_ssize_t limit,
                                                   enum bufferevent_flush_mode mode, void *arg)
{
    (void)limit;
    (void)mode;
    conn_t *c = (conn_t *)arg;
    if (s_flushing != c) {
        if (c->flush)
            event_active(c->flush, EV_TIMEOUT, 1);
        return BEV_NEED_MORE;
    }
    if (evbuffer_get_length(dst))
        return BEV_NEED_MORE; //  a 100 Continue goes first; its write brings us back
    evutil_socket_t fd = bufferevent_getfd(c->under);
    size_t before = evbuffer_get_length(src);
    int n = 1;
    while (evbuffer_get_length(src) && (n = evbuffer_write(src, fd)) > 0)
        ;
    if (evbuffer_get_length(src) == 0)
        return BEV_OK;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        evbuffer_add_buffer(dst, src); //  the socket's bufferevent reports the error to evhttp
        return BEV_OK;
    }
    if (evbuffer_get_length(src) < before)
        s_rearm(c); //  progress: evhttp's write timeout counts from here
    if (!c->writable)
        c->writable = event_new(bufferevent_get_base(c->bev), fd, EV_WRITE, s_flush_now, c);
    if (c->writable)
        event_add(c->writable, NULL); //  once; the socket's writability calls us back
    return BEV_NEED_MORE;
}

static void s_flush_now(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = (conn_t *)arg;
    s_flushing = c;
    //  May answer evhttp's write callback, which may free the connection
    //  (and c, once the filter's references are gone): c is not used after.
    bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
    s_flushing = NULL;
}

//  evhttp added output (perhaps before enabling writes): write it soon.
static void s_output_added(struct evbuffer *buffer, const struct evbuffer_cb_info *info, void *arg)
{
    (void)buffer;
    conn_t *c = (conn_t *)arg;
    if (info->n_added && c->flush)
        event_active(c->flush, EV_TIMEOUT, 1);
}

static void s_conn_free(void *arg)
{
    conn_t *c = (conn_t *)arg;
    if (c->sink && c->sink->closed)
        c->sink->closed(c->arg);
    if (c->intake)
        zhashx_delete(c->intake->conns, c->bev);
    if (c->kick)
        event_free(c->kick);
    if (c->flush)
        event_free(c->flush);
    if (c->writable)
        event_free(c->writable);
    if (s_flushing == c)
        s_flushing = NULL;
    free(c);
}

static void s_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_t *c = (conn_t *)arg;
    if (c->close_pending && c->answered && c->evcon) {
        evhttp_connection_free(c->evcon); //  frees c (s_conn_free)
        return;
    }
    //  The filter runs (if evhttp's reading is on) even with nothing held:
    //  a taken request without a body completes there.
    bufferevent_trigger(c->under, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

static void s_on_complete(struct evhttp_request *req, void *arg)
{
    conn_t *c = (conn_t *)arg;
    if (req == c->dispatched) {
        c->answered = true;
        c->dispatched = NULL;
    }
    //  Held bytes are read once evhttp has started reading the next request.
    if (c->state == S_TAKEN || c->close_pending ||
        evbuffer_get_length(bufferevent_get_input(c->under)))
        s_kick_later(c);
}

static struct bufferevent *s_bevcb(struct event_base *base, void *arg)
{
    gw_intake_t *self = (gw_intake_t *)arg;
    struct bufferevent *under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    conn_t *c = (conn_t *)zmalloc(sizeof *c);
    c->intake = self;
    struct bufferevent *bev = under ? bufferevent_filter_new(under, s_filter_in, s_filter_out,
                                                             BEV_OPT_CLOSE_ON_FREE, s_conn_free, c)
                                    : NULL;
    if (!bev) { //  evhttp makes its own: imports on it are refused, loudly
        rp_error("gateway: cannot filter a connection: its imports will fail");
        if (under)
            bufferevent_free(under);
        free(c);
        return NULL;
    }
    c->bev = bev;
    c->under = under;
    c->kick = event_new(base, -1, 0, s_kick, c);
    c->flush = event_new(base, -1, 0, s_flush_now, c);
    assert(c->kick && c->flush);
    evbuffer_add_cb(bufferevent_get_output(bev), s_output_added, c);
    zhashx_insert(self->conns, bev, c);
    return bev;
}

//  ---------------------------------------------------------------------

static size_t s_ptr_hash(const void *key)
{
    return (size_t)(uintptr_t)key >> 4;
}

static int s_ptr_compare(const void *a, const void *b)
{
    return a < b ? -1 : a > b;
}

//  Does this libevent let evhttp's connection be a filter (the filter
//  passes bufferevent_setfd down to the socket's bufferevent)?
static bool s_filters_work(struct event_base *base)
{
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
        return false;
    struct bufferevent *under = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct bufferevent *bev =
        under ? bufferevent_filter_new(under, NULL, NULL, BEV_OPT_CLOSE_ON_FREE, NULL, NULL) : NULL;
    bool ok = bev && bufferevent_setfd(bev, fds[0]) == 0 && bufferevent_getfd(under) == fds[0];
    if (bev)
        bufferevent_free(bev); //  and under
    else if (under)
        bufferevent_free(under);
    if (!ok)
        close(fds[0]);
    close(fds[1]);
    return ok;
}

gw_intake_t *gw_intake_new(struct event_base *base, struct evhttp *http, size_t discard_max)
{
    if (!s_filters_work(base)) {
        rp_error("gateway: this libevent cannot filter evhttp connections "
                 "(bufferevent_setfd on a filter): imports cannot stream");
        return NULL;
    }
    gw_intake_t *self = (gw_intake_t *)zmalloc(sizeof *self);
    self->discard_max = discard_max;
    self->conns = zhashx_new();
    zhashx_set_key_hasher(self->conns, s_ptr_hash);
    zhashx_set_key_comparator(self->conns, s_ptr_compare);
    zhashx_set_key_duplicator(self->conns, NULL);
    zhashx_set_key_destructor(self->conns, NULL);
    if (http)
        evhttp_set_bevcb(http, s_bevcb, self);
    return self;
}

void gw_intake_destroy(gw_intake_t **self_p)
{
    gw_intake_t *self = *self_p;
    if (!self)
        return;
    for (conn_t *c = (conn_t *)zhashx_first(self->conns); c; c = (conn_t *)zhashx_next(self->conns))
        c->intake = NULL;
    zhashx_destroy(&self->conns);
    for (size_t i = 0; i < self->path_count; i++)
        free(self->paths[i]);
    free(self);
    *self_p = NULL;
}

void gw_intake_take(gw_intake_t *self, const char *path, const void *tag)
{
    assert(self->path_count < GW_INTAKE_PATHS_MAX);
    self->paths[self->path_count] = strdup(path);
    self->tags[self->path_count++] = tag;
}

static conn_t *s_conn_of(gw_intake_t *self, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = req ? evhttp_request_get_connection(req) : NULL;
    return evcon ? (conn_t *)zhashx_lookup(self->conns, evhttp_connection_get_bufferevent(evcon))
                 : NULL;
}

void gw_intake_seen(gw_intake_t *self, struct evhttp_request *req)
{
    conn_t *c = s_conn_of(self, req);
    if (!c)
        return;
    c->evcon = evhttp_request_get_connection(req);
    //  evhttp holds what came after this request: back to be read here.
    struct evbuffer *held = bufferevent_get_input(c->bev);
    if (evbuffer_get_length(held))
        evbuffer_prepend_buffer(bufferevent_get_input(c->under), held);
    evhttp_request_set_on_complete_cb(req, s_on_complete, c);
    if (c->state == S_PASS)
        c->state = S_HEAD;
    else if (c->state == S_TAKEN && !c->dispatched && !c->answered)
        c->dispatched = req;
}

gw_intake_conn_t *gw_intake_claim(gw_intake_t *self, struct evhttp_request *req,
                                  const gw_intake_sink_t *sink, void *arg)
{
    conn_t *c = s_conn_of(self, req);
    if (!c || c->state != S_TAKEN || c->dispatched != req || c->sink || c->released)
        return NULL;
    c->sink = sink;
    c->arg = arg;
    if (!c->refused) {
        s_read(c, true); //  evhttp stopped reading to answer: the body is ours to read
        c->armed_ms = 0;
        s_rearm(c);
        s_kick_later(c);
    }
    return c;
}

const void *gw_intake_tag(gw_intake_conn_t *c)
{
    return c->tag;
}

const char *gw_intake_refused(gw_intake_conn_t *c)
{
    return c->refused;
}

void gw_intake_continue(gw_intake_conn_t *c)
{
    static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (c->expect_continue && !c->continued && c->state == S_TAKEN && c->under) {
        bufferevent_write(c->under, line,
                          sizeof line - 1); //  before any answer: evhttp has none yet
        c->continued = true;
    }
}

void gw_intake_resume(gw_intake_conn_t *c)
{
    if (!c->paused)
        return;
    c->paused = false;
    if (c->state == S_TAKEN) {
        s_read(c, true);
        c->armed_ms = 0; //  the timeout with the peer's backoff, from now
        s_rearm(c);
    }
    s_kick_later(c);
}

void gw_intake_release(gw_intake_conn_t *c)
{
    c->sink = NULL;
    c->arg = NULL;
    c->released = true;
    if (c->state == S_TAKEN && c->body != B_DONE) { //  the rest is dropped as it comes
        c->paused = false;
        s_read(c, true);
        s_kick_later(c);
    }
}

//  ---------------------------------------------------------------------
//  Self-test: the filter on buffers, without sockets.

typedef struct {
    char data[256];
    size_t size;
    int ended; //  0 not yet, 1 ok, -1 broken
    size_t pause_at;
} test_sink_t;

static bool s_test_data(void *arg, const char *data, size_t size)
{
    test_sink_t *t = (test_sink_t *)arg;
    assert(t->size + size < sizeof t->data);
    memcpy(t->data + t->size, data, size);
    t->size += size;
    return !t->pause_at || t->size < t->pause_at;
}

static void s_test_end(void *arg, bool ok)
{
    ((test_sink_t *)arg)->ended = ok ? 1 : -1;
}

static const gw_intake_sink_t s_test_sink = {s_test_data, s_test_end, NULL};

//  Feed text in pieces of step bytes (0: at once); the passed bytes go to out.
static void s_test_feed(conn_t *c, const char *text, size_t step, struct evbuffer *src,
                        struct evbuffer *out)
{
    size_t len = strlen(text);
    for (size_t at = 0; at < len;) {
        size_t n = step && len - at > step ? step : len - at;
        evbuffer_add(src, text + at, n);
        at += n;
        s_filter_in(src, out, -1, BEV_NORMAL, c);
    }
}

static bool s_test_is(struct evbuffer *buffer, const char *text)
{
    size_t len = evbuffer_get_length(buffer);
    bool same = len == strlen(text) && memcmp(evbuffer_pullup(buffer, -1), text, len) == 0;
    evbuffer_drain(buffer, len);
    return same;
}

void gw_intake_test(void)
{
    assert(s_chunk_size("1aF", 3, &(uint64_t){0}) == 1);
    uint64_t size = 0;
    assert(s_chunk_size("10;x=y", 6, &size) == 1 && size == 16);
    assert(s_chunk_size("", 0, &size) == 0);
    assert(s_chunk_size("zz", 2, &size) == -1 && s_chunk_size("5x", 2, &size) == -1);
    assert(s_chunk_size("ffffffffffffffffff", 18, &size) == -1);

    gw_intake_t intake = {.discard_max = 8, .path_count = 1};
    intake.paths[0] = (char *)"/imp";
    intake.tags[0] = &intake;
    conn_t c = {.intake = &intake};
    struct evbuffer *src = evbuffer_new(), *out = evbuffer_new();
    const void *tag = NULL;
    assert(s_taken(&intake, "POST /imp?x=1 HTTP/1.1", 22, &tag) && tag == &intake);
    assert(s_taken(&intake, "POST http://h:1/imp HTTP/1.1", 28, &tag));
    assert(!s_taken(&intake, "POST /imp/ HTTP/1.1", 19, &tag));
    assert(!s_taken(&intake, "GET /imp HTTP/1.1", 17, &tag));

    //  Not taken: passed untouched, whatever follows, until evhttp dispatches.
    s_test_feed(&c, "GET /x HTTP/1.1\r\nHost: a\r\n\r\nPOST /imp HTTP/1.1\r\n", 0, src, out);
    assert(c.state == S_PASS && evbuffer_get_length(src) == 0);
    assert(s_test_is(out, "GET /x HTTP/1.1\r\nHost: a\r\n\r\nPOST /imp HTTP/1.1\r\n"));

    //  A Content-Length body, fed a byte at a time: the head loses its
    //  framing headers, the body waits for the claim, then goes to the sink.
    static const char *with_length = "POST /imp?dry_run=true HTTP/1.1\r\nHost: a\r\n"
                                     "content-length: 5\r\nExpect: 100-continue\r\n"
                                     "Connection: keep-alive\r\n\r\nabcde";
    for (size_t step = 0; step < 2; step++) {
        c = (conn_t){.intake = &intake};
        test_sink_t sink = {.size = 0};
        s_test_feed(&c, with_length, step, src, out);
        assert(c.state == S_TAKEN && c.expect_continue && !c.refused && c.tag == &intake);
        assert(s_test_is(out, "POST /imp?dry_run=true HTTP/1.1\r\nHost: a\r\n"
                              "Connection: keep-alive\r\n\r\n"));
        assert(evbuffer_get_length(src) == 5); //  nothing read before the claim
        c.sink = &s_test_sink;
        c.arg = &sink;
        s_filter_in(src, out, -1, BEV_NORMAL, &c);
        assert(sink.size == 5 && memcmp(sink.data, "abcde", 5) == 0 && sink.ended == 1);
        assert(c.state == S_HEAD && evbuffer_get_length(out) == 0);
    }

    //  Chunked, split at every byte, answered before the next request: the
    //  trailer is read and the next request passes at once.
    static const char *chunked = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
                                 "GET / HTTP/1.1\r\n\r\n";
    for (size_t step = 0; step < 2; step++) {
        c = (conn_t){.intake = &intake};
        test_sink_t sink = {.size = 0};
        s_test_feed(&c, "POST /imp HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n", step, src, out);
        c.sink = &s_test_sink; //  claimed, and answered already
        c.arg = &sink;
        c.answered = true;
        s_test_feed(&c, chunked, step, src, out);
        assert(sink.size == 11 && memcmp(sink.data, "hello world", 11) == 0 && sink.ended == 1);
        assert(s_test_is(out, "POST /imp HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n"));
        assert(c.state == S_PASS);
    }

    //  A sink that pauses gets nothing more until resumed.
    c = (conn_t){.intake = &intake};
    test_sink_t paused = {.pause_at = 2};
    s_test_feed(&c, "POST /imp HTTP/1.1\r\nContent-Length: 4\r\n\r\n", 0, src, out);
    evbuffer_drain(out, evbuffer_get_length(out));
    c.sink = &s_test_sink;
    c.arg = &paused;
    s_test_feed(&c, "ab", 0, src, out);
    s_test_feed(&c, "cd", 0, src, out);
    assert(paused.size == 2 && c.paused && evbuffer_get_length(src) == 2);
    paused.pause_at = 0;
    gw_intake_resume(&c);
    s_filter_in(src, out, -1, BEV_NORMAL, &c);
    assert(paused.size == 4 && paused.ended == 1);

    //  A sink that pauses at the body's last byte is ended at its resume,
    //  with nothing more to read (under load, the import's queue was full
    //  just then, and the body never ended).
    c = (conn_t){.intake = &intake};
    test_sink_t last = {.pause_at = 4};
    s_test_feed(&c, "POST /imp HTTP/1.1\r\nContent-Length: 4\r\n\r\n", 0, src, out);
    evbuffer_drain(out, evbuffer_get_length(out));
    c.sink = &s_test_sink;
    c.arg = &last;
    s_test_feed(&c, "abcd", 0, src, out);
    assert(last.size == 4 && c.paused && last.ended == 0 && evbuffer_get_length(src) == 0);
    last.pause_at = 0;
    gw_intake_resume(&c);
    s_filter_in(src, out, -1, BEV_NORMAL, &c);
    assert(last.ended == 1);

    //  Answered without a claim: the body is dropped, then the next request
    //  is read; over discard_max, the connection is given up.
    c = (conn_t){.intake = &intake};
    s_test_feed(&c, "POST /imp HTTP/1.1\r\nContent-Length: 3\r\n\r\n", 0, src, out);
    evbuffer_drain(out, evbuffer_get_length(out));
    c.answered = true;
    s_test_feed(&c, "xyzGET / HTTP/1.1\r\n\r\n", 0, src, out);
    assert(s_test_is(out, "GET / HTTP/1.1\r\n\r\n"));
    c = (conn_t){.intake = &intake};
    s_test_feed(&c, "POST /imp HTTP/1.1\r\nContent-Length: 30\r\n\r\n", 0, src, out);
    evbuffer_drain(out, evbuffer_get_length(out));
    c.answered = true;
    s_test_feed(&c, "0123456789", 0, src, out);
    assert(c.state == S_DEAD && c.close_pending && evbuffer_get_length(out) == 0);

    //  Ambiguous framing is refused: evhttp is told to close.
    const char *ambiguous[] = {
        "POST /imp HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST /imp HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        "POST /imp HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        "POST /imp HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
        "POST /imp HTTP/1.1\r\nContent-Length:\r\n 3\r\n\r\n",
        "POST /imp HTTP/1.1\r\nConnection: keep-alive\r\nno colon\r\n\r\n"};
    for (size_t i = 0; i < sizeof ambiguous / sizeof ambiguous[0]; i++) {
        c = (conn_t){.intake = &intake};
        s_test_feed(&c, ambiguous[i], 0, src, out);
        assert(c.state == S_TAKEN && c.refused);
        assert(s_test_is(out, "POST /imp HTTP/1.1\r\nConnection: close\r\n\r\n"));
        s_test_feed(&c, "abc", 0, src, out);
        assert(evbuffer_get_length(src) == 0 && evbuffer_get_length(out) == 0);
    }

    //  Broken chunks end the body with ok false.
    c = (conn_t){.intake = &intake};
    test_sink_t broken = {.size = 0};
    s_test_feed(&c, "POST /imp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 0, src, out);
    c.sink = &s_test_sink;
    c.arg = &broken;
    s_test_feed(&c, "2\r\nokzz\r\n", 0, src, out);
    assert(broken.size == 2 && broken.ended == -1 && c.state == S_DEAD && c.close_pending);
    evbuffer_free(src);
    evbuffer_free(out);
}
