/*  testkit.c — see testkit.h. */
#include "testkit.h"
#include "json.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <rapport/envelope.h>
#include <rapport/pack.h>
#include <rapport/testbroker.h>
#include <rapport/worker.h>

struct _gw_testkit_t {
    rp_testbroker_t *broker;
    zactor_t *worker;
    struct event_base *base;
    struct evhttp *http;
    int port;
    gw_metrics_t *metrics;
    gw_upstream_t *upstream;
    gw_seqs_t *seqs;
    gw_testkit_fn *handler;
    void *arg;
};

//  ---------------------------------------------------------------------
//  The echo worker

static void s_echo_data(msgpack_packer *pk, const rp_request_t *req)
{
    msgpack_pack_map(pk, 6);
    rp_pack_kv_cstr(pk, "id", "r1");
    rp_pack_kv_u64(pk, "version", 3);
    rp_pack_cstr(pk, "op");
    rp_pack_strn(pk, req->op, req->op_len);
    rp_pack_cstr(pk, "idem");
    if (req->idem)
        rp_pack_strn(pk, req->idem, req->idem_len);
    else
        msgpack_pack_nil(pk);
    rp_pack_kv_u64(pk, "min_seq", req->min_seq);
    if (req->args)
        rp_pack_kv_obj(pk, "args", req->args);
    else {
        rp_pack_cstr(pk, "args");
        msgpack_pack_nil(pk);
    }
}

//  The reply to one request, by its op (testkit.h).
static void s_echo(msgpack_packer *pk, const rp_request_t *req, bool write, int *lost)
{
    if (rp_request_is(req, "t.fail")) {
        rp_reply_pack_error_details(pk, req->id, 422, "invalid", "some fields are not valid");
        msgpack_pack_map(pk, 1);
        rp_pack_cstr(pk, "errors");
        msgpack_pack_array(pk, 1);
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "field", "f");
        rp_pack_kv_cstr(pk, "code", "invalid");
        rp_pack_kv_cstr(pk, "message", "not valid");
    } else if (rp_request_is(req, "t.conflict")) {
        rp_reply_pack_error_details(pk, req->id, 409, "duplicate", "a duplicate");
        msgpack_pack_map(pk, 2);
        rp_pack_cstr(pk, "fields");
        msgpack_pack_array(pk, 1);
        rp_pack_cstr(pk, "tax_id");
        rp_pack_cstr(pk, "ids");
        msgpack_pack_array(pk, 1);
        rp_pack_cstr(pk, "c1");
    } else if (rp_request_is(req, "t.in_use")) {
        rp_reply_pack_error_details(pk, req->id, 409, "stage_in_use", "open deals");
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "stage", "demo");
        rp_pack_kv_u64(pk, "open", 2);
        rp_pack_kv_cstr(pk, "code", "not_this"); //  never over the problem's own
    } else if (rp_request_is(req, "t.lost") && (*lost)++ == 0)
        rp_reply_pack_error(pk, req->id, 503, "worker_lost", "the worker went away");
    else if (rp_request_is(req, "t.status")) {
        rp_reply_pack(pk, req->id, 150, 0, 0);
    } else {
        rp_reply_pack(pk, req->id, 200, write ? 7 : 0, 1);
        rp_pack_cstr(pk, "data");
        if (rp_request_is(req, "t.user")) {
            msgpack_pack_map(pk, 2);
            rp_pack_cstr(pk, "user");
            msgpack_pack_map(pk, 2);
            rp_pack_kv_cstr(pk, "id", "u1");
            rp_pack_kv_u64(pk, "version", 2);
            rp_pack_kv_cstr(pk, "key", "rpk_x");
        } else if (rp_request_is(req, "t.none")) {
            msgpack_pack_map(pk, 1);
            rp_pack_kv_u64(pk, "nothing", 1);
        } else
            s_echo_data(pk, req);
    }
}

