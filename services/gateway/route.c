/*  route.c — see route.h. */
#include "route.h"
#include "etag.h"
#include "json.h"
#include "problem.h"
#include "request.h"

#include <czmq.h>
#include <rapport/log.h>
#include <rapport/pack.h>
#include <strings.h>

#define METHODS      5 //  GET (and HEAD), POST, PUT, PATCH, DELETE
#define SPECIALS_MAX 16
#define HEADERS_MAX  4  //  headers one row maps into args
#define QUERY_MAX    32 //  query parameters one row accepts
#define LOCATION_MAX 1024

static const char *const s_methods[METHODS] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

//  One segment of a template: a literal, or a parameter's name.
typedef struct {
    const char *text;
    size_t len;
    bool param;
} segment_t;

//  One template with its rows, one per method.
typedef struct {
    const char *path;
    size_t count;
    segment_t segments[GW_ROUTE_SEGMENTS];
    uint32_t literals; //  a bit per literal segment, the first segment highest
    const rp_route_t *rows[METHODS];
    bool open;
    char allow[64];
} template_t;

typedef struct {
    const char *name;
    gw_special_fn *fn;
    void *arg;
} special_t;

struct _gw_routes_t {
    gw_routes_env_t env;
    template_t templates[GW_ROUTES_MAX];
    size_t count;
    special_t specials[SPECIALS_MAX];
    size_t specials_count;
};

gw_routes_t *gw_routes_new(const gw_routes_env_t *env)
{
    gw_routes_t *self = (gw_routes_t *)zmalloc(sizeof *self);
    if (env)
        self->env = *env;
    return self;
}

