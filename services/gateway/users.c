/*  users.c — see users.h. */
#include "users.h"
#include "etag.h"
#include "json.h"
#include "problem.h"
#include "request.h"

#include <czmq.h>
#include <event2/http.h>
#include <inttypes.h>

#define USERS_PATH     "/api/v1/users/"
#define SETTLE_TICK_MS 50

//  A write answered by the service, waiting for the directory to fold it.
typedef struct {
    gw_exchange_t *ex;
    int status;
    json_t *body;
    uint64_t seq;
    int64_t deadline; //  zclock_mono ms
} waiter_t;

struct _gw_users_t {
    gw_forwarder_t *forwarder;
    gw_directory_t *directory;
    size_t body_max;
    zlistx_t *waiters; //  waiter_t, oldest first
    struct event *timer;
};

//  ---------------------------------------------------------------------
//  Settling: a write's answer waits until the directory has its event

static void s_waiter_send(waiter_t *waiter)
{
    gw_exchange_send_json(&waiter->ex, waiter->status, waiter->body);
    free(waiter);
}

//  Answer the waiters covered by cursor, and those out of time (now_ms < 0: all).
static void s_settle(gw_users_t *self, uint64_t cursor, int64_t now_ms)
{
    waiter_t *waiter = (waiter_t *)zlistx_first(self->waiters);
    while (waiter) {
        if (now_ms < 0 || waiter->seq <= cursor || now_ms >= waiter->deadline) {
            zlistx_delete(self->waiters, zlistx_cursor(self->waiters));
            s_waiter_send(waiter);
            waiter = (waiter_t *)zlistx_first(self->waiters); //  the cursor is gone
        } else
            waiter = (waiter_t *)zlistx_next(self->waiters);
    }
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    gw_users_t *self = (gw_users_t *)arg;
    s_settle(self, gw_directory_cursor(self->directory), zclock_mono());
    if (zlistx_size(self->waiters)) {
        struct timeval tick = {0, SETTLE_TICK_MS * 1000};
        evtimer_add(self->timer, &tick);
    }
}

gw_users_t *gw_users_new(struct event_base *base, gw_forwarder_t *forwarder,
                         gw_directory_t *directory, size_t body_max)
{
    gw_users_t *self = (gw_users_t *)zmalloc(sizeof *self);
    self->forwarder = forwarder;
    self->directory = directory;
    self->body_max = body_max;
    self->waiters = zlistx_new();
    self->timer = base ? evtimer_new(base, s_on_tick, self) : NULL;
    return self;
}

void gw_users_progress(gw_users_t *self, uint64_t cursor)
{
    if (zlistx_size(self->waiters))
        s_settle(self, cursor, zclock_mono());
}

void gw_users_flush(gw_users_t *self)
{
    s_settle(self, 0, -1);
}

void gw_users_destroy(gw_users_t **self_p)
{
    gw_users_t *self = *self_p;
    if (!self)
        return;
    gw_users_flush(self);
    zlistx_destroy(&self->waiters);
    if (self->timer)
        event_free(self->timer);
    free(self);
    *self_p = NULL;
}

//  Answer now if the directory already holds the write's seq, else park.
static void s_send_settled(gw_users_t *self, gw_exchange_t **ex_p, int status, json_t *body)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(gw_exchange_req(*ex_p));
    const char *seq_text = evhttp_find_header(out, "X-Rapport-Seq"); //  set by forward.c
    uint64_t seq = seq_text ? strtoull(seq_text, NULL, 10) : 0;
    if (!self->timer || seq <= gw_directory_cursor(self->directory)) {
        gw_exchange_send_json(ex_p, status, body);
        return;
    }
    waiter_t *waiter = (waiter_t *)zmalloc(sizeof *waiter);
    waiter->ex = *ex_p;
    *ex_p = NULL;
    waiter->status = status;
    waiter->body = body;
    waiter->seq = seq;
    waiter->deadline = zclock_mono() + GW_USERS_SETTLE_MS;
    zlistx_add_end(self->waiters, waiter);
    if (!evtimer_pending(self->timer, NULL)) {
        struct timeval tick = {0, SETTLE_TICK_MS * 1000};
        evtimer_add(self->timer, &tick);
    }
}