static void s_worker_answer(rp_worker_t *worker, int *lost)
{
    zframe_t *client = NULL;
    zframe_t *body = rp_worker_recv(worker, &client);
    if (!body)
        return;
    rp_doc_t *doc = rp_doc_new(zframe_data(body), zframe_size(body), NULL);
    rp_request_t req;
    if (doc && !rp_request_parse(rp_doc_root(doc), &req)) {
        rp_packer_t reply;
        rp_packer_init(&reply);
        s_echo(&reply.pk, &req, strchr(rp_worker_service(worker), '.') != NULL, lost);
        rp_worker_reply(worker, &client, reply.buffer.data, reply.buffer.size);
        rp_packer_destroy(&reply);
    }
    zframe_destroy(&client);
    rp_doc_destroy(&doc);
    zframe_destroy(&body);
}

static void s_worker_actor(zsock_t *pipe, void *args)
{
    const char *endpoint = (const char *)args;
    rp_worker_t *reader = rp_worker_new(endpoint, "t", 0);
    rp_worker_t *writer = rp_worker_new(endpoint, "t.writer", 0);
    zpoller_t *poller = zpoller_new(pipe, rp_worker_sock(reader), rp_worker_sock(writer), NULL);
    zsock_signal(pipe, 0);
    int lost = 0;
    while (true) {
        zsock_t *which = (zsock_t *)zpoller_wait(poller, 100);
        if (which == pipe)
            break; //  $TERM
        if (which == rp_worker_sock(reader))
            s_worker_answer(reader, &lost);
        if (which == rp_worker_sock(writer))
            s_worker_answer(writer, &lost);
        rp_worker_tick(reader);
        rp_worker_tick(writer);
        if (zpoller_terminated(poller))
            break;
    }
    zpoller_destroy(&poller);
    rp_worker_destroy(&writer);
    rp_worker_destroy(&reader);
}

//  ---------------------------------------------------------------------
//  HTTP

static void s_on_request(struct evhttp_request *req, void *arg)
{
    gw_testkit_t *self = (gw_testkit_t *)arg;
    gw_exchange_t *ex = gw_exchange_new(req, self->metrics);
    gw_exchange_set_actor(ex, "ana", "sales", "east");
    self->handler(self->arg, &ex);
}

gw_testkit_t *gw_testkit_new(gw_testkit_fn *handler, void *arg)
{
    gw_testkit_t *self = (gw_testkit_t *)zmalloc(sizeof *self);
    self->handler = handler;
    self->arg = arg;
    self->broker = rp_testbroker_new();
    self->worker = zactor_new(s_worker_actor, (void *)rp_testbroker_endpoint(self->broker));
    assert(rp_testbroker_wait_worker(self->broker, "t", 5000));
    assert(rp_testbroker_wait_worker(self->broker, "t.writer", 5000));
    self->base = event_base_new();
    self->http = evhttp_new(self->base);
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_PATCH);
    evhttp_set_gencb(self->http, s_on_request, self);
    struct evhttp_bound_socket *socket = evhttp_bind_socket_with_handle(self->http, "127.0.0.1", 0);
    assert(socket);
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    getsockname(evhttp_bound_socket_get_fd(socket), (struct sockaddr *)&addr, &len);
    self->port = ntohs(addr.sin_port);
    self->metrics = gw_metrics_new();
    self->upstream = gw_upstream_new(self->base, rp_testbroker_endpoint(self->broker));
    self->seqs = gw_seqs_new();
    return self;
}

void gw_testkit_destroy(gw_testkit_t **self_p)
{
    gw_testkit_t *self = *self_p;
    gw_upstream_destroy(&self->upstream);
    evhttp_free(self->http);
    event_base_free(self->base);
    gw_seqs_destroy(&self->seqs);
    gw_metrics_destroy(&self->metrics);
    zactor_destroy(&self->worker);
    rp_testbroker_destroy(&self->broker);
    free(self);
    *self_p = NULL;
}

struct event_base *gw_testkit_base(gw_testkit_t *self)
{
    return self->base;
}

