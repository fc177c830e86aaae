/*  gateway.c — see gateway.h. Routing, the operational routes, and the
    demo routes that prove the forwarding path. */
#include "gateway.h"
#include "auth.h"
#include "cache.h"
#include "customers.h"
#include "csvdefs.h"
#include "reports.h"
#include "directory.h"
#include "exchange.h"
#include "fleet.h"
#include "follower.h"
#include "forward.h"
#include "json.h"
#include "metrics.h"
#include "monitor.h"
#include "openapi.h"
#include "problem.h"
#include "ratelimit.h"
#include "ready.h"
#include "relations.h"
#include "request.h"
#include "seqs.h"
#include "upstream.h"
#include "users.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <rapport/log.h>
#include <strings.h>

#define GW_READY_TIMEOUT_MS 1000
#define GW_PARAM_MAX        256   //  a path parameter, percent-encoded
#define GW_CACHE_RECORDS    10000 //  customers whose GET answers are kept (cache/records)
#define GW_CACHE_BYTES      (64 * 1024 * 1024) //  and the memory they may take (cache/bytes)

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
    gw_customers_t *customers;
    gw_cache_t *cache;       //  customers.get answers, kept true by the feed
    gw_importer_t *importer; //  POST /api/v1/customers/import, streamed
    gw_exporter_t *exporter;
    gw_relations_t *relations; //  contacts, activities, timeline, assign, merge
    gw_directory_t *directory; //  API keys, folded from user.* events
    gw_follower_t *follower;   //  the journal feed into the directory
    gw_ratelimit_t *ratelimit;
    gw_users_t *users;
    gw_fleet_t *fleet;     //  head, instance cursors, leases (/metrics, fail-fast 503)
    gw_monitor_t *monitor; //  polls broker.status and probes instances into the fleet
};

//  A route handler answers the exchange (now or later). param is the
//  decoded path parameter ({key}), NUL-free UTF-8, or NULL.
typedef void(route_fn)(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param);

typedef struct {
    const char *label;  //  also the metrics label
    const char *path;   //  exact path, or the prefix before {param}
    bool has_param;     //  one segment after path, then suffix
    const char *suffix; //  what follows {param} ("/restore"), or NULL
    bool suffix_param;  //  then one more segment, read by the handler ("/contacts/{cid}")
    bool needs_key;
    route_fn *get; //  also answers HEAD
    route_fn *post;
    route_fn *patch;
    route_fn *del;
} route_t;

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
    if (!gw_follower_synced(self->follower)) { //  user keys would not work yet
        gw_problem_send(ex_p, 503, "not_ready", "the gateway is still replaying the journal");
        return;
    }
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
    size_t requests_size, size = 0;
    char *requests = gw_metrics_render(self->metrics, &requests_size);
    char *text = NULL;
    FILE *out = open_memstream(&text, &size);
    assert(out);
    fwrite(requests, 1, requests_size, out); //  then the fleet's: head, cursors, lag
    free(requests);
    gw_fleet_render(self->fleet, out, zclock_mono());
    gw_cache_render(self->cache, out);
    fclose(out);
    gw_exchange_send(ex_p, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
    free(text);
}

static void s_openapi(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)self;
    (void)param;
    gw_exchange_send(ex_p, 200, "application/json", gw_openapi_json(), gw_openapi_size());
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
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    json_object_set_new(body, "key", json_string(key)); //  the path wins over the body
    rp_packer_t args;
    rp_packer_init(&args);
    gw_json_pack(body, &args.pk); //  depth checked by gw_request_body
    json_decref(body);
    gw_forward(self->forwarder, ex_p, "tally.writer", "tally.add", idem[0] ? idem : NULL,
               args.buffer.data, args.buffer.size);
    rp_packer_destroy(&args);
}

//  ---------------------------------------------------------------------
//  Customers: the routes live in customers.c; these bind them to us.

static void s_customers_list(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_customers_list(self->customers, ex_p);
}

static void s_customers_create(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_customers_create(self->customers, ex_p);
}

static void s_customers_get(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_customers_get(self->customers, ex_p, id);
}

static void s_customers_update(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_customers_update(self->customers, ex_p, id);
}

static void s_customers_archive(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_customers_archive(self->customers, ex_p, id);
}

static void s_customers_restore(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_customers_restore(self->customers, ex_p, id);
}

