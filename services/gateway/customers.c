/*  customers.c — see customers.h. */
#include "customers.h"
#include "json.h"
#include "problem.h"
#include "request.h"

#include <czmq.h>
#include <inttypes.h>
#include <strings.h>

#define CUSTOMERS_LIMIT_MAX 200 //  docs/customers.md: list limit 1..200
#define CUSTOMERS_PATH      "/api/v1/customers/"

struct _gw_customers_t {
    gw_forwarder_t *forwarder;
    size_t body_max;
};

//  What an If-Match header asks.
typedef enum { IF_MATCH_NONE, IF_MATCH_VERSION, IF_MATCH_BAD } if_match_t;

gw_customers_t *gw_customers_new(gw_forwarder_t *forwarder, size_t body_max)
{
    gw_customers_t *self = (gw_customers_t *)zmalloc(sizeof *self);
    self->forwarder = forwarder;
    self->body_max = body_max;
    return self;
}

void gw_customers_destroy(gw_customers_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Versions as entity tags: a record's version N is the strong tag "N".

//  Parse an If-Match value: absent or "*" asks nothing; "N" asks version N;
//  anything else (weak tags never match strongly, lists are not offered) is
//  refused rather than guessed at.
static if_match_t s_if_match_parse(const char *value, uint64_t *version)
{
    if (!value || streq(value, "*"))
        return IF_MATCH_NONE;
    size_t len = strlen(value);
    size_t digits = len >= 2 ? strspn(value + 1, "0123456789") : 0;
    if (len < 3 || len > 22 || value[0] != '"' || digits != len - 2 || value[len - 1] != '"')
        return IF_MATCH_BAD;
    errno = 0;
    *version = strtoull(value + 1, NULL, 10);
    return errno ? IF_MATCH_BAD : IF_MATCH_VERSION;
}

static if_match_t s_if_match(gw_exchange_t **ex_p, uint64_t *version)
{
    if_match_t if_match = s_if_match_parse(gw_exchange_header(*ex_p, "If-Match"), version);
    if (if_match == IF_MATCH_BAD)
        gw_problem_send(
            ex_p, 400, "bad_if_match",
            "If-Match must be \"*\" or one entity tag as given in ETag (\"<version>\")");
    return if_match;
}

static void s_etag_add(gw_exchange_t *ex, const json_t *record)
{
    json_t *version = json_object_get(record, "version");
    if (json_is_integer(version) && json_integer_value(version) >= 0) {
        char etag[32];
        snprintf(etag, sizeof etag, "\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(version));
        gw_exchange_add_header(ex, "ETag", etag);
    }
}

//  ---------------------------------------------------------------------
//  Answers

//  A record answered as is, with its ETag.
static void s_record_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)arg;
    s_etag_add(*ex_p, record);
    gw_exchange_send_json(ex_p, status, record);
}

//  A created record: 201 with where it lives.
static void s_created_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)arg;
    (void)status;
    const char *id = json_string_value(json_object_get(record, "id"));
    char *encoded = id ? evhttp_uriencode(id, -1, 0) : NULL;
    if (encoded) {
        char *location = zsys_sprintf(CUSTOMERS_PATH "%s", encoded);
        gw_exchange_add_header(*ex_p, "Location", location);
        zstr_free(&location);
    }
    free(encoded);
    s_etag_add(*ex_p, record);
    gw_exchange_send_json(ex_p, 201, record);
}

