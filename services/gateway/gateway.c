/*  gateway.c — see gateway.h. Routing, the operational routes, and the
    demo routes that prove the forwarding path. */
#include "gateway.h"
#include "auth.h"
#include "exchange.h"
#include "forward.h"
#include "json.h"
#include "metrics.h"
#include "problem.h"
#include "ready.h"
#include "seqs.h"
#include "upstream.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <rapport/log.h>
#include <strings.h>

#define GW_READY_TIMEOUT_MS 1000
#define GW_IDEM_MAX         128 //  Idempotency-Key length; scoped by user it fits RP_MAX_IDEM
#define GW_PARAM_MAX        256 //  a path parameter, percent-encoded

struct _gw_gateway_t {
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    int port;
    size_t body_max;
    gw_metrics_t *metrics;
    gw_auth_t *auth;
    gw_seqs_t *seqs;
    gw_upstream_t *upstream;
    gw_forwarder_t *forwarder;
};

//  A route handler answers the exchange (now or later). param is the
//  decoded path parameter ({key}), NUL-free UTF-8, or NULL.
typedef void(route_fn)(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param);

typedef struct {
    const char *label; //  also the metrics label
    const char *path;  //  exact path, or the prefix before {param}
    bool has_param;
    bool needs_key;
    route_fn *get; //  also answers HEAD
    route_fn *post;
} route_t;

//  ---------------------------------------------------------------------
//  Request helpers

//  The body as a JSON object, or answer 413/415/400 and return NULL.
static json_t *s_body_object(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(gw_exchange_req(*ex_p));
    size_t size = evbuffer_get_length(in);
    if (size > self->body_max) {
        char detail[96];
        snprintf(detail, sizeof detail, "the body exceeds %zu bytes", self->body_max);
        gw_problem_send(ex_p, 413, "body_too_large", detail);
        return NULL;
    }
    const char *type = gw_exchange_header(*ex_p, "Content-Type");
    size_t type_len = type ? strcspn(type, ";") : 0;
    while (type_len && type[type_len - 1] == ' ')
        type_len--;
    if (!type || type_len != 16 || strncasecmp(type, "application/json", 16)) {
        gw_problem_send(ex_p, 415, "unsupported_media_type",
                        "the body must be JSON (Content-Type: application/json)");
        return NULL;
    }
    char err[200], detail[260];
    json_t *json = gw_json_parse(evbuffer_pullup(in, -1), size, err, sizeof err);
    if (!json) {
        snprintf(detail, sizeof detail, "the body is not valid JSON: %s", err);
        gw_problem_send(ex_p, 400, "bad_json", detail);
        return NULL;
    }
    if (!json_is_object(json)) {
        json_decref(json);
        gw_problem_send(ex_p, 400, "bad_json", "the body must be a JSON object");
        return NULL;
    }
    return json;
}

//  The journal idem for an Idempotency-Key, scoped by caller; "" if the
//  header is absent. On a malformed key answer 400 and return false.
static bool s_idem(gw_exchange_t **ex_p, char *idem, size_t size)
{
    idem[0] = 0;
    const char *key = gw_exchange_header(*ex_p, "Idempotency-Key");
    if (!key)
        return true;
    size_t len = strlen(key);
    bool visible = true;
    for (size_t i = 0; i < len; i++)
        visible &= key[i] > 0x20 && key[i] < 0x7f;
    if (len == 0 || len > GW_IDEM_MAX || !visible) {
        gw_problem_send(ex_p, 400, "bad_idempotency_key",
                        "Idempotency-Key must be 1..128 visible ASCII characters");
        return false;
    }
    snprintf(idem, size, "%s:%s", gw_exchange_actor(*ex_p)->user, key);
    return true;
}

//  ---------------------------------------------------------------------
//  Operations: /health, /ready, /metrics

static void s_health(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)self;
    (void)param;
    gw_exchange_send_json(ex_p, 200, json_pack("{s:s}", "status", "ok"));
}

static void s_ready_answer(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    gw_exchange_t *ex = (gw_exchange_t *)arg;
    if (reply->status != 200) {
        gw_problem_send(&ex, 503, "not_ready", "the broker did not answer broker.status in time");
        return;
    }
    char *vacant = gw_ready_vacant(reply->data);
    if (vacant) {
        char detail[160];
        snprintf(detail, sizeof detail, "service %.64s has no writer", vacant);
        free(vacant);
        gw_problem_send(&ex, 503, "no_writer", detail);
        return;
    }
    gw_exchange_send_json(&ex, 200, json_pack("{s:s}", "status", "ready"));
}