//  Import, export, duplicates, reports: import.c, export.c, reports.c.
static void s_customers_import(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_import_finish(self->importer, ex_p);
}

static void s_customers_export(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_export(self->exporter, &gw_customers_export, ex_p);
}

static void s_customers_duplicates(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_reports_duplicates(self->forwarder, ex_p);
}

static void s_reports_composition(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_reports_composition(self->forwarder, ex_p);
}

//  Under a customer: the routes live in relations.c.
#define RELATION_ROUTE(name)                                                                       \
    static void s_relations_##name(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)       \
    {                                                                                              \
        gw_relations_##name(self->relations, ex_p, id);                                            \
    }
RELATION_ROUTE(contacts_list)
RELATION_ROUTE(contacts_create)
RELATION_ROUTE(contact_get)
RELATION_ROUTE(contact_update)
RELATION_ROUTE(contact_delete)
RELATION_ROUTE(activities_list)
RELATION_ROUTE(activities_create)
RELATION_ROUTE(timeline)
RELATION_ROUTE(assign)
RELATION_ROUTE(merge)

//  ---------------------------------------------------------------------
//  Users: the routes live in users.c; these bind them to us.

static void s_users_list(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_users_list(self->users, ex_p);
}

static void s_users_create(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_users_create(self->users, ex_p);
}

static void s_users_me(gw_gateway_t *self, gw_exchange_t **ex_p, const char *param)
{
    (void)param;
    gw_users_me(self->users, ex_p);
}

static void s_users_get(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_users_get(self->users, ex_p, id);
}

static void s_users_update(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_users_update(self->users, ex_p, id);
}

static void s_users_revoke(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_users_revoke(self->users, ex_p, id);
}

static void s_users_rotate(gw_gateway_t *self, gw_exchange_t **ex_p, const char *id)
{
    gw_users_rotate(self->users, ex_p, id);
}

//  ---------------------------------------------------------------------
//  Routing

static const route_t s_routes[] = {
    {.label = "/health", .path = "/health", .get = s_health},
    {.label = "/ready", .path = "/ready", .get = s_ready},
    {.label = "/metrics", .path = "/metrics", .get = s_metrics},
    {.label = "/openapi.json", .path = "/openapi.json", .get = s_openapi},
    {.label = "/api/v1/tally/{key}",
     .path = "/api/v1/tally/",
     .has_param = true,
     .needs_key = true,
     .get = s_tally_get,
     .post = s_tally_add},
    {.label = "/api/v1/customers",
     .path = "/api/v1/customers",
     .needs_key = true,
     .get = s_customers_list,
     .post = s_customers_create},
    //  Before /api/v1/customers/{id}: the first match wins.
    {.label = "/api/v1/customers/import",
     .path = "/api/v1/customers/import",
     .needs_key = true,
     .post = s_customers_import},
    {.label = "/api/v1/customers/export",
     .path = "/api/v1/customers/export",
     .needs_key = true,
     .get = s_customers_export},
    {.label = "/api/v1/customers/duplicates",
     .path = "/api/v1/customers/duplicates",
     .needs_key = true,
     .get = s_customers_duplicates},
    {.label = "/api/v1/reports/customers/composition",
     .path = "/api/v1/reports/customers/composition",
     .needs_key = true,
     .get = s_reports_composition},
    {.label = "/api/v1/customers/{id}",
     .path = "/api/v1/customers/",
     .has_param = true,
     .needs_key = true,
     .get = s_customers_get,
     .patch = s_customers_update,
     .del = s_customers_archive},
    {.label = "/api/v1/customers/{id}/restore",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/restore",
     .needs_key = true,
     .post = s_customers_restore},
    {.label = "/api/v1/customers/{id}/contacts",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/contacts",
     .needs_key = true,
     .get = s_relations_contacts_list,
     .post = s_relations_contacts_create},
    {.label = "/api/v1/customers/{id}/contacts/{contact_id}",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/contacts/",
     .suffix_param = true,
     .needs_key = true,
     .get = s_relations_contact_get,
     .patch = s_relations_contact_update,
     .del = s_relations_contact_delete},
    {.label = "/api/v1/customers/{id}/activities",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/activities",
     .needs_key = true,
     .get = s_relations_activities_list,
     .post = s_relations_activities_create},
    {.label = "/api/v1/customers/{id}/timeline",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/timeline",
     .needs_key = true,
     .get = s_relations_timeline},
    {.label = "/api/v1/customers/{id}/assign",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/assign",
     .needs_key = true,
     .post = s_relations_assign},
    {.label = "/api/v1/customers/{id}/merge",
     .path = "/api/v1/customers/",
     .has_param = true,
     .suffix = "/merge",
     .needs_key = true,
     .post = s_relations_merge},
    {.label = "/api/v1/users",
     .path = "/api/v1/users",
     .needs_key = true,
     .get = s_users_list,
     .post = s_users_create},
    //  Before {id}: the first route that matches wins.
    {.label = "/api/v1/users/me", .path = "/api/v1/users/me", .needs_key = true, .get = s_users_me},
    {.label = "/api/v1/users/{id}",
     .path = "/api/v1/users/",
     .has_param = true,
     .needs_key = true,
     .get = s_users_get,
     .patch = s_users_update,
     .del = s_users_revoke},
    {.label = "/api/v1/users/{id}/key",
     .path = "/api/v1/users/",
     .has_param = true,
     .suffix = "/key",
     .needs_key = true,
     .post = s_users_rotate},
};
#define ROUTES (sizeof s_routes / sizeof s_routes[0])

