/*  gateway.c — see gateway.h. The operational routes, the special rows'
    handlers, and the life cycle; every service's routes are rows
    (services/<s>/routes.c) run by the route engine (route.h). */
#include "gateway.h"
#include "auth.h"
#include "cache.h"
#include "csvdefs.h"
#include "directory.h"
#include "exchange.h"
#include "feedout.h"
#include "fleet.h"
#include "follower.h"
#include "forward.h"
#include "intake.h"
#include "json.h"
#include "metrics.h"
#include "monitor.h"
#include "openapi.h"
#include "problem.h"
#include "ratelimit.h"
#include "ready.h"
#include "request.h"
#include "route.h"
#include "seqs.h"
#include "settle.h"
#include "upstream.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <rapport/log.h>
#include <strings.h>

#define GW_READY_TIMEOUT_MS 1000
#define GW_CACHE_RECORDS    10000 //  records whose GET answers are kept (cache/records)
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
    gw_routes_t *routes;     //  every route, as rows
    gw_cache_t *cache;       //  cached rows' GET answers, kept true by the feed
    gw_settle_t *settle;     //  writes answered once the feed has them
    gw_importer_t *importer; //  POST /api/v1/customers/import, streamed
    gw_exporter_t *exporter;
    gw_directory_t *directory; //  API keys, folded from user.* events
    gw_follower_t *follower;   //  the journal feed into the directory
    gw_ratelimit_t *ratelimit;
    gw_fleet_t *fleet;     //  head, instance cursors, leases (/metrics, fail-fast 503)
    gw_monitor_t *monitor; //  polls broker.status and probes instances into the fleet
    gw_feedout_t *feedout; //  GET /api/v1/events: pages and event streams
};

//  ---------------------------------------------------------------------
//  Operations: /health, /ready, /metrics

static void s_health(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    (void)self;
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

static void s_ready(gw_gateway_t *self, gw_exchange_t **ex_p)
{
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

static void s_metrics(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    size_t requests_size, size = 0;
    char *requests = gw_metrics_render(self->metrics, &requests_size);
    char *text = NULL;
    FILE *out = open_memstream(&text, &size);
    assert(out);
    fwrite(requests, 1, requests_size, out); //  then the fleet's: head, cursors, lag
    free(requests);
    gw_fleet_render(self->fleet, out, zclock_mono());
    gw_cache_render(self->cache, out);
    fprintf(out,
            "# HELP rapport_gateway_event_streams Event streams open (GET /api/v1/events).\n"
            "# TYPE rapport_gateway_event_streams gauge\n"
            "rapport_gateway_event_streams %zu\n"
            "# HELP rapport_gateway_event_streams_dropped_total Event streams closed because "
            "their client did not read.\n"
            "# TYPE rapport_gateway_event_streams_dropped_total counter\n"
            "rapport_gateway_event_streams_dropped_total %" PRIu64 "\n",
            gw_feedout_streams(self->feedout), gw_feedout_dropped(self->feedout));
    fclose(out);
    gw_exchange_send(ex_p, 200, "text/plain; version=0.0.4; charset=utf-8", text, size);
    free(text);
}

static void s_openapi(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    (void)self;
    gw_exchange_send(ex_p, 200, "application/json", gw_openapi_json(), gw_openapi_size());
}

//  ---------------------------------------------------------------------
//  Special rows: streaming import and export (import.c, export.c), and
//  the bootstrap admin's own record, which only the gateway knows.

static void s_import(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    gw_import_finish(self->importer, ex_p);
}

//  The definition is the export row's list op's (csvdefs.h).
static void s_export(gw_gateway_t *self, gw_exchange_t **ex_p)
{
    const rp_route_t *row = gw_exchange_row(*ex_p);
    const gw_export_def_t *def = gw_csvdefs_export(row ? row->op : NULL);
    gw_export(self->exporter, def ? def : &gw_customers_export, ex_p);
}

//  GET /api/v1/users/me: the bootstrap admin (actor "admin", which no
//  users-service id can be: theirs are generated hex) has no record in
//  the users service, so gets a synthetic one; anyone else the row's own
//  forward (users.get on the caller's id).
static void s_me(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,
                 const gw_route_params_t *params)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    const gw_actor_t *actor = gw_exchange_actor(*ex_p);
    gw_member_t member;
    if (streq(actor->user, "admin") && streq(actor->role, "admin") &&
        !gw_directory_member(self->directory, "admin", &member)) {
        gw_exchange_send_json(ex_p, 200,
                              json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", "admin", "name",
                                        "bootstrap admin", "role", "admin", "team", "", "active", 1,
                                        "bootstrap", 1));
        return;
    }
    gw_routes_forward(routes, ex_p, params);
}