void gw_routes_destroy(gw_routes_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Adding rows

static int s_method_index(const char *method)
{
    for (int m = 0; method && m < METHODS; m++)
        if (streq(method, s_methods[m]))
            return m;
    return -1;
}

//  Split a template into segments; false if malformed.
static bool s_template_parse(template_t *t, const char *path)
{
    if (!path || path[0] != '/')
        return false;
    t->path = path;
    t->count = 0;
    t->literals = 0;
    size_t params = 0;
    const char *at = path + 1;
    while (true) {
        size_t len = strcspn(at, "/");
        if (len == 0 || t->count == GW_ROUTE_SEGMENTS)
            return false;
        segment_t *segment = &t->segments[t->count];
        bool param = at[0] == '{' && at[len - 1] == '}';
        if (param && (len < 3 || ++params > GW_ROUTE_PARAMS))
            return false;
        if (!param && memchr(at, '{', len))
            return false;
        *segment = param ? (segment_t){at + 1, len - 2, true} : (segment_t){at, len, false};
        if (!param)
            t->literals |= 1u << (GW_ROUTE_SEGMENTS - 1 - t->count);
        t->count++;
        if (!at[len])
            return true;
        at += len + 1;
    }
}

static size_t s_args_count(const rp_route_arg_t *args)
{
    size_t n = 0;
    while (args && args[n].name)
        n++;
    return n;
}

//  A row that cannot be run as it says: why, or NULL.
static const char *s_row_invalid(const rp_route_t *row)
{
    if (s_method_index(row->method) < 0)
        return "unknown method";
    if (!row->special && (!row->service || !row->op))
        return "no service or op";
    if ((row->body == RP_BODY_WRAPPED || row->body == RP_BODY_LIST) && !row->body_key)
        return "a wrapped body without body_key";
    if (s_args_count(row->headers) > HEADERS_MAX || s_args_count(row->query) > QUERY_MAX)
        return "too many headers or query parameters";
    for (size_t i = 0; row->headers && row->headers[i].name; i++)
        if (row->headers[i].kind == RP_ARG_TEXT)
            return "a header of kind text (headers are bool, int or version)";
    if ((row->flags & RP_ROUTE_CACHED) &&
        (!row->events || row->answer != RP_ANSWER_RECORD || !streq(row->method, "GET")))
        return "a cached row must be a GET of a record, with events";
    return NULL;
}

static template_t *s_template_find(gw_routes_t *self, const char *path)
{
    for (size_t i = 0; i < self->count; i++)
        if (streq(self->templates[i].path, path))
            return &self->templates[i];
    return NULL;
}

//  Allow: the methods of a template, in a fixed order.
static void s_allow_build(template_t *t)
{
    t->allow[0] = 0;
    for (size_t m = 0; m < METHODS; m++)
        if (t->rows[m]) {
            size_t len = strlen(t->allow);
            snprintf(t->allow + len, sizeof t->allow - len, "%s%s%s", len ? ", " : "", s_methods[m],
                     m == 0 ? ", HEAD" : "");
        }
}

//  Add one row; NULL if fine, else why not.
static const char *s_add(gw_routes_t *self, const rp_route_t *row)
{
    const char *invalid = s_row_invalid(row);
    if (invalid)
        return invalid;
    int m = s_method_index(row->method);
    template_t *t = row->path ? s_template_find(self, row->path) : NULL;
    if (!t) {
        if (self->count == GW_ROUTES_MAX)
            return "too many templates";
        t = &self->templates[self->count];
        memset(t, 0, sizeof *t);
        if (!s_template_parse(t, row->path))
            return "a malformed path template";
        t->open = (row->flags & RP_ROUTE_OPEN) != 0;
        self->count++;
    }
    if (t->rows[m])
        return "a template and method given twice";
    if (t->open != ((row->flags & RP_ROUTE_OPEN) != 0))
        return "open and keyed rows under one template";
    t->rows[m] = row;
    if (self->env.cache && (row->flags & RP_ROUTE_CACHED)) {
        gw_cache_watch(self->env.cache, row->events);
        for (size_t i = 0; row->also && row->also[i]; i++)
            gw_cache_also(self->env.cache, row->events, row->also[i]);
    }
    s_allow_build(t);
    return NULL;
}

int gw_routes_add(gw_routes_t *self, const rp_route_table_t *table)
{
    for (size_t i = 0; i < table->count; i++) {
        const rp_route_t *row = &table->rows[i];
        const char *invalid = s_add(self, row);
        if (invalid) {
            rp_error("gateway: routes %s, row %zu (%s %s): %s", table->name, i,
                     row->method ? row->method : "?", row->path ? row->path : "?", invalid);
            return -1;
        }
    }
    return 0;
}

//  The tables RP_ROUTES put into the rp_routes section (GNU ld names its
//  bounds); weak, so a program without any still links.
extern const rp_route_table_t *const __start_rp_routes[] __attribute__((weak));
extern const rp_route_table_t *const __stop_rp_routes[] __attribute__((weak));

int gw_routes_add_linked(gw_routes_t *self)
{
    const rp_route_table_t *const *end = __stop_rp_routes; //  past the last table
    for (const rp_route_table_t *const *table = __start_rp_routes; table && table != end; table++)
        if (gw_routes_add(self, *table))
            return -1;
    return 0;
}

void gw_routes_special(gw_routes_t *self, const char *name, gw_special_fn *fn, void *arg)
{
    assert(self->specials_count < SPECIALS_MAX);
    self->specials[self->specials_count++] = (special_t){name, fn, arg};
}

//  ---------------------------------------------------------------------
//  Matching

static int s_request_method(enum evhttp_cmd_type method)
{
    switch (method) {
    case EVHTTP_REQ_GET:
    case EVHTTP_REQ_HEAD:
        return 0;
    case EVHTTP_REQ_POST:
        return 1;
    case EVHTTP_REQ_PUT:
        return 2;
    case EVHTTP_REQ_PATCH:
        return 3;
    case EVHTTP_REQ_DELETE:
        return 4;
    default:
        return -1;
    }
}

//  Whether the template matches the path's segments (raw parameters into match).
static bool s_template_match(const template_t *t, const char *const *seg, const size_t *len,
                             size_t count, gw_route_match_t *match)
{
    if (count != t->count)
        return false;
    size_t params = 0;
    for (size_t i = 0; i < count; i++) {
        const segment_t *s = &t->segments[i];
        if (s->param) {
            if (!len[i])
                return false;
            match->raw[params] = seg[i];
            match->raw_len[params] = len[i];
            match->names[params++] = s->text; //  "id}": the name's length is in the segment
        } else if (len[i] != s->len || memcmp(seg[i], s->text, len[i]) != 0)
            return false;
    }
    match->count = params;
    return true;
}

bool gw_routes_match(gw_routes_t *self, const char *path, enum evhttp_cmd_type method,
                     gw_route_match_t *match)
{
    memset(match, 0, sizeof *match);
    if (!path || path[0] != '/')
        return false;
    const char *seg[GW_ROUTE_SEGMENTS];
    size_t len[GW_ROUTE_SEGMENTS], count = 0;
    for (const char *at = path + 1;; at += len[count++] + 1) {
        if (count == GW_ROUTE_SEGMENTS)
            return false; //  longer than any template
        seg[count] = at;
        len[count] = strcspn(at, "/");
        if (!at[len[count]]) {
            count++;
            break;
        }
    }
    const template_t *best = NULL;
    gw_route_match_t found;
    for (size_t i = 0; i < self->count; i++) {
        const template_t *t = &self->templates[i];
        if ((!best || t->literals > best->literals) &&
            s_template_match(t, seg, len, count, &found)) {
            best = t;
            *match = found;
        }
    }
    if (!best)
        return false;
    int m = s_request_method(method);
    match->label = best->path;
    match->row = m >= 0 ? best->rows[m] : NULL;
    match->allow = best->allow;
    match->open = best->open;
    return true;
}

//  ---------------------------------------------------------------------
//  Running

//  Percent-decode a path parameter; NULL if too long, not UTF-8, or NUL.
static char *s_param_decode(const char *raw, size_t raw_len)
{
    if (raw_len > GW_ROUTE_PARAM_MAX * 3)
        return NULL;
    char encoded[GW_ROUTE_PARAM_MAX * 3 + 1];
    memcpy(encoded, raw, raw_len);
    encoded[raw_len] = 0;
    size_t len = 0;
    char *param = evhttp_uridecode(encoded, 0, &len);
    if (param && (len == 0 || len > GW_ROUTE_PARAM_MAX || memchr(param, 0, len) ||
                  !rp_utf8_valid(param, len))) {
        free(param);
        param = NULL;
    }
    return param;
}

//  The args name of a template parameter (name is "id}…": up to the brace).
static const char *s_param_name(const rp_route_t *row, const char *name, char *copy, size_t size)
{
    size_t len = strcspn(name, "}");
    for (size_t i = 0; row->params && row->params[i].name; i++)
        if (strlen(row->params[i].name) == len && memcmp(row->params[i].name, name, len) == 0)
            return row->params[i].arg ? row->params[i].arg : row->params[i].name;
    snprintf(copy, size, "%.*s", (int)len, name);
    return copy;
}

static const special_t *s_special(gw_routes_t *self, const char *name)
{
    for (size_t i = 0; i < self->specials_count; i++)
        if (streq(self->specials[i].name, name))
            return &self->specials[i];
    return NULL;
}

static bool s_role_allowed(const char *roles, const char *role);

void gw_routes_run(gw_routes_t *self, gw_exchange_t **ex_p, const gw_route_match_t *match)
{
    const rp_route_t *row = match->row;
    gw_exchange_set_row(*ex_p, row);
    gw_route_params_t params = {.count = 0};
    char names[GW_ROUTE_PARAMS][64];
    for (size_t i = 0; i < match->count; i++) {
        params.values[i] = s_param_decode(match->raw[i], match->raw_len[i]);
        params.names[i] = s_param_name(row, match->names[i], names[i], sizeof names[i]);
        params.count = i + 1;
        if (!params.values[i]) {
            gw_problem_send(ex_p, 404, "not_found", "the path parameter is malformed");
            break;
        }
    }
    if (*ex_p && row->special && row->roles &&
        !s_role_allowed(row->roles, gw_exchange_actor(*ex_p)->role))
        gw_problem_send(ex_p, 403, "forbidden", "this route is not for this key's role");
    else if (*ex_p && row->special) {
        const special_t *special = s_special(self, row->special);
        if (special)
            special->fn(special->arg, self, ex_p, &params);
        else {
            rp_error("gateway: no handler for special route %s %s", row->method, row->path);
            gw_problem_send(ex_p, 500, "internal", "this route has no handler");
        }
    } else if (*ex_p)
        gw_routes_forward(self, ex_p, &params);
    for (size_t i = 0; i < params.count; i++)
        free(params.values[i]);
}

//  A query value as its kind asks: digits an integer, true/false a
//  boolean; anything else stays text, for the service to refuse.
static json_t *s_typed(const rp_route_arg_t *arg, json_t *text)
{
    const char *str = json_string_value(text);
    size_t len = json_string_length(text);
    if (arg->kind == RP_ARG_INT && len >= 1 && len <= 18 && strspn(str, "0123456789") == len)
        return json_integer((json_int_t)strtoll(str, NULL, 10));
    if (arg->kind == RP_ARG_BOOL && (streq(str, "true") || streq(str, "false")))
        return json_boolean(streq(str, "true"));
    return json_incref(text);
}

//  The query into args by the row's table; false (answered 400) if not accepted.
static bool s_query_into(gw_exchange_t **ex_p, const rp_route_t *row, json_t *args)
{
    const char *allowed[QUERY_MAX + 1];
    size_t n = 0;
    for (; row->query[n].name; n++)
        allowed[n] = row->query[n].name;
    allowed[n] = NULL;
    json_t *query = gw_request_query(ex_p, allowed);
    if (!query)
        return false;
    for (size_t i = 0; json_object_size(query) && i < n; i++) {
        json_t *text = json_object_get(query, row->query[i].name);
        if (text)
            json_object_set_new(args, row->query[i].arg ? row->query[i].arg : row->query[i].name,
                                s_typed(&row->query[i], text));
    }
    json_decref(query);
    return true;
}

json_t *gw_routes_query(gw_exchange_t **ex_p, const rp_route_t *row)
{
    json_t *args = json_object();
    if (row->query && !s_query_into(ex_p, row, args)) {
        json_decref(args);
        return NULL;
    }
    return args;
}

//  A header's value for args: *value NULL when absent; false when
//  malformed (answered 400).
static bool s_header(gw_exchange_t **ex_p, const rp_route_arg_t *header, json_t **value)
{
    *value = NULL;
    if (header->kind == RP_ARG_VERSION) {
        uint64_t version = 0;
        gw_if_match_t if_match = gw_if_match(ex_p, &version);
        if (if_match == GW_IF_MATCH_VERSION)
            *value = json_integer((json_int_t)version);
        return if_match != GW_IF_MATCH_BAD;
    }
    const char *text = gw_exchange_header(*ex_p, header->name);
    if (!text)
        return true;
    size_t len = strlen(text);
    if (header->kind == RP_ARG_BOOL && (!strcasecmp(text, "true") || !strcasecmp(text, "false")))
        *value = json_boolean(!strcasecmp(text, "true"));
    else if (header->kind == RP_ARG_INT && len >= 1 && len <= 18 &&
             strspn(text, "0123456789") == len)
        *value = json_integer((json_int_t)strtoll(text, NULL, 10));
    if (*value)
        return true;
    char detail[160];
    snprintf(detail, sizeof detail, "%.64s must be %s", header->name,
             header->kind == RP_ARG_BOOL ? "true or false" : "a whole number");
    gw_problem_send(ex_p, 400, "bad_header", detail);
    return false;
}

//  The row's args from the request, in route.h's order; NULL if answered.
static json_t *s_args(gw_routes_t *self, gw_exchange_t **ex_p, const rp_route_t *row,
                      const gw_route_params_t *params)
{
    json_t *headers[HEADERS_MAX] = {NULL};
    size_t header_count = s_args_count(row->headers);
    for (size_t i = 0; i < header_count; i++)
        if (!s_header(ex_p, &row->headers[i], &headers[i])) {
            while (i--)
                json_decref(headers[i]);
            return NULL;
        }
    json_t *args = NULL;
    if (row->body == RP_BODY_NONE)
        args = json_object();
    else {
        json_t *body = gw_request_body(ex_p, self->env.body_max);
        if (body && row->body == RP_BODY_WRAPPED)
            args = json_pack("{s:o}", row->body_key, body);
        else if (body && row->body == RP_BODY_LIST &&
                 !json_is_array(json_object_get(body, row->body_key)))
            args = json_pack("{s:[o]}", row->body_key, body);
        else
            args = body;
        const json_t *items =
            args && row->body == RP_BODY_LIST ? json_object_get(args, row->body_key) : NULL;
        if (row->max_items && json_is_array(items) && json_array_size(items) > row->max_items) {
            char detail[96];
            snprintf(detail, sizeof detail, "at most %zu %s in one request", row->max_items,
                     row->body_key);
            json_t *errors = json_pack("[{s:s,s:s,s:s}]", "field", row->body_key, "code",
                                       "too_many", "message", detail);
            json_decref(args);
            args = NULL; //  answered; the headers are freed below
            gw_problem_send_errors(ex_p, 422, "too_many", detail, errors);
        }
    }
    if (args && row->query && !s_query_into(ex_p, row, args)) {
        json_decref(args);
        args = NULL;
    }
    for (size_t i = 0; args && i < params->count; i++)
        json_object_set_new(args, params->names[i], json_string(params->values[i]));
    if (args && row->actor_arg)
        json_object_set_new(args, row->actor_arg, json_string(gw_exchange_actor(*ex_p)->user));
    for (size_t i = 0; i < header_count; i++) {
        const rp_route_arg_t *header = &row->headers[i];
        if (args) { //  the header's, never the body's
            const char *name = header->arg ? header->arg : header->name;
            json_object_del(args, name);
            if (headers[i])
                json_object_set(args, name, headers[i]);
        }
        json_decref(headers[i]);
    }
    return args;
}

//  The cache's name for the caller's scope: what an answer depends on
//  besides the store (user, role, team).
static void s_caller(gw_exchange_t *ex, char *caller, size_t size)
{
    const gw_actor_t *actor = gw_exchange_actor(ex);
    snprintf(caller, size, "%s\x1f%s\x1f%s", actor->user, actor->role, actor->team);
}

static void s_on_success(void *arg, gw_exchange_t **ex_p, int status, json_t *data);

//  Is role one of the space-separated names of roles?
static bool s_role_allowed(const char *roles, const char *role)
{
    size_t len = role ? strlen(role) : 0;
    for (const char *p = roles; len && *p;) {
        size_t n = strcspn(p, " ");
        if (n == len && memcmp(p, role, len) == 0)
            return true;
        p += n + (p[n] == ' ');
    }
    return false;
}

void gw_routes_forward(gw_routes_t *self, gw_exchange_t **ex_p, const gw_route_params_t *params)
{
    const rp_route_t *row = gw_exchange_row(*ex_p);
    if (self->env.cache && (row->flags & RP_ROUTE_CACHED) && params->count) {
        char caller[400];
        s_caller(*ex_p, caller, sizeof caller);
        uint64_t min_seq = gw_seqs_get(self->env.seqs, gw_exchange_actor(*ex_p)->user);
        const gw_cache_answer_t *kept =
            gw_cache_find(self->env.cache, row->events, params->values[0], caller, min_seq);
        if (kept) {
            gw_exchange_add_header(*ex_p, "ETag", kept->etag);
            gw_exchange_send(ex_p, 200, "application/json", kept->body, kept->size);
            return;
        }
    }
    if (row->roles && !s_role_allowed(row->roles, gw_exchange_actor(*ex_p)->role)) {
        gw_problem_send(ex_p, 403, "forbidden", "this route is not for this key's role");
        return;
    }
    char idem[GW_IDEM_MAX + 160] = "";
    json_t *args = s_args(self, ex_p, row, params);
    if (!args)
        return;
    if (row->idem && !gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(args);
        return;
    }
    char service[80]; //  where it goes: "customers", "customers.writer"
    snprintf(service, sizeof service, "%s%s", row->service, row->write ? ".writer" : "");
    gw_forward_json(self->env.forwarder, ex_p, service, row->op, idem, args, s_on_success, self);
}

//  ---------------------------------------------------------------------
//  Answers

//  The record of a reply's data (taken over), as the row says; NULL if
//  the data holds none.
static json_t *s_record(const rp_route_t *row, json_t *data)
{
    json_t *record = row->record_key ? json_object_get(data, row->record_key) : NULL;
    if (!json_is_object(record))
        record = data;
    if (!json_is_object(record) || !json_is_string(json_object_get(record, "id"))) {
        json_decref(data);
        return NULL;
    }
    json_incref(record);
    for (size_t i = 0; row->adds && row->adds[i].name; i++) {
        json_t *value = json_object_get(data, row->adds[i].name);
        if (value && !json_is_null(value))
            json_object_set(record, row->adds[i].arg ? row->adds[i].arg : row->adds[i].name, value);
    }
    json_decref(data);
    return record;
}

//  Location: the row's template with the record's fields, percent-encoded;
//  none if a field is missing.
static void s_location(gw_exchange_t *ex, const char *template, const json_t *record)
{
    char location[LOCATION_MAX];
    size_t len = 0;
    for (const char *at = template; *at;) {
        const char *open = strchr(at, '{');
        size_t literal = open ? (size_t)(open - at) : strlen(at);
        if (len + literal >= sizeof location)
            return;
        memcpy(location + len, at, literal);
        len += literal;
        if (!open)
            break;
        size_t name_len = strcspn(open + 1, "}");
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)name_len, open + 1);
        const char *value = json_string_value(json_object_get(record, name));
        char *encoded = value ? evhttp_uriencode(value, -1, 0) : NULL;
        size_t encoded_len = encoded ? strlen(encoded) : 0;
        if (!encoded || len + encoded_len >= sizeof location) {
            free(encoded);
            return;
        }
        memcpy(location + len, encoded, encoded_len);
        len += encoded_len;
        free(encoded);
        at = open + 1 + name_len + (open[1 + name_len] == '}');
    }
    location[len] = 0;
    gw_exchange_add_header(ex, "Location", location);
}