size_t gw_gateway_routes(gw_route_info_t *routes, size_t max)
{
    for (size_t i = 0; i < ROUTES && i < max; i++) {
        const route_t *route = &s_routes[i];
        routes[i] = (gw_route_info_t){.label = route->label,
                                      .needs_key = route->needs_key,
                                      .get = route->get != NULL,
                                      .post = route->post != NULL,
                                      .patch = route->patch != NULL,
                                      .del = route->del != NULL};
    }
    return ROUTES;
}

//  The route for a path, and its raw (still percent-encoded) parameter.
static const route_t *s_route_match(const char *path, const char **param, size_t *param_len)
{
    for (size_t i = 0; i < ROUTES; i++) {
        const route_t *route = &s_routes[i];
        size_t len = strlen(route->path);
        if (!route->has_param && streq(path, route->path))
            return route;
        if (route->has_param && strncmp(path, route->path, len) == 0) {
            const char *rest = path + len;
            size_t segment = strcspn(rest, "/");
            const char *tail = rest + segment;
            size_t suffix_len = route->suffix ? strlen(route->suffix) : 0;
            bool tail_param = route->suffix_param &&
                              strncmp(tail, route->suffix, suffix_len) == 0 && tail[suffix_len] &&
                              !strchr(tail + suffix_len, '/');
            if (segment && (tail_param || (!route->suffix_param &&
                                           streq(tail, route->suffix ? route->suffix : "")))) {
                *param = rest;
                *param_len = segment;
                return route;
            }
        }
    }
    return NULL;
}

//  Percent-decode a path parameter; NULL if too long, not UTF-8, or NUL.
static char *s_param_decode(const char *raw, size_t raw_len)
{
    if (raw_len > GW_PARAM_MAX)
        return NULL;
    char encoded[GW_PARAM_MAX + 1];
    memcpy(encoded, raw, raw_len);
    encoded[raw_len] = 0;
    size_t len = 0;
    char *param = evhttp_uridecode(encoded, 0, &len);
    if (param && (memchr(param, 0, len) || !rp_utf8_valid(param, len))) {
        free(param);
        param = NULL;
    }
    return param;
}

//  The handler for a method, or NULL.
static route_fn *s_route_method(const route_t *route, enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD:
        return route->get;
    case EVHTTP_REQ_POST:
        return route->post;
    case EVHTTP_REQ_PATCH:
        return route->patch;
    case EVHTTP_REQ_DELETE:
        return route->del;
    default:
        return NULL;
    }
}

//  Answer 405 with the route's methods in Allow.
static void s_not_allowed(const route_t *route, gw_exchange_t **ex_p)
{
    char allow[64] = "";
    if (route->get)
        strcat(allow, "GET, HEAD, ");
    if (route->post)
        strcat(allow, "POST, ");
    if (route->patch)
        strcat(allow, "PATCH, ");
    if (route->del)
        strcat(allow, "DELETE, ");
    allow[strlen(allow) - 2] = 0; //  every route has a method
    gw_exchange_add_header(*ex_p, "Allow", allow);
    gw_problem_send(ex_p, 405, "method_not_allowed", "the method is not allowed here");
}