//  ---------------------------------------------------------------------
//  Answers

//  The record of a reply's data (a new reference): create and rotate_key
//  answer {user: record, key: str | nil} (api_key added when a str);
//  get, update and revoke answer the record itself.
static json_t *s_user_of(json_t *data)
{
    json_t *user = json_object_get(data, "user");
    if (!user)
        user = data;
    if (!json_is_object(user) || !json_is_string(json_object_get(user, "id")))
        return NULL;
    json_t *record = json_deep_copy(user);
    json_t *key = json_object_get(data, "key");
    if (record && json_is_string(key))
        json_object_set(record, "api_key", key);
    return record;
}

//  The record of a reply (data taken over); answers 502 and returns NULL
//  when the service answered something else.
static json_t *s_record(gw_exchange_t **ex_p, json_t *data)
{
    json_t *record = s_user_of(data);
    json_decref(data);
    if (!record)
        gw_problem_send(ex_p, 502, "bad_upstream", "the service answered no user record");
    return record;
}

static void s_read_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *data)
{
    (void)arg;
    json_t *record = s_record(ex_p, data);
    if (record) {
        gw_etag_add(*ex_p, record);
        gw_exchange_send_json(ex_p, status, record);
    }
}

//  update, revoke: the record, once the directory has the change.
static void s_write_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *data)
{
    json_t *record = s_record(ex_p, data);
    if (record) {
        gw_etag_add(*ex_p, record);
        s_send_settled((gw_users_t *)arg, ex_p, status, record);
    }
}

//  create, rotate: the record with its new key, never to be cached.
static void s_keyed_answer(gw_users_t *self, gw_exchange_t **ex_p, int status, json_t *record)
{
    gw_exchange_add_header(*ex_p, "Cache-Control", "no-store");
    gw_etag_add(*ex_p, record);
    s_send_settled(self, ex_p, status, record);
}

static void s_created_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *data)
{
    (void)status;
    json_t *record = s_record(ex_p, data);
    if (!record)
        return;
    char *encoded = evhttp_uriencode(json_string_value(json_object_get(record, "id")), -1, 0);
    if (encoded) {
        char *location = zsys_sprintf(USERS_PATH "%s", encoded);
        gw_exchange_add_header(*ex_p, "Location", location);
        zstr_free(&location);
    }
    free(encoded);
    s_keyed_answer((gw_users_t *)arg, ex_p, 201, record);
}

static void s_rotated_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *data)
{
    json_t *record = s_record(ex_p, data);
    if (record)
        s_keyed_answer((gw_users_t *)arg, ex_p, status, record);
}

//  Forward args (a JSON object, taken over) to op.
static void s_forward(gw_users_t *self, gw_exchange_t **ex_p, bool write, const char *op,
                      const char *idem, json_t *args, gw_forward_fn *on_success)
{
    gw_forward_json(self->forwarder, ex_p, write ? "users.writer" : "users", op, idem, args,
                    on_success, self);
}

//  ---------------------------------------------------------------------
//  Validation of bodies (the service checks values again; here shapes)

typedef enum { FIELD_TEXT, FIELD_NULLABLE, FIELD_ROLE } field_kind_t;

static const struct {
    const char *name;
    field_kind_t kind;
    bool required; //  on create; never null
} s_fields[] = {
    {"name", FIELD_TEXT, true},
    {"email", FIELD_TEXT, true},
    {"role", FIELD_ROLE, true},
    {"team", FIELD_NULLABLE, false},
    {"manager_id", FIELD_NULLABLE, false},
};
#define FIELDS (sizeof s_fields / sizeof s_fields[0])

static const char *const s_read_only[] = {"id",         "active",     "version",
                                          "created_at", "updated_at", NULL};

static const char *s_message(const char *code)
{
    return streq(code, "unknown")     ? "no such field"
           : streq(code, "read_only") ? "the field is set by the service"
           : streq(code, "type")      ? "the value has the wrong type"
           : streq(code, "required")  ? "a value is required"
                                      : "the value is not valid";
}