//  A cached row's answer: sent, and kept (record taken over).
static void s_keep_answer(gw_routes_t *self, gw_exchange_t **ex_p, const rp_route_t *row,
                          int status, json_t *record)
{
    const char *id = json_string_value(json_object_get(record, "id"));
    char etag[GW_ETAG_MAX], caller[400];
    size_t size = 0;
    char *text = NULL;
    if (status != 200 || !gw_etag_format(record, etag) || !(text = gw_json_dump(record, &size))) {
        gw_etag_add(*ex_p, record); //  not a shape we keep
        gw_exchange_send_json(ex_p, status, record);
        return;
    }
    s_caller(*ex_p, caller, sizeof caller);
    gw_cache_keep(self->env.cache, row->events, id, caller, gw_exchange_cursor(*ex_p), etag, text,
                  size);
    json_decref(record);
    gw_exchange_add_header(*ex_p, "ETag", etag);
    gw_exchange_send(ex_p, status, "application/json", text, size);
    free(text);
}

static void s_on_success(void *arg, gw_exchange_t **ex_p, int status, json_t *data)
{
    gw_routes_t *self = (gw_routes_t *)arg;
    const rp_route_t *row = gw_exchange_row(*ex_p);
    if (row->status)
        status = row->status;
    if (row->flags & RP_ROUTE_NO_STORE)
        gw_exchange_add_header(*ex_p, "Cache-Control", "no-store");
    if (row->answer == RP_ANSWER_RECORD) {
        data = s_record(row, data);
        if (!data) {
            gw_problem_send(ex_p, 502, "bad_upstream", "the service answered no record");
            return;
        }
        if (row->location)
            s_location(*ex_p, row->location, data);
        if (self->env.cache && (row->flags & RP_ROUTE_CACHED)) {
            s_keep_answer(self, ex_p, row, status, data);
            return;
        }
        if (!(row->flags & RP_ROUTE_NO_ETAG))
            gw_etag_add(*ex_p, data);
    }
    if (status == 204) {
        json_decref(data);
        gw_exchange_send(ex_p, 204, NULL, NULL, 0);
    } else if (self->env.settle && (row->flags & RP_ROUTE_SETTLE)) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(gw_exchange_req(*ex_p));
        const char *seq = evhttp_find_header(out, "X-Rapport-Seq"); //  set by forward.c
        gw_settle_send(self->env.settle, ex_p, status, data, seq ? strtoull(seq, NULL, 10) : 0);
    } else
        gw_exchange_send_json(ex_p, status, data);
}