//  Who is calling, and may they now? Sets the actor, or answers 401, 429
//  or 503 and returns false. The bootstrap admin key is not rate limited:
//  it is the operator's way in, also when a client misbehaves.
static bool s_authenticate(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    gw_caller_t caller;
    gw_auth_result_t result =
        gw_auth_check(self->auth, gw_exchange_header(*ex_p, "Authorization"), &caller);
    if (result == GW_AUTH_SYNCING) {
        gw_problem_send(ex_p, 503, "not_ready", "the gateway is still replaying the journal");
        return false;
    }
    if (result != GW_AUTH_OK) {
        gw_exchange_add_header(*ex_p, "WWW-Authenticate", "Bearer");
        gw_problem_send(ex_p, 401, "unauthorized", "a valid API key is required (Bearer)");
        return false;
    }
    int retry_after = 0;
    if (!caller.bootstrap &&
        !gw_ratelimit_take(self->ratelimit, caller.key_hash, zclock_mono(), &retry_after)) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", retry_after);
        gw_exchange_add_header(*ex_p, "Retry-After", seconds);
        gw_problem_send(ex_p, 429, "rate_limited", "too many requests for this API key");
        return false;
    }
    gw_exchange_set_actor(*ex_p, caller.member.user, caller.member.role, caller.member.team);
    return true;
}

static void s_dispatch(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    struct evhttp_request *req = gw_exchange_req(*ex_p);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    const char *raw = NULL;
    size_t raw_len = 0;
    const route_t *route = path ? s_route_match(path, &raw, &raw_len) : NULL;
    if (route)
        gw_exchange_set_route(*ex_p, route->label);
    //  Under /api a caller without a key learns nothing, not even 404.
    bool needs_key = route ? route->needs_key : (path && strncmp(path, "/api/", 5) == 0);
    if (needs_key && !s_authenticate(self, ex_p))
        return;
    if (!route) {
        gw_problem_send(ex_p, 404, "not_found", "no such resource");
        return;
    }
    route_fn *fn = s_route_method(route, evhttp_request_get_command(req));
    if (!fn) {
        s_not_allowed(route, ex_p);
        return;
    }
    char *param = raw ? s_param_decode(raw, raw_len) : NULL;
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
    gw_importer_seen(self->importer, req); //  before anything answers it
    gw_exchange_t *ex = gw_exchange_new(req, self->metrics);
    s_dispatch(self, &ex);
}

//  ---------------------------------------------------------------------
//  The journal feed: user.* events into the directory

static int s_on_event(void *arg, uint64_t seq, const char *type, size_t type_len,
                      const uint8_t *event, size_t size)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    gw_cache_event(self->cache, seq, type, type_len, event, size);
    return gw_directory_apply(self->directory, seq, type, type_len, event, size);
}