//  Forward args (a JSON object, taken over) to op.
static void s_forward(gw_customers_t *self, gw_exchange_t **ex_p, bool write, const char *op,
                      const char *idem, json_t *args, gw_forward_fn *on_success)
{
    if (!args) { //  json_pack refused a value: never for checked UTF-8, still answer
        gw_problem_send(ex_p, 400, "bad_args", "the request cannot be represented");
        return;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    int rc = gw_json_pack(args, &packer.pk); //  depth checked by gw_request_body
    json_decref(args);
    if (rc)
        gw_problem_send(ex_p, 400, "bad_json", "the body nests too deeply");
    else
        gw_forward_then(self->forwarder, ex_p, write ? "customers.writer" : "customers", op,
                        idem && *idem ? idem : NULL, packer.buffer.data, packer.buffer.size,
                        on_success, self);
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  Reads

static const char *const s_list_params[] = {"q",     "grade",  "tier",     "owner", "team",
                                            "limit", "cursor", "archived", NULL};

//  limit and archived from their query strings into typed args; else 422.
static bool s_list_typed(gw_exchange_t **ex_p, json_t *query)
{
    const char *limit = json_string_value(json_object_get(query, "limit"));
    if (limit) {
        size_t len = strlen(limit);
        long value = len && len <= 3 && strspn(limit, "0123456789") == len ? atol(limit) : 0;
        if (value < 1 || value > CUSTOMERS_LIMIT_MAX) {
            json_t *errors = json_pack("[{s:s, s:s, s:s}]", "field", "limit", "code",
                                       "out_of_range", "message", "limit must be 1..200");
            gw_problem_send_errors(ex_p, 422, "invalid", "some query parameters are not valid",
                                   errors);
            return false;
        }
        json_object_set_new(query, "limit", json_integer(value));
    }
    const char *archived = json_string_value(json_object_get(query, "archived"));
    if (archived) {
        if (!streq(archived, "true") && !streq(archived, "false")) {
            json_t *errors = json_pack("[{s:s, s:s, s:s}]", "field", "archived", "code", "invalid",
                                       "message", "archived must be true or false");
            gw_problem_send_errors(ex_p, 422, "invalid", "some query parameters are not valid",
                                   errors);
            return false;
        }
        json_object_set_new(query, "archived", json_boolean(streq(archived, "true")));
    }
    return true;
}

void gw_customers_list(gw_customers_t *self, gw_exchange_t **ex_p)
{
    json_t *query = gw_request_query(ex_p, s_list_params);
    if (!query)
        return;
    if (!s_list_typed(ex_p, query)) {
        json_decref(query);
        return;
    }
    s_forward(self, ex_p, false, "customers.list", NULL, query, NULL);
}

void gw_customers_get(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_forward(self, ex_p, false, "customers.get", NULL, json_pack("{s:s}", "id", id),
              s_record_answer);
}

//  ---------------------------------------------------------------------
//  Writes

void gw_customers_create(gw_customers_t *self, gw_exchange_t **ex_p)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    //  Only the header may allow a duplicate: a body field is not a way around it.
    const char *allow = gw_exchange_header(*ex_p, "X-Rapport-Allow-Duplicate");
    json_object_del(body, "allow_duplicate");
    if (allow && strcasecmp(allow, "true") && strcasecmp(allow, "false")) {
        json_decref(body);
        gw_problem_send(ex_p, 400, "bad_header", "X-Rapport-Allow-Duplicate must be true or false");
        return;
    }
    if (allow && strcasecmp(allow, "true") == 0)
        json_object_set_new(body, "allow_duplicate", json_true());
    s_forward(self, ex_p, true, "customers.create", idem, body, s_created_answer);
}

void gw_customers_update(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    uint64_t version = 0;
    if_match_t if_match = s_if_match(ex_p, &version);
    if (if_match == IF_MATCH_BAD)
        return;
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    //  The path names the record and If-Match the version; the body does neither.
    json_object_set_new(body, "id", json_string(id));
    json_object_del(body, "version");
    if (if_match == IF_MATCH_VERSION)
        json_object_set_new(body, "version", json_integer((json_int_t)version));
    s_forward(self, ex_p, true, "customers.update", idem, body, s_record_answer);
}

static void s_archive_send(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    if (gw_request_idem(ex_p, idem, sizeof idem))
        s_forward(self, ex_p, true, "customers.archive", idem, json_pack("{s:s}", "id", id),
                  s_record_answer);
}

//  customers.archive takes no version, so a DELETE with If-Match reads the
//  record first and archives only if the version matches. Between the two
//  a concurrent change can slip in; see docs/api.md.
static void s_archive_checked(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)status;
    uint64_t version = 0;
    s_if_match_parse(gw_exchange_header(*ex_p, "If-Match"), &version); //  checked before
    json_t *current = json_object_get(record, "version");
    const char *id = json_string_value(json_object_get(record, "id"));
    if (!id)
        gw_problem_send(ex_p, 502, "bad_upstream", "the service answered a record without id");
    else if (!json_is_integer(current) || (uint64_t)json_integer_value(current) != version)
        gw_problem_send(ex_p, 412, "version_mismatch", "the customer changed since that version");
    else
        s_archive_send((gw_customers_t *)arg, ex_p, id);
    json_decref(record);
}

void gw_customers_archive(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    uint64_t version = 0;
    if_match_t if_match = s_if_match(ex_p, &version);
    if (if_match == IF_MATCH_BAD)
        return;
    char idem[GW_IDEM_MAX + 160];
    if (!gw_request_idem(ex_p, idem, sizeof idem)) //  refuse a bad key before reading
        return;
    if (if_match == IF_MATCH_VERSION)
        s_forward(self, ex_p, false, "customers.get", NULL, json_pack("{s:s}", "id", id),
                  s_archive_checked);
    else
        s_archive_send(self, ex_p, id);
}

void gw_customers_restore(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    if (gw_request_idem(ex_p, idem, sizeof idem))
        s_forward(self, ex_p, true, "customers.restore", idem, json_pack("{s:s}", "id", id),
                  s_record_answer);
}

//  ---------------------------------------------------------------------

void gw_customers_test(void)
{
    uint64_t version = 0;
    assert(s_if_match_parse(NULL, &version) == IF_MATCH_NONE);
    assert(s_if_match_parse("*", &version) == IF_MATCH_NONE);
    assert(s_if_match_parse("\"7\"", &version) == IF_MATCH_VERSION && version == 7);
    assert(s_if_match_parse("\"18446744073709551615\"", &version) == IF_MATCH_VERSION);
    assert(version == UINT64_MAX);
    assert(s_if_match_parse("\"18446744073709551616\"", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("7", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("W/\"7\"", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("\"\"", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("\"7\", \"8\"", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("\"-1\"", &version) == IF_MATCH_BAD);
    assert(s_if_match_parse("\"", &version) == IF_MATCH_BAD);
}