//  ---------------------------------------------------------------------

size_t gw_routes_info(gw_routes_t *self, gw_route_info_t *infos, size_t max)
{
    for (size_t i = 0; i < self->count && i < max; i++) {
        const template_t *t = &self->templates[i];
        infos[i] = (gw_route_info_t){.label = t->path,
                                     .needs_key = !t->open,
                                     .get = t->rows[0] != NULL,
                                     .post = t->rows[1] != NULL,
                                     .put = t->rows[2] != NULL,
                                     .patch = t->rows[3] != NULL,
                                     .del = t->rows[4] != NULL};
    }
    return self->count;
}

//  ---------------------------------------------------------------------
//  Self-test: rows run through rp_testbroker to an echo worker (testkit.h).

#include "testkit.h"

static const rp_route_arg_t s_test_query[] = {RP_INT("limit"), RP_BOOL("on"), RP_AS("q", "query"),
                                              RP_END};
static const rp_route_arg_t s_test_headers[] = {RP_IF_MATCH("version"), RP_BOOL_AS("X-Dup", "dup"),
                                                RP_END};
static const rp_route_arg_t s_test_params[] = {RP_AS("sub_id", "sid"), RP_END};
static const rp_route_arg_t s_test_adds[] = {RP_AS("key", "api_key"), RP_END};