//  The gateway's own specials, by name, as rows name them.
#define SPECIAL(name)                                                                              \
    static void s_special_##name(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,             \
                                 const gw_route_params_t *params)                                  \
    {                                                                                              \
        (void)routes;                                                                              \
        (void)params;                                                                              \
        s_##name((gw_gateway_t *)arg, ex_p);                                                       \
    }
SPECIAL(health)
SPECIAL(ready)
SPECIAL(metrics)
SPECIAL(openapi)
SPECIAL(import)
SPECIAL(export)

static void s_special_events(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,
                             const gw_route_params_t *params)
{
    (void)routes;
    (void)params;
    gw_feedout_answer(((gw_gateway_t *)arg)->feedout, ex_p);
}

static void s_special_stream(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,
                             const gw_route_params_t *params)
{
    (void)routes;
    (void)params;
    gw_feedout_service(((gw_gateway_t *)arg)->feedout, ex_p);
}

static void s_specials(gw_gateway_t *self)
{
    gw_routes_special(self->routes, "health", s_special_health, self);
    gw_routes_special(self->routes, "ready", s_special_ready, self);
    gw_routes_special(self->routes, "metrics", s_special_metrics, self);
    gw_routes_special(self->routes, "openapi", s_special_openapi, self);
    gw_routes_special(self->routes, "import", s_special_import, self);
    gw_routes_special(self->routes, "export", s_special_export, self);
    gw_routes_special(self->routes, "me", s_me, self);
    gw_routes_special(self->routes, "events", s_special_events, self);
    gw_routes_special(self->routes, "stream", s_special_stream, self);
}

//  ---------------------------------------------------------------------
//  Routing: the operational routes here, every service's from its
//  routes.c (linked in: gw_routes_add_linked).

static const rp_route_t s_ops_rows[] = {
    {.method = "GET", .path = "/health", .special = "health", .flags = RP_ROUTE_OPEN},
    {.method = "GET", .path = "/ready", .special = "ready", .flags = RP_ROUTE_OPEN},
    {.method = "GET", .path = "/metrics", .special = "metrics", .flags = RP_ROUTE_OPEN},
    {.method = "GET", .path = "/openapi.json", .special = "openapi", .flags = RP_ROUTE_OPEN},
};
static const rp_route_table_t s_ops = {"gateway", s_ops_rows,
                                       sizeof s_ops_rows / sizeof s_ops_rows[0]};

//  Every route of this program, into routes; -1 if a table is malformed.
static int s_routes_add(gw_routes_t *routes)
{
    return gw_routes_add(routes, &s_ops) || gw_routes_add_linked(routes) ? -1 : 0;
}

size_t gw_gateway_routes(gw_route_info_t *routes, size_t max)
{
    gw_routes_t *engine = gw_routes_new(NULL);
    size_t count = s_routes_add(engine) ? 0 : gw_routes_info(engine, routes, max);
    gw_routes_destroy(&engine);
    return count;
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
    gw_route_match_t match;
    bool found = gw_routes_match(self->routes, path, evhttp_request_get_command(req), &match);
    if (found)
        gw_exchange_set_route(*ex_p, match.label);
    //  Under /api a caller without a key learns nothing, not even 404.
    bool needs_key = found ? !match.open : (path && strncmp(path, "/api/", 5) == 0);
    if (needs_key && !s_authenticate(self, ex_p))
        return;
    if (!found) {
        gw_problem_send(ex_p, 404, "not_found", "no such resource");
        return;
    }
    if (!match.row) {
        gw_exchange_add_header(*ex_p, "Allow", match.allow);
        gw_problem_send(ex_p, 405, "method_not_allowed", "the method is not allowed here");
        return;
    }
    gw_routes_run(self->routes, ex_p, &match);
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
    gw_feedout_event(self->feedout, seq, type, type_len, event, size);
    return gw_directory_apply(self->directory, seq, type, type_len, event, size);
}

static void s_on_progress(void *arg, uint64_t cursor)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    gw_auth_set_synced(self->auth, gw_follower_synced(self->follower));
    gw_cache_set_synced(self->cache, gw_follower_synced(self->follower));
    gw_settle_progress(self->settle, cursor);
    gw_fleet_head(self->fleet, cursor); //  the head as the feed shows it, live
}