static void s_ready(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, id, "broker.status", 0, NULL, 0);
    if (gw_upstream_send(self->upstream, "broker.status", id, packer.buffer.data,
                         packer.buffer.size, GW_READY_TIMEOUT_MS, s_ready_answer, *ex_p) == 0)
        *ex_p = NULL; //  answered by s_ready_answer
    else
        gw_problem_send(ex_p, 503, "not_ready", "the broker cannot be reached, or we are stopping");
    rp_packer_destroy(&packer);
}

static void s_metrics(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    size_t size;
    char *text = gw_metrics_render(self->metrics, &size);
    gw_exchange_send(ex_p, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
    free(text);
}

//  ---------------------------------------------------------------------
//  DEMO routes: the forwarding path, proven on tests/system/tally_service.
//  They stay small on purpose; domain routes (customers, users) follow the
//  same shape: check, pack args, gw_forward.

static void s_tally_get(gw_gateway_t *self, gw_exchange_t **ex_p, const char *key)
{
    rp_packer_t args;
    rp_packer_init(&args);
    msgpack_pack_map(&args.pk, 1);
    rp_pack_kv_cstr(&args.pk, "key", key);
    gw_forward(self->forwarder, ex_p, "tally", "tally.get", NULL, args.buffer.data,
               args.buffer.size);
    rp_packer_destroy(&args);
}

static void s_tally_add(gw_gateway_t *self, gw_exchange_t **ex_p, const char *key)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_body_object(self, ex_p);
    if (!body)
        return;
    if (!s_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    json_object_set_new(body, "key", json_string(key)); //  the path wins over the body
    rp_packer_t args;
    rp_packer_init(&args);
    gw_json_pack(body, &args.pk); //  depth checked by s_body_object
    json_decref(body);
    gw_forward(self->forwarder, ex_p, "tally.writer", "tally.add", idem[0] ? idem : NULL,
               args.buffer.data, args.buffer.size);
    rp_packer_destroy(&args);
}

//  ---------------------------------------------------------------------
//  Routing

static const route_t s_routes[] = {
    {"/health", "/health", false, false, s_health, NULL},
    {"/ready", "/ready", false, false, s_ready, NULL},
    {"/metrics", "/metrics", false, false, s_metrics, NULL},
    {"/api/v1/tally/{key}", "/api/v1/tally/", true, true, s_tally_get, s_tally_add},
};
#define ROUTES (sizeof s_routes / sizeof s_routes[0])

//  The route for a path, and its raw (still percent-encoded) parameter.
static const route_t *s_route_match(const char *path, const char **param)
{
    for (size_t i = 0; i < ROUTES; i++) {
        const route_t *route = &s_routes[i];
        size_t len = strlen(route->path);
        if (!route->has_param && streq(path, route->path))
            return route;
        if (route->has_param && strncmp(path, route->path, len) == 0 && path[len] &&
            !strchr(path + len, '/')) {
            *param = path + len;
            return route;
        }
    }
    return NULL;
}

//  Percent-decode a path parameter; NULL if too long, not UTF-8, or NUL.
static char *s_param_decode(const char *raw)
{
    if (strlen(raw) > GW_PARAM_MAX)
        return NULL;
    size_t len = 0;
    char *param = evhttp_uridecode(raw, 0, &len);
    if (param && (memchr(param, 0, len) || !rp_utf8_valid(param, len))) {
        free(param);
        param = NULL;
    }
    return param;
}

static void s_dispatch(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    struct evhttp_request *req = gw_exchange_req(*ex_p);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *raw = NULL;
    const route_t *route = path ? s_route_match(path, &raw) : NULL;
    if (route)
        gw_exchange_set_route(*ex_p, route->label);
    //  Under /api a caller without a key learns nothing, not even 404.
    bool needs_key = route ? route->needs_key : (path && strncmp(path, "/api/", 5) == 0);
    if (needs_key && !gw_auth_check(self->auth, gw_exchange_header(*ex_p, "Authorization"),
                                    gw_exchange_actor(*ex_p))) {
        gw_exchange_add_header(*ex_p, "WWW-Authenticate", "Bearer");
        gw_problem_send(ex_p, 401, "unauthorized", "a valid API key is required (Bearer)");
        return;
    }
    if (!route) {
        gw_problem_send(ex_p, 404, "not_found", "no such resource");
        return;
    }
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    route_fn *fn = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD ? route->get
                   : method == EVHTTP_REQ_POST                           ? route->post
                                                                         : NULL;
    if (!fn) {
        gw_exchange_add_header(*ex_p, "Allow", route->post ? "GET, HEAD, POST" : "GET, HEAD");
        gw_problem_send(ex_p, 405, "method_not_allowed", "the method is not allowed here");
        return;
    }
    char *param = raw ? s_param_decode(raw) : NULL;
    if (raw && !param) {
        gw_problem_send(ex_p, 404, "not_found", "the path parameter is malformed");
        return;
    }
    fn(self, ex_p, param);
    free(param);
}

static void s_on_request(struct evhttp_request *req, void *arg)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    gw_exchange_t *ex = gw_exchange_new(req, self->metrics);
    s_dispatch(self, &ex);
}