static const rp_route_t s_test_rows[] = {
    {.method = "GET", .path = "/r", .service = "t", .op = "t.list", .query = s_test_query},
    {.method = "POST",
     .path = "/r",
     .service = "t",
     .op = "t.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_test_headers,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = "/r/{id}/sub/{op}",
     .flags = RP_ROUTE_NO_STORE},
    {.method = "GET",
     .path = "/r/{id}",
     .service = "t",
     .op = "t.get",
     .answer = RP_ANSWER_RECORD,
     .events = "t.",
     .flags = RP_ROUTE_CACHED},
    {.method = "PATCH",
     .path = "/r/{id}",
     .service = "t",
     .op = "t.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_test_headers,
     .answer = RP_ANSWER_RECORD},
    {.method = "GET",
     .path = "/r/me",
     .service = "t",
     .op = "t.me",
     .special = "me",
     .actor_arg = "id"},
    {.method = "GET",
     .path = "/r/{id}/sub/{sub_id}",
     .service = "t",
     .op = "t.sub",
     .params = s_test_params},
    {.method = "PUT",
     .path = "/r/{id}/wrap",
     .service = "t",
     .op = "t.wrap",
     .write = true,
     .body = RP_BODY_WRAPPED,
     .body_key = "changes"},
    {.method = "POST",
     .path = "/r/{id}/user",
     .service = "t",
     .op = "t.user",
     .write = true,
     .answer = RP_ANSWER_RECORD,
     .record_key = "user",
     .adds = s_test_adds},
    {.method = "GET",
     .path = "/r/{id}/none",
     .service = "t",
     .op = "t.none",
     .answer = RP_ANSWER_RECORD},
    {.method = "DELETE",
     .path = "/r/{id}/none",
     .service = "t",
     .op = "t.gone",
     .write = true,
     .status = 204},
    {.method = "GET", .path = "/r/{id}/fail", .service = "t", .op = "t.fail"},
    {.method = "GET", .path = "/r/{id}/admins", .special = "me", .roles = "admin integrator"},
};
static const rp_route_table_t s_test_table = {"test", s_test_rows,
                                              sizeof s_test_rows / sizeof s_test_rows[0]};