static void s_error_add(json_t *errors, const char *field, const char *code)
{
    json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "field", field, "code", code,
                                            "message", s_message(code)));
}

static int s_field_index(const char *name)
{
    for (size_t i = 0; i < FIELDS; i++)
        if (streq(s_fields[i].name, name))
            return (int)i;
    return -1;
}

//  One field's value: NULL if fine, else the error code.
static const char *s_value_check(int field, const json_t *value)
{
    if (json_is_null(value))
        return s_fields[field].required ? "required" : NULL;
    if (!json_is_string(value))
        return "type";
    if (s_fields[field].kind == FIELD_ROLE &&
        !gw_directory_role_valid(json_string_value(value), json_string_length(value)))
        return "invalid";
    return NULL;
}

//  Field errors of a create or update body (a new array; empty if none).
static json_t *s_validate(const json_t *body, bool create)
{
    json_t *errors = json_array();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)body, key, value)
    {
        int field = s_field_index(key);
        bool read_only = false;
        for (int i = 0; s_read_only[i]; i++)
            read_only |= streq(s_read_only[i], key);
        const char *code = field >= 0  ? s_value_check(field, value)
                           : read_only ? "read_only"
                                       : "unknown";
        if (code) {
            //  An unknown name is echoed only if it is short plain text.
            bool plain = strlen(key) <= 64 && strspn(key, "abcdefghijklmnopqrstuvwxyz"
                                                          "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "0123456789_-.") == strlen(key);
            s_error_add(errors, plain ? key : "", code);
        }
    }
    for (size_t i = 0; create && i < FIELDS; i++)
        if (s_fields[i].required && !json_object_get(body, s_fields[i].name))
            s_error_add(errors, s_fields[i].name, "required");
    return errors;
}

//  The body, checked; NULL (answered) if not JSON or not valid.
static json_t *s_body(gw_users_t *self, gw_exchange_t **ex_p, bool create)
{
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return NULL;
    json_t *errors = s_validate(body, create);
    if (json_array_size(errors)) {
        json_decref(body);
        gw_problem_send_errors(ex_p, 422, "invalid", "some fields are not valid", errors);
        return NULL;
    }
    json_decref(errors);
    return body;
}

//  ---------------------------------------------------------------------
//  Reads

static const char *const s_list_params[] = {"limit", "cursor",          "team",
                                            "role",  "include_revoked", NULL};

static bool s_query_invalid(gw_exchange_t **ex_p, json_t *query, const char *field,
                            const char *message)
{
    json_decref(query);
    json_t *errors =
        json_pack("[{s:s, s:s, s:s}]", "field", field, "code", "invalid", "message", message);
    gw_problem_send_errors(ex_p, 422, "invalid", "some query parameters are not valid", errors);
    return false;
}

//  limit, include_revoked and role from their query strings into typed
//  args; else 422 (query freed).
static bool s_list_typed(gw_exchange_t **ex_p, json_t *query)
{
    if (!gw_request_limit(ex_p, query))
        return false;
    const char *revoked = json_string_value(json_object_get(query, "include_revoked"));
    if (revoked) {
        if (!streq(revoked, "true") && !streq(revoked, "false"))
            return s_query_invalid(ex_p, query, "include_revoked",
                                   "include_revoked must be true or false");
        json_object_set_new(query, "include_revoked", json_boolean(streq(revoked, "true")));
    }
    const char *role = json_string_value(json_object_get(query, "role"));
    if (role && !gw_directory_role_valid(role, strlen(role)))
        return s_query_invalid(ex_p, query, "role",
                               "role must be admin, manager, sales, readonly or integrator");
    return true;
}

void gw_users_list(gw_users_t *self, gw_exchange_t **ex_p)
{
    json_t *query = gw_request_query(ex_p, s_list_params);
    if (query && s_list_typed(ex_p, query))
        s_forward(self, ex_p, false, "users.list", NULL, query, NULL);
}

void gw_users_get(gw_users_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_forward(self, ex_p, false, "users.get", NULL, json_pack("{s:s}", "id", id), s_read_answer);
}