gw_upstream_t *gw_testkit_upstream(gw_testkit_t *self)
{
    return self->upstream;
}

gw_seqs_t *gw_testkit_seqs(gw_testkit_t *self)
{
    return self->seqs;
}

rp_testbroker_t *gw_testkit_broker(gw_testkit_t *self)
{
    return self->broker;
}

typedef struct {
    gw_testkit_answer_t *answer;
    bool done;
} pending_t;

static void s_on_answer(struct evhttp_request *req, void *arg)
{
    pending_t *pending = (pending_t *)arg;
    gw_testkit_answer_t *answer = pending->answer;
    pending->done = true;
    if (!req)
        return;
    answer->status = evhttp_request_get_response_code(req);
    for (struct evkeyval *header = evhttp_request_get_input_headers(req)->tqh_first; header;
         header = header->next.tqe_next) {
        size_t len = strlen(answer->headers);
        snprintf(answer->headers + len, sizeof answer->headers - len, "%s: %s\n", header->key,
                 header->value);
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    answer->size = evbuffer_get_length(in);
    answer->body = (char *)malloc(answer->size + 1);
    evbuffer_remove(in, answer->body, answer->size);
    answer->body[answer->size] = 0;
    answer->json = json_loadb(answer->body, answer->size, 0, NULL);
}

static enum evhttp_cmd_type s_command(const char *method)
{
    return streq(method, "GET")     ? EVHTTP_REQ_GET
           : streq(method, "HEAD")  ? EVHTTP_REQ_HEAD
           : streq(method, "POST")  ? EVHTTP_REQ_POST
           : streq(method, "PUT")   ? EVHTTP_REQ_PUT
           : streq(method, "PATCH") ? EVHTTP_REQ_PATCH
                                    : EVHTTP_REQ_DELETE;
}

void gw_testkit_request(gw_testkit_t *self, const char *method, const char *path,
                        const char *headers, const char *body, gw_testkit_answer_t *answer)
{
    memset(answer, 0, sizeof *answer);
    pending_t pending = {answer, false};
    struct evhttp_connection *conn =
        evhttp_connection_base_new(self->base, NULL, "127.0.0.1", (uint16_t)self->port);
    struct evhttp_request *req = evhttp_request_new(s_on_answer, &pending);
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Host", "127.0.0.1");
    bool typed = false;
    for (const char *at = headers; at && *at;) {
        const char *end = strchr(at, '\n');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)len, at);
        char *colon = strchr(line, ':');
        assert(colon);
        *colon = 0;
        evhttp_add_header(out, line, colon + 1 + (colon[1] == ' '));
        typed = typed || strcasecmp(line, "Content-Type") == 0;
        at += len + (end != NULL);
    }
    if (!typed)
        evhttp_add_header(out, "Content-Type", "application/json");
    if (body) { //  evhttp adds Content-Length to a POST and a PUT only
        char length[24];
        snprintf(length, sizeof length, "%zu", strlen(body));
        evhttp_add_header(out, "Content-Length", length);
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    int rc = evhttp_make_request(conn, req, s_command(method), path);
    assert(rc == 0);
    int64_t end = zclock_mono() + 10000;
    while (!pending.done && zclock_mono() < end)
        event_base_loop(self->base, EVLOOP_ONCE);
    assert(pending.done);
    evhttp_connection_free(conn);
}

const char *gw_testkit_header(const gw_testkit_answer_t *answer, const char *name, char *value,
                              size_t size)
{
    size_t len = strlen(name);
    for (const char *line = answer->headers; *line;) {
        const char *end = strchr(line, '\n');
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            snprintf(value, size, "%.*s", (int)(end - line - len - 2), line + len + 2);
            return value;
        }
        line = end + 1;
    }
    return NULL;
}

void gw_testkit_answer_free(gw_testkit_answer_t *answer)
{
    free(answer->body);
    json_decref(answer->json);
    memset(answer, 0, sizeof *answer);
}