static void s_test_handler(void *arg, gw_exchange_t **ex_p)
{
    gw_routes_t *self = *(gw_routes_t **)arg;
    struct evhttp_request *req = gw_exchange_req(*ex_p);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    gw_route_match_t match;
    if (!gw_routes_match(self, path, evhttp_request_get_command(req), &match))
        gw_problem_send(ex_p, 404, "not_found", "no such resource");
    else if (!match.row) {
        gw_exchange_add_header(*ex_p, "Allow", match.allow);
        gw_problem_send(ex_p, 405, "method_not_allowed", "the method is not allowed here");
    } else
        gw_routes_run(self, ex_p, &match);
}

//  The special "me": says who asked, then runs the row's own forward.
static void s_test_me(void *arg, gw_routes_t *routes, gw_exchange_t **ex_p,
                      const gw_route_params_t *params)
{
    (*(int *)arg)++;
    gw_routes_forward(routes, ex_p, params);
}

//  One request; its answer's status as expected, and the echoed args.
static json_t *s_test_call(gw_testkit_t *kit, const char *method, const char *path,
                           const char *headers, const char *body, int status,
                           gw_testkit_answer_t *answer)
{
    gw_testkit_request(kit, method, path, headers, body, answer);
    if (answer->status != status) {
        fprintf(stderr, "route test: %s %s: %d %s\n", method, path, answer->status, answer->body);
        assert(false);
    }
    return json_object_get(answer->json, "args");
}

static const char *s_test_str(json_t *object, const char *key)
{
    const char *value = json_string_value(json_object_get(object, key));
    return value ? value : "(none)";
}

