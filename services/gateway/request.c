/*  request.c — see request.h. */
#include "request.h"
#include "json.h"
#include "problem.h"

#include <czmq.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <rapport/pack.h>
#include <strings.h>

json_t *gw_request_body(gw_exchange_t **ex_p, size_t body_max)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(gw_exchange_req(*ex_p));
    size_t size = evbuffer_get_length(in);
    if (size > body_max) {
        char detail[96];
        snprintf(detail, sizeof detail, "the body exceeds %zu bytes", body_max);
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

bool gw_request_idem(gw_exchange_t **ex_p, char *idem, size_t size)
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

static bool s_allowed(const char *name, size_t len, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strlen(*allowed) == len && memcmp(*allowed, name, len) == 0)
            return true;
    return false;
}

//  One name=value pair (encoded, not NUL-terminated) into query.
static bool s_query_pair(json_t *query, const char *pair, size_t len, const char *const *allowed,
                         char *err, size_t err_size)
{
    const char *equals = memchr(pair, '=', len);
    size_t name_len = equals ? (size_t)(equals - pair) : len;
    if (!s_allowed(pair, name_len, allowed)) {
        snprintf(err, err_size, "unknown query parameter '%.*s'",
                 (int)(name_len > 32 ? 32 : name_len), pair);
        //  The name is echoed only if it is plain text.
        for (size_t i = 0; i < name_len && i < 32; i++)
            if (pair[i] < 0x21 || pair[i] > 0x7e || pair[i] == '%') {
                snprintf(err, err_size, "unknown query parameter");
                break;
            }
        return false;
    }
    char name[64];
    snprintf(name, sizeof name, "%.*s", (int)name_len, pair);
    if (json_object_get(query, name)) {
        snprintf(err, err_size, "query parameter '%s' given twice", name);
        return false;
    }
    char *raw = strndup(equals ? equals + 1 : "", equals ? len - name_len - 1 : 0);
    size_t value_len = 0;
    char *value = evhttp_uridecode(raw, 1, &value_len);
    free(raw);
    int max = streq(name, "cursor")  ? GW_QUERY_CURSOR_MAX
              : streq(name, "types") ? GW_QUERY_TYPES_MAX
                                     : GW_QUERY_VALUE_MAX;
    bool valid = value && value_len <= (size_t)max && !memchr(value, 0, value_len) &&
                 rp_utf8_valid(value, value_len);
    if (valid)
        json_object_set_new(query, name, json_stringn(value, value_len));
    else
        snprintf(err, err_size, "query parameter '%s' must be UTF-8 of at most %d bytes", name,
                 max);
    free(value);
    return valid;
}

//  The query string parsed; NULL with a reason in err.
static json_t *s_query_parse(const char *text, const char *const *allowed, char *err,
                             size_t err_size)
{
    json_t *query = json_object();
    if (!text)
        return query;
    if (strlen(text) > GW_QUERY_MAX) {
        snprintf(err, err_size, "the query string exceeds %d bytes", GW_QUERY_MAX);
        json_decref(query);
        return NULL;
    }
    while (*text) {
        size_t len = strcspn(text, "&");
        if (len && !s_query_pair(query, text, len, allowed, err, err_size)) {
            json_decref(query);
            return NULL;
        }
        text += len + (text[len] == '&');
    }
    return query;
}

json_t *gw_request_query(gw_exchange_t **ex_p, const char *const *allowed)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(gw_exchange_req(*ex_p));
    char err[200];
    json_t *query = s_query_parse(evhttp_uri_get_query(uri), allowed, err, sizeof err);
    if (!query)
        gw_problem_send(ex_p, 400, "bad_query", err);
    return query;
}

long gw_request_limit_value(const char *text)
{
    size_t len = strlen(text);
    long n = len && len <= 3 && strspn(text, "0123456789") == len ? atol(text) : 0;
    return n >= 1 && n <= GW_LIMIT_MAX ? n : 0;
}

bool gw_request_limit(gw_exchange_t **ex_p, json_t *query)
{
    const char *text = json_string_value(json_object_get(query, "limit"));
    if (!text)
        return true;
    long n = gw_request_limit_value(text);
    if (n) {
        json_object_set_new(query, "limit", json_integer(n));
        return true;
    }
    json_decref(query);
    json_t *errors = json_pack("[{s:s, s:s, s:s}]", "field", "limit", "code", "out_of_range",
                               "message", "limit must be 1..200");
    gw_problem_send_errors(ex_p, 422, "invalid", "some query parameters are not valid", errors);
    return false;
}

void gw_request_test(void)
{
    assert(gw_request_limit_value("1") == 1 && gw_request_limit_value("200") == 200);
    assert(gw_request_limit_value("050") == 50);
    assert(!gw_request_limit_value("0") && !gw_request_limit_value("201"));
    assert(!gw_request_limit_value("") && !gw_request_limit_value("-5"));
    assert(!gw_request_limit_value("1e2") && !gw_request_limit_value("1000"));

    static const char *const allowed[] = {"q", "limit", NULL};
    char err[200];
    json_t *query = s_query_parse("q=%E5%8C%97%E4%BA%AC+x&limit=5&", allowed, err, sizeof err);
    assert(query);
    assert(streq(json_string_value(json_object_get(query, "q")), "北京 x"));
    assert(streq(json_string_value(json_object_get(query, "limit")), "5"));
    json_decref(query);
    query = s_query_parse(NULL, allowed, err, sizeof err);
    assert(query && json_object_size(query) == 0);
    json_decref(query);
    query = s_query_parse("q", allowed, err, sizeof err); //  a bare name is an empty value
    assert(query && streq(json_string_value(json_object_get(query, "q")), ""));
    json_decref(query);

    assert(!s_query_parse("x=1", allowed, err, sizeof err));
    assert(strstr(err, "'x'"));
    assert(!s_query_parse("q=1&q=2", allowed, err, sizeof err));
    assert(!s_query_parse("q=%00", allowed, err, sizeof err));    //  NUL
    assert(!s_query_parse("q=%FF%FE", allowed, err, sizeof err)); //  not UTF-8
    assert(!s_query_parse("q=%E5%8C", allowed, err, sizeof err)); //  cut UTF-8
    char big[GW_QUERY_VALUE_MAX + 8];
    memset(big, 'a', sizeof big - 1);
    big[0] = 'q', big[1] = '=', big[sizeof big - 1] = 0;
    assert(!s_query_parse(big, allowed, err, sizeof err)); //  value too long
    big[GW_QUERY_VALUE_MAX + 2] = 0;
    query = s_query_parse(big, allowed, err, sizeof err); //  exactly the bound
    assert(query);
    json_decref(query);
    //  A cursor may be longer (GW_QUERY_CURSOR_MAX), and no more.
    static const char *const paged[] = {"cursor", NULL};
    char cursor[GW_QUERY_CURSOR_MAX + 16];
    memcpy(cursor, "cursor=", 7);
    memset(cursor + 7, 'c', sizeof cursor - 8);
    cursor[7 + GW_QUERY_CURSOR_MAX] = 0;
    query = s_query_parse(cursor, paged, err, sizeof err);
    assert(query &&
           strlen(json_string_value(json_object_get(query, "cursor"))) == GW_QUERY_CURSOR_MAX);
    json_decref(query);
    cursor[7 + GW_QUERY_CURSOR_MAX] = 'c';
    cursor[8 + GW_QUERY_CURSOR_MAX] = 0;
    assert(!s_query_parse(cursor, paged, err, sizeof err));
}