static void s_on_progress(void *arg, uint64_t cursor)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    gw_auth_set_synced(self->auth, gw_follower_synced(self->follower));
    gw_cache_set_synced(self->cache, gw_follower_synced(self->follower));
    gw_users_progress(self->users, cursor);
    gw_fleet_head(self->fleet, cursor); //  the head as the feed shows it, live
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
    const char *feed = rp_config_get(config, "feed/endpoint", RP_DEFAULT_FEED_ENDPOINT);
    int64_t rate = rp_config_int(config, "rate/per_s", GW_RATELIMIT_PER_S);
    int64_t burst = rp_config_int(config, "rate/burst", GW_RATELIMIT_BURST);
    const char *admin_key = getenv("RAPPORT_ADMIN_KEY");
    if (!admin_key || !*admin_key)
        admin_key = rp_config_get(config, "auth/admin_key", NULL);
    if (port < 0 || port > 65535 || body_max < 1 || body_max > 64 * 1024 * 1024 || timeout_ms < 1 ||
        timeout_ms > 600000) {
        rp_error("gateway: bad http/port, http/body_max or http/timeout_ms");
        return NULL;
    }
    if (rate < 0 || rate > 1000000 || burst < 0 || burst > 10000000) {
        rp_error("gateway: bad rate/per_s (0..1000000) or rate/burst (0..10000000)");
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
    self->fleet = gw_fleet_new(); //  before the follower, whose progress moves its head
    char *replica =
        zsys_sprintf("%s/gateway", rp_config_get(config, "data/dir", RP_DEFAULT_DATA_DIR));
    self->directory = gw_directory_new(replica); //  the users store, folded by users' apply
    zstr_free(&replica);
    assert(self->directory);
    self->auth = gw_auth_new(admin_key, self->directory);
    self->ratelimit = gw_ratelimit_new(rate, burst, 0);
    if (!admin_key || !*admin_key)
        rp_warn("gateway: no admin key (RAPPORT_ADMIN_KEY): every /api request is 401");
    self->seqs = gw_seqs_new();
    self->upstream = gw_upstream_new(base, endpoint);
    assert(self->upstream);
    self->forwarder = gw_forwarder_new(self->upstream, self->seqs, (int)timeout_ms);
    int64_t cache_records = rp_config_int(config, "cache/records", GW_CACHE_RECORDS);
    if (cache_records < 0 || cache_records > 10 * 1000 * 1000)
        cache_records = GW_CACHE_RECORDS;
    int64_t cache_bytes = rp_config_int(config, "cache/bytes", GW_CACHE_BYTES);
    if (cache_bytes < 64 * 1024 || cache_bytes > (int64_t)16 * 1024 * 1024 * 1024)
        cache_bytes = GW_CACHE_BYTES;
    self->cache = gw_cache_new((size_t)cache_records, (size_t)cache_bytes);
    self->customers = gw_customers_new(self->forwarder, self->seqs,
                                       cache_records ? self->cache : NULL, self->body_max);
    int64_t import_max = rp_config_int(config, "import/max_bytes", 64 * 1024 * 1024);
    if (import_max < 1 || import_max > 1024LL * 1024 * 1024)
        import_max = 64 * 1024 * 1024; //  keep the default rather than no gateway
    self->exporter = gw_exporter_new(self->upstream, self->seqs, (int)timeout_ms);
    self->relations = gw_relations_new(self->forwarder, self->body_max);
    self->users = gw_users_new(base, self->forwarder, self->directory, self->body_max);
    self->follower = gw_follower_new(base, feed, endpoint, s_on_event, self, s_on_progress);
    assert(self->follower); //  only a malformed endpoint fails, and the upstream took it
    gw_upstream_observe(self->upstream, gw_monitor_observe, self->fleet);
    gw_forwarder_set_fleet(self->forwarder, self->fleet);
    self->monitor = gw_monitor_new(base, self->upstream, self->fleet);
    //  Imports stream or the gateway does not start (import.h).
    self->importer = gw_importer_new(base, self->http, self->upstream, self->seqs,
                                     (size_t)import_max, (int)timeout_ms);
    if (!self->importer) {
        gw_gateway_destroy(&self);
        return NULL;
    }
    gw_importer_add(self->importer, &gw_customers_import);
    rp_info("gateway: listening on http://%s:%d, broker %s", bind, self->port, endpoint);
    return self;
}

void gw_gateway_stop(gw_gateway_t *self)
{
    if (self->listener) {
        evhttp_del_accept_socket(self->http, self->listener);
        self->listener = NULL;
    }
    gw_users_flush(self->users);
    gw_monitor_stop(self->monitor);
    gw_upstream_close(self->upstream);
}

void gw_gateway_destroy(gw_gateway_t **self_p)
{
    gw_gateway_t *self = *self_p;
    if (!self)
        return;
    gw_gateway_stop(self);
    evhttp_free(self->http);
    gw_importer_destroy(&self->importer);
    gw_exporter_destroy(&self->exporter);
    gw_upstream_destroy(&self->upstream);
    gw_follower_destroy(&self->follower);
    gw_users_destroy(&self->users);
    gw_customers_destroy(&self->customers);
    gw_cache_destroy(&self->cache);
    gw_relations_destroy(&self->relations);
    gw_forwarder_destroy(&self->forwarder);
    gw_seqs_destroy(&self->seqs);
    gw_auth_destroy(&self->auth);
    gw_directory_destroy(&self->directory);
    gw_ratelimit_destroy(&self->ratelimit);
    gw_metrics_destroy(&self->metrics);
    gw_monitor_destroy(&self->monitor);
    gw_fleet_destroy(&self->fleet);
    free(self);
    *self_p = NULL;
}

int gw_gateway_port(gw_gateway_t *self)
{
    return self->port;
}