//  Rows the engine refuses, and where its templates match.
static void s_test_tables(void)
{
    static const rp_route_t bad[][1] = {
        {{.method = "GET", .path = "/x/{}", .service = "t", .op = "t.x"}},
        {{.method = "GET", .path = "x", .service = "t", .op = "t.x"}},
        {{.method = "GET", .path = "/x//y", .service = "t", .op = "t.x"}},
        {{.method = "GET", .path = "/x/a{b}", .service = "t", .op = "t.x"}},
        {{.method = "BREW", .path = "/x", .service = "t", .op = "t.x"}},
        {{.method = "GET", .path = "/x", .op = "t.x"}},
        {{.method = "GET", .path = "/x", .service = "t", .op = "t.x", .body = RP_BODY_WRAPPED}},
        {{.method = "GET", .path = "/r", .service = "t", .op = "t.again"}},
        {{.method = "POST", .path = "/r/me", .special = "me", .flags = RP_ROUTE_OPEN}},
    };
    gw_routes_t *self = gw_routes_new(NULL);
    assert(gw_routes_add(self, &s_test_table) == 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rp_route_table_t table = {"bad", bad[i], 1};
        assert(gw_routes_add(self, &table) == -1);
    }
    gw_route_match_t match;
    assert(gw_routes_match(self, "/r/me", EVHTTP_REQ_GET, &match) && streq(match.label, "/r/me"));
    assert(gw_routes_match(self, "/r/mo", EVHTTP_REQ_HEAD, &match) &&
           streq(match.label, "/r/{id}"));
    assert(match.row && streq(match.row->op, "t.get") && match.count == 1);
    assert(match.raw_len[0] == 2 && memcmp(match.raw[0], "mo", 2) == 0);
    assert(gw_routes_match(self, "/r/a/sub/b", EVHTTP_REQ_GET, &match) && match.count == 2);
    assert(gw_routes_match(self, "/r/a", EVHTTP_REQ_POST, &match) && !match.row);
    assert(streq(match.allow, "GET, HEAD, PATCH"));
    assert(gw_routes_match(self, "/r/a/none", EVHTTP_REQ_DELETE, &match) && match.row);
    assert(streq(match.allow, "GET, HEAD, DELETE"));
    assert(!gw_routes_match(self, "/r/", EVHTTP_REQ_GET, &match) && !match.label);
    assert(!gw_routes_match(self, "/r/a/b", EVHTTP_REQ_GET, &match));
    assert(!gw_routes_match(self, "/r/a/sub/b/c/d/e/f/g/h/i/j/k/l/m", EVHTTP_REQ_GET, &match));
    assert(!gw_routes_match(self, "r", EVHTTP_REQ_GET, &match) &&
           !gw_routes_match(self, NULL, 0, &match));
    gw_route_info_t infos[16];
    assert(gw_routes_info(self, infos, 16) == 9);
    assert(streq(infos[0].label, "/r") && infos[0].get && infos[0].post && !infos[0].put);
    assert(infos[0].needs_key);
    gw_routes_destroy(&self);
}