//  ---------------------------------------------------------------------
//  Life cycle

static int s_bound_port(struct evhttp_bound_socket *listener)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(evhttp_bound_socket_get_fd(listener), (struct sockaddr *)&addr, &len))
        return -1;
    if (addr.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
    return ntohs(((struct sockaddr_in *)&addr)->sin_port);
}

gw_gateway_t *gw_gateway_new(struct event_base *base, rp_config_t *config)
{
    const char *bind = rp_config_get(config, "http/bind", "127.0.0.1");
    int64_t port = rp_config_int(config, "http/port", 8080);
    int64_t body_max = rp_config_int(config, "http/body_max", 1024 * 1024);
    int64_t timeout_ms = rp_config_int(config, "http/timeout_ms", 10000);
    const char *endpoint = rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT);
    const char *admin_key = getenv("RAPPORT_ADMIN_KEY");
    if (!admin_key || !*admin_key)
        admin_key = rp_config_get(config, "auth/admin_key", NULL);
    if (port < 0 || port > 65535 || body_max < 1 || body_max > 64 * 1024 * 1024 || timeout_ms < 1 ||
        timeout_ms > 600000) {
        rp_error("gateway: bad http/port, http/body_max or http/timeout_ms");
        return NULL;
    }
    gw_gateway_t *self = (gw_gateway_t *)zmalloc(sizeof *self);
    self->body_max = (size_t)body_max;
    self->http = evhttp_new(base);
    //  Every method reaches our router, which answers 405 as problem+json.
    evhttp_set_allowed_methods(self->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                               EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                               EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    //  libevent 2.1 answers a body over its own limit with a plain-text 413
    //  it does not let us shape, so its limit is a hard stop well above ours:
    //  bodies up to 4x body_max get our problem+json 413.
    evhttp_set_max_body_size(self->http, (ev_ssize_t)self->body_max * 4);
    evhttp_set_max_headers_size(self->http, 64 * 1024);
    evhttp_set_timeout(self->http, 60);
    evhttp_set_gencb(self->http, s_on_request, self);
    self->listener = evhttp_bind_socket_with_handle(self->http, bind, (uint16_t)port);
    if (!self->listener) {
        rp_error("gateway: cannot listen on %s:%" PRId64, bind, port);
        evhttp_free(self->http);
        free(self);
        return NULL;
    }
    self->port = s_bound_port(self->listener);
    self->metrics = gw_metrics_new();
    self->auth = gw_auth_new(admin_key);
    if (!admin_key || !*admin_key)
        rp_warn("gateway: no admin key (RAPPORT_ADMIN_KEY): every /api request is 401");
    self->seqs = gw_seqs_new();
    self->upstream = gw_upstream_new(base, endpoint);
    assert(self->upstream);
    self->forwarder = gw_forwarder_new(self->upstream, self->seqs, (int)timeout_ms);
    rp_info("gateway: listening on http://%s:%d, broker %s", bind, self->port, endpoint);
    return self;
}

void gw_gateway_stop(gw_gateway_t *self)
{
    if (self->listener) {
        evhttp_del_accept_socket(self->http, self->listener);
        self->listener = NULL;
    }
    gw_upstream_close(self->upstream);
}

void gw_gateway_destroy(gw_gateway_t **self_p)
{
    gw_gateway_t *self = *self_p;
    if (!self)
        return;
    gw_gateway_stop(self);
    evhttp_free(self->http);
    gw_upstream_destroy(&self->upstream);
    gw_forwarder_destroy(&self->forwarder);
    gw_seqs_destroy(&self->seqs);
    gw_auth_destroy(&self->auth);
    gw_metrics_destroy(&self->metrics);
    free(self);
    *self_p = NULL;
}

int gw_gateway_port(gw_gateway_t *self)
{
    return self->port;
}