void gw_users_me(gw_users_t *self, gw_exchange_t **ex_p)
{
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
    gw_users_get(self, ex_p, gw_exchange_actor(*ex_p)->user);
}

//  ---------------------------------------------------------------------
//  Writes

void gw_users_create(gw_users_t *self, gw_exchange_t **ex_p)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_body(self, ex_p, true);
    if (body && gw_request_idem(ex_p, idem, sizeof idem))
        s_forward(self, ex_p, true, "users.create", idem, body, s_created_answer);
    else
        json_decref(body);
}

void gw_users_update(gw_users_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    uint64_t version = 0;
    gw_if_match_t if_match = gw_if_match(ex_p, &version);
    if (if_match == GW_IF_MATCH_BAD)
        return;
    json_t *changes = s_body(self, ex_p, false);
    if (!changes)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(changes);
        return;
    }
    json_t *args = json_pack("{s:s, s:o}", "id", id, "changes", changes);
    if (args && if_match == GW_IF_MATCH_VERSION)
        json_object_set_new(args, "version", json_integer((json_int_t)version));
    s_forward(self, ex_p, true, "users.update", idem, args, s_write_answer);
}

void gw_users_revoke(gw_users_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    uint64_t version = 0;
    gw_if_match_t if_match = gw_if_match(ex_p, &version);
    if (if_match == GW_IF_MATCH_BAD || !gw_request_idem(ex_p, idem, sizeof idem))
        return;
    json_t *args = json_pack("{s:s}", "id", id);
    if (args && if_match == GW_IF_MATCH_VERSION)
        json_object_set_new(args, "version", json_integer((json_int_t)version));
    s_forward(self, ex_p, true, "users.revoke", idem, args, s_write_answer);
}

void gw_users_rotate(gw_users_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    if (gw_request_idem(ex_p, idem, sizeof idem))
        s_forward(self, ex_p, true, "users.rotate_key", idem, json_pack("{s:s}", "id", id),
                  s_rotated_answer);
}

//  ---------------------------------------------------------------------

//  The (field, code) pairs of s_validate on a JSON text, "f:c,f:c".
static void s_test_validate(const char *text, bool create, const char *expected)
{
    json_t *body = json_loads(text, 0, NULL);
    assert(body);
    json_t *errors = s_validate(body, create);
    char got[512] = "";
    size_t i;
    json_t *error;
    json_array_foreach(errors, i, error)
    {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s:%s", i ? "," : "",
                 json_string_value(json_object_get(error, "field")),
                 json_string_value(json_object_get(error, "code")));
        assert(json_string_length(json_object_get(error, "message")) > 0);
    }
    if (!streq(got, expected)) {
        fprintf(stderr, "validate %s: got '%s', expected '%s'\n", text, got, expected);
        assert(false);
    }
    json_decref(errors);
    json_decref(body);
}

void gw_users_test(void)
{
    s_test_validate("{\"name\":\"王芳\",\"email\":\"w@x.cn\",\"role\":\"sales\",\"team\":\"east\","
                    "\"manager_id\":\"m1\"}",
                    true, "");
    s_test_validate("{\"name\":\"王芳\",\"email\":\"w@x.cn\",\"role\":\"sales\",\"team\":null,"
                    "\"manager_id\":null}",
                    true, "");
    s_test_validate("{}", true, "name:required,email:required,role:required");
    s_test_validate("{}", false, "");
    s_test_validate("{\"name\":7,\"email\":[],\"role\":\"boss\",\"team\":{},\"colour\":\"red\","
                    "\"version\":3}",
                    true,
                    "name:type,email:type,role:invalid,team:type,colour:unknown,version:read_only");
    s_test_validate("{\"name\":null,\"role\":\"readonly\",\"manager_id\":5,\"bad key!\":1}", false,
                    "name:required,manager_id:type,:unknown");
    s_test_validate("{\"role\":null,\"active\":false,\"id\":\"x\"}", false,
                    "role:required,active:read_only,id:read_only");
    for (size_t i = 0; i < FIELDS; i++)
        assert(s_field_index(s_fields[i].name) == (int)i);
    assert(s_field_index("api_key") == -1);
}