void gw_routes_test(void)
{
    s_test_tables();
    gw_routes_t *self = NULL;
    gw_testkit_t *kit = gw_testkit_new(s_test_handler, &self);
    gw_cache_t *cache = gw_cache_new(10, 1024 * 1024);
    gw_cache_set_synced(cache, true);
    gw_forwarder_t *forwarder =
        gw_forwarder_new(gw_testkit_upstream(kit), gw_testkit_seqs(kit), 5000);
    gw_routes_env_t env = {forwarder, gw_testkit_seqs(kit), cache, NULL, 1024};
    self = gw_routes_new(&env);
    assert(gw_routes_add(self, &s_test_table) == 0);
    int me = 0;
    gw_routes_special(self, "me", s_test_me, &me);
    gw_testkit_answer_t answer;
    char value[128];

    //  The query: only the table's names, typed when they read as their
    //  kind, else left as text for the service; renamed.
    json_t *args =
        s_test_call(kit, "GET", "/r?limit=050&on=true&q=%E5%8C%97+x", NULL, NULL, 200, &answer);
    assert(json_integer_value(json_object_get(args, "limit")) == 50);
    assert(json_is_true(json_object_get(args, "on")) && streq(s_test_str(args, "query"), "北 x"));
    gw_testkit_answer_free(&answer);
    args = s_test_call(kit, "GET", "/r?limit=x&on=maybe", NULL, NULL, 200, &answer);
    assert(streq(s_test_str(args, "limit"), "x") && streq(s_test_str(args, "on"), "maybe"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "GET", "/r?colour=red", NULL, NULL, 400, &answer);
    assert(streq(s_test_str(answer.json, "code"), "bad_query"));
    gw_testkit_answer_free(&answer);

    //  A create: the body merged, headers into args (never the body's),
    //  idem scoped by caller; 201, Location from the record, no-store, ETag.
    args = s_test_call(kit, "POST", "/r", "Idempotency-Key: k1\nX-Dup: TRUE\n",
                       "{\"name\": \"王芳\", \"dup\": false, \"version\": 9}", 201, &answer);
    assert(streq(s_test_str(args, "name"), "王芳") && json_is_true(json_object_get(args, "dup")));
    assert(!json_object_get(args, "version")); //  If-Match absent: the body's is dropped
    assert(streq(s_test_str(answer.json, "idem"), "ana:k1"));
    assert(
        streq(gw_testkit_header(&answer, "Location", value, sizeof value), "/r/r1/sub/t.create"));
    assert(streq(gw_testkit_header(&answer, "Cache-Control", value, sizeof value), "no-store"));
    assert(streq(gw_testkit_header(&answer, "ETag", value, sizeof value), "\"3\""));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "POST", "/r", "X-Dup: yes\n", "{}", 400, &answer);
    assert(streq(s_test_str(answer.json, "code"), "bad_header"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "POST", "/r", NULL, "[1]", 400, &answer);
    assert(streq(s_test_str(answer.json, "code"), "bad_json"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "POST", "/r", "Content-Type: text/plain\n", "{}", 415, &answer);
    gw_testkit_answer_free(&answer);

    //  PATCH: the path names the record, If-Match the version.
    args = s_test_call(kit, "PATCH", "/r/x%20y", "If-Match: \"4\"\n", "{\"id\": \"no\", \"a\": 1}",
                       200, &answer);
    assert(streq(s_test_str(args, "id"), "x y") &&
           json_integer_value(json_object_get(args, "version")) == 4);
    assert(json_integer_value(json_object_get(args, "a")) == 1 && !json_object_get(args, "dup"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "PATCH", "/r/x", "If-Match: W/\"4\"\n", "{}", 400, &answer);
    assert(streq(s_test_str(answer.json, "code"), "bad_if_match"));
    gw_testkit_answer_free(&answer);

    //  Parameters: decoded, renamed; malformed ones are 404.
    args = s_test_call(kit, "GET", "/r/%E5%BC%A0/sub/k%2F1", NULL, NULL, 200, &answer);
    assert(streq(s_test_str(args, "id"), "张") && streq(s_test_str(args, "sid"), "k/1"));
    gw_testkit_answer_free(&answer);
    for (int i = 0; i < 3; i++) {
        char path[1024] = "/r/";
        const char *bad[] = {"%FF", "a%00b", NULL};
        if (bad[i])
            strcat(path, bad[i]);
        else
            memset(path + 3, 'x', GW_ROUTE_PARAM_MAX + 1);
        s_test_call(kit, "GET", path, NULL, NULL, 404, &answer);
        gw_testkit_answer_free(&answer);
    }
    s_test_call(kit, "POST", "/r/x", NULL, "{}", 405, &answer);
    assert(streq(gw_testkit_header(&answer, "Allow", value, sizeof value), "GET, HEAD, PATCH"));
    gw_testkit_answer_free(&answer);

    //  A literal beats a parameter; a special falls back to the forward;
    //  the actor into args. A special row's roles are checked before it runs.
    args = s_test_call(kit, "GET", "/r/me", NULL, NULL, 200, &answer);
    assert(me == 1 && streq(s_test_str(args, "id"), "ana"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "GET", "/r/x/admins", NULL, NULL, 403, &answer); //  ana is sales
    assert(me == 1 && streq(s_test_str(answer.json, "code"), "forbidden"));
    gw_testkit_answer_free(&answer);

    //  A wrapped body; a record under a key with a field added; no record:
    //  502; 204 without a body; the service's 422 as it is.
    args = s_test_call(kit, "PUT", "/r/a/wrap", NULL, "{\"name\": \"x\"}", 200, &answer);
    assert(streq(s_test_str(json_object_get(args, "changes"), "name"), "x"));
    assert(streq(s_test_str(args, "id"), "a") && !json_object_get(args, "name"));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "POST", "/r/a/user", NULL, NULL, 200, &answer);
    assert(streq(s_test_str(answer.json, "id"), "u1") &&
           streq(s_test_str(answer.json, "api_key"), "rpk_x"));
    assert(streq(gw_testkit_header(&answer, "ETag", value, sizeof value), "\"2\""));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "GET", "/r/a/none", NULL, NULL, 502, &answer);
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "DELETE", "/r/a/none", NULL, NULL, 204, &answer);
    assert(answer.size == 0);
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "GET", "/r/a/fail", NULL, NULL, 422, &answer);
    assert(
        streq(s_test_str(json_array_get(json_object_get(answer.json, "errors"), 0), "field"), "f"));
    gw_testkit_answer_free(&answer);

    //  A cached row: the second GET is the cache's, and the same answer;
    //  HEAD sends the headers alone.
    s_test_call(kit, "GET", "/r/r1", NULL, NULL, 200, &answer);
    char first[256];
    snprintf(first, sizeof first, "%s", answer.body);
    gw_testkit_answer_free(&answer);
    assert(gw_cache_hits(cache) == 0 && gw_cache_records(cache) == 1);
    //  The caller wrote at seq 7: a hit needs the feed there (an event of
    //  another kind, which leaves r1 alone).
    gw_cache_event(cache, 8, "o.x", 3, (const uint8_t *)"\x80", 1);
    s_test_call(kit, "GET", "/r/r1", NULL, NULL, 200, &answer);
    assert(gw_cache_hits(cache) == 1 && streq(answer.body, first));
    assert(streq(gw_testkit_header(&answer, "ETag", value, sizeof value), "\"3\""));
    gw_testkit_answer_free(&answer);
    s_test_call(kit, "HEAD", "/r/r1", NULL, NULL, 200, &answer);
    assert(answer.size == 0);
    assert(atoi(gw_testkit_header(&answer, "Content-Length", value, sizeof value)) ==
           (int)strlen(first));
    gw_testkit_answer_free(&answer);

    gw_routes_destroy(&self);
    gw_forwarder_destroy(&forwarder);
    gw_cache_destroy(&cache);
    gw_testkit_destroy(&kit);
}