//  The broker answers with another journal (follower.h): what the gateway
//  folded and remembered counts in the old one. Its users' keys must stop
//  working (the new journal has not made them), its cached reads and the
//  callers' seqs (min_seq) mean nothing there; all is derived, so it is
//  emptied and folded again from seq 1, as a restarted gateway would.
static void s_on_restart(void *arg)
{
    gw_gateway_t *self = (gw_gateway_t *)arg;
    gw_directory_clear(self->directory);
    gw_cache_restart(self->cache);
    gw_seqs_clear(self->seqs);
    gw_fleet_restart(self->fleet);
    gw_feedout_restart(self->feedout);
}

//  ---------------------------------------------------------------------
//  Life cycle

//  A number setting within [min, max], else its default (logged).
static int64_t s_config_range(rp_config_t *config, const char *path, int64_t fallback, int64_t min,
                              int64_t max)
{
    int64_t value = rp_config_int(config, path, fallback);
    if (value >= min && value <= max)
        return value;
    rp_warn("gateway: %s must be %" PRId64 "..%" PRId64 "; keeping %" PRId64, path, min, max,
            fallback);
    return fallback;
}

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
    gw_routes_t *check = gw_routes_new(NULL);
    int bad_routes = s_routes_add(check); //  logged: a programming error in a routes.c
    gw_routes_destroy(&check);
    if (bad_routes)
        return NULL;
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
    evhttp_set_timeout(self->http, GW_INTAKE_IDLE_S); //  the intake restores it after a body
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
    gw_feedout_config_t feedout = {
        .timeout_ms = (int)timeout_ms,
        .heartbeat_ms = (int)s_config_range(config, "events/heartbeat_ms", GW_FEEDOUT_HEARTBEAT_MS,
                                            10, 3600 * 1000),
        .streams =
            (size_t)s_config_range(config, "events/streams_max", GW_FEEDOUT_STREAMS_MAX, 1, 100000),
        .buffer_max = (size_t)s_config_range(config, "events/buffer_max", GW_FEEDOUT_BUFFER_MAX,
                                             4096, 1024 * 1024 * 1024)};
    self->feedout = gw_feedout_new(base, self->upstream, &feedout);
    int64_t cache_records = rp_config_int(config, "cache/records", GW_CACHE_RECORDS);
    if (cache_records < 0 || cache_records > 10 * 1000 * 1000)
        cache_records = GW_CACHE_RECORDS;
    int64_t cache_bytes = rp_config_int(config, "cache/bytes", GW_CACHE_BYTES);
    if (cache_bytes < 64 * 1024 || cache_bytes > (int64_t)16 * 1024 * 1024 * 1024)
        cache_bytes = GW_CACHE_BYTES;
    self->cache = gw_cache_new((size_t)cache_records, (size_t)cache_bytes);
    self->settle = gw_settle_new(base);
    gw_routes_env_t env = {self->forwarder, self->seqs, cache_records ? self->cache : NULL,
                           self->settle, self->body_max};
    self->routes = gw_routes_new(&env);
    int rc = s_routes_add(self->routes); //  checked above
    assert(rc == 0);
    (void)rc;
    s_specials(self);
    int64_t import_max = rp_config_int(config, "import/max_bytes", 64 * 1024 * 1024);
    if (import_max < 1 || import_max > 1024LL * 1024 * 1024)
        import_max = 64 * 1024 * 1024; //  keep the default rather than no gateway
    self->exporter = gw_exporter_new(self->upstream, self->seqs, (int)timeout_ms);
    self->follower = gw_follower_new(base, feed, endpoint, s_on_event, self, s_on_progress);
    assert(self->follower); //  only a malformed endpoint fails, and the upstream took it
    gw_follower_on_restart(self->follower, s_on_restart);
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
    for (size_t i = 0; gw_csvdefs_imports[i]; i++)
        gw_importer_add(self->importer, gw_csvdefs_imports[i]);
    rp_info("gateway: listening on http://%s:%d, broker %s", bind, self->port, endpoint);
    return self;
}

void gw_gateway_stop(gw_gateway_t *self)
{
    if (self->listener) {
        evhttp_del_accept_socket(self->http, self->listener);
        self->listener = NULL;
    }
    gw_settle_flush(self->settle);
    if (self->feedout)
        gw_feedout_stop(self->feedout);
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
    gw_feedout_destroy(&self->feedout);
    gw_follower_destroy(&self->follower);
    gw_settle_destroy(&self->settle);
    gw_routes_destroy(&self->routes);
    gw_cache_destroy(&self->cache);
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
