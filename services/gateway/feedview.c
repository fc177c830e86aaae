/*  feedview.c — see feedview.h. */
#include "feedview.h"
#include "json.h"

#include <czmq.h>
#include <inttypes.h>

static json_t *s_error(json_t *errors, const char *field, const char *code, const char *message)
{
    if (!errors)
        errors = json_array();
    json_array_append_new(
        errors, json_pack("{s:s, s:s, s:s}", "field", field, "code", code, "message", message));
    return errors;
}

//  A seq: digits only, within uint64 (a JSON integer the engine typed, or text).
static bool s_seq(const json_t *value, uint64_t *seq)
{
    if (json_is_integer(value)) {
        if (json_integer_value(value) < 0)
            return false;
        *seq = (uint64_t)json_integer_value(value);
        return true;
    }
    const char *text = json_string_value(value);
    size_t len = text ? strlen(text) : 0;
    if (len == 0 || len > 20 || strspn(text, "0123456789") != len)
        return false;
    errno = 0;
    unsigned long long parsed = strtoull(text, NULL, 10);
    if (errno)
        return false;
    *seq = (uint64_t)parsed;
    return true;
}

//  One pattern of `types`; false if malformed.
static bool s_pattern(gw_feedview_pattern_t *pattern, const char *text, size_t len)
{
    if (len == 0 || len > GW_FEEDVIEW_PATTERN_MAX)
        return false;
    bool prefix = len >= 2 && text[len - 2] == '.' && text[len - 1] == '*';
    size_t kept = prefix ? len - 1 : len; //  "order.*" → "order."
    if (strspn(text, "abcdefghijklmnopqrstuvwxyz0123456789_.-") != kept || (prefix && kept < 2))
        return false;
    memcpy(pattern->text, text, kept);
    pattern->text[kept] = 0;
    pattern->len = kept;
    pattern->prefix = prefix;
    return true;
}

static json_t *s_types(gw_feedview_t *self, const char *types, json_t *errors)
{
    for (const char *at = types;;) {
        size_t len = strcspn(at, ",");
        if (self->count == GW_FEEDVIEW_PATTERNS)
            return s_error(errors, "types", "invalid", "at most 20 type patterns");
        if (!s_pattern(&self->patterns[self->count], at, len))
            return s_error(errors, "types", "invalid",
                           "each type pattern is 1..64 bytes of [a-z0-9_.-], an exact type or "
                           "a prefix ending in .*");
        self->count++;
        if (!at[len])
            return errors;
        at += len + 1;
    }
}

json_t *gw_feedview_parse(gw_feedview_t *self, const json_t *args, const char *last_event_id)
{
    memset(self, 0, sizeof *self);
    self->limit = GW_FEEDVIEW_LIMIT_DEFAULT;
    json_t *errors = NULL;
    const json_t *after = json_object_get(args, "after");
    if (after && !s_seq(after, &self->after))
        errors = s_error(errors, "after", "invalid", "after is a seq: a whole number, 0 or more");
    if (last_event_id) {
        json_t *id = json_string(last_event_id);
        if (!id || !s_seq(id, &self->after))
            errors = s_error(errors, "Last-Event-ID", "invalid",
                             "Last-Event-ID is the id of an event this feed sent: a seq");
        json_decref(id);
    }
    const json_t *limit = json_object_get(args, "limit");
    if (limit) {
        json_int_t value = json_is_integer(limit) ? json_integer_value(limit) : 0;
        if (value < 1 || value > GW_FEEDVIEW_LIMIT_MAX)
            errors = s_error(errors, "limit", "out_of_range", "limit is 1..1000");
        else
            self->limit = (size_t)value;
    }
    const json_t *types = json_object_get(args, "types");
    if (types) {
        const char *text = json_string_value(types);
        errors = text ? s_types(self, text, errors)
                      : s_error(errors, "types", "invalid", "types is a list of patterns");
    }
    return errors;
}

bool gw_feedview_all(const gw_feedview_t *self)
{
    return self->count == 0;
}

bool gw_feedview_match(const gw_feedview_t *self, const char *type, size_t type_len)
{
    if (self->count == 0)
        return true;
    for (size_t i = 0; i < self->count; i++) {
        const gw_feedview_pattern_t *p = &self->patterns[i];
        if (p->prefix ? type_len > p->len && memcmp(type, p->text, p->len) == 0
                      : type_len == p->len && memcmp(type, p->text, p->len) == 0)
            return true;
    }
    return false;
}

json_t *gw_feedview_item(const msgpack_object *event, uint64_t seq)
{
    if (!rp_obj_is_map(event))
        return NULL;
    json_t *item = gw_json_from_msgpack(event);
    if (!item)
        return NULL;
    json_t *data = json_object_get(item, "data");
    if (json_is_object(data))
        json_object_del(data, "key_hash"); //  a user's key, hashed: never served
    json_object_set_new(item, "seq", json_integer((json_int_t)seq));
    return item;
}

//  ---------------------------------------------------------------------
//  Self-test

static json_t *s_test_parse(gw_feedview_t *view, const char *query_json, const char *last)
{
    json_t *args = json_loads(query_json, 0, NULL);
    assert(args);
    json_t *errors = gw_feedview_parse(view, args, last);
    json_decref(args);
    return errors;
}

static const char *s_test_field(json_t *errors)
{
    return json_string_value(json_object_get(json_array_get(errors, 0), "field"));
}

void gw_feedview_test(void)
{
    gw_feedview_t view;
    //  Defaults: from the start, every type, 100 a page.
    assert(s_test_parse(&view, "{}", NULL) == NULL);
    assert(view.after == 0 && view.limit == 100 && gw_feedview_all(&view));
    assert(gw_feedview_match(&view, "user.created", 12));

    //  Patterns: prefixes and exact types.
    assert(s_test_parse(&view,
                        "{\"types\": \"order.*,customer.created\", \"after\": 7, \"limit\": "
                        "1000}",
                        NULL) == NULL);
    assert(view.after == 7 && view.limit == 1000 && view.count == 2 && !gw_feedview_all(&view));
    assert(gw_feedview_match(&view, "order.placed", 12));
    assert(gw_feedview_match(&view, "customer.created", 16));
    assert(!gw_feedview_match(&view, "customer.updated", 16));
    assert(!gw_feedview_match(&view, "order.", 6) && !gw_feedview_match(&view, "orders.x", 8));
    assert(!gw_feedview_match(&view, "order", 5));

    //  Last-Event-ID wins over after.
    assert(s_test_parse(&view, "{\"after\": 7}", "12") == NULL && view.after == 12);
    assert(s_test_parse(&view, "{\"after\": \"18446744073709551615\"}", NULL) == NULL);
    assert(view.after == UINT64_MAX);

    //  Refused, each naming its field.
    const char *bad[][3] = {
        {"{\"after\": \"-1\"}", NULL, "after"},
        {"{\"after\": \"x\"}", NULL, "after"},
        {"{\"after\": \"18446744073709551616\"}", NULL, "after"},
        {"{}", "abc", "Last-Event-ID"},
        {"{}", "", "Last-Event-ID"},
        {"{\"limit\": 0}", NULL, "limit"},
        {"{\"limit\": 1001}", NULL, "limit"},
        {"{\"limit\": \"ten\"}", NULL, "limit"},
        {"{\"types\": \"\"}", NULL, "types"},
        {"{\"types\": \"order.*,\"}", NULL, "types"},
        {"{\"types\": \"Order.placed\"}", NULL, "types"},
        {"{\"types\": \"*\"}", NULL, "types"},
        {"{\"types\": \".*\"}", NULL, "types"},
        {"{\"types\": \"order*\"}", NULL, "types"},
        {"{\"types\": \"a.*.b\"}", NULL, "types"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *errors = s_test_parse(&view, bad[i][0], bad[i][1]);
        if (!errors || !streq(s_test_field(errors), bad[i][2])) {
            fprintf(stderr, "feedview test: %s %s\n", bad[i][0], bad[i][1] ? bad[i][1] : "");
            assert(false);
        }
        json_decref(errors);
    }
    //  At most 20 patterns, each at most 64 bytes.
    char types[2048] = "";
    for (int i = 0; i < 20; i++)
        snprintf(types + strlen(types), sizeof types - strlen(types), "%st%d.*", i ? "," : "", i);
    char query[2200];
    snprintf(query, sizeof query, "{\"types\": \"%s\"}", types);
    assert(s_test_parse(&view, query, NULL) == NULL && view.count == 20);
    snprintf(query, sizeof query, "{\"types\": \"%s,x\"}", types);
    json_t *errors = s_test_parse(&view, query, NULL);
    assert(errors && streq(s_test_field(errors), "types"));
    json_decref(errors);
    char longest[GW_FEEDVIEW_PATTERN_MAX + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[GW_FEEDVIEW_PATTERN_MAX] = 0;
    snprintf(query, sizeof query, "{\"types\": \"%s\"}", longest);
    assert(s_test_parse(&view, query, NULL) == NULL);
    longest[GW_FEEDVIEW_PATTERN_MAX] = 'a';
    longest[GW_FEEDVIEW_PATTERN_MAX + 1] = 0;
    snprintf(query, sizeof query, "{\"types\": \"%s\"}", longest);
    errors = s_test_parse(&view, query, NULL);
    assert(errors);
    json_decref(errors);

    //  Items: the event with its seq, the key hash gone.
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "type", "user.created");
    rp_pack_kv_cstr(&packer.pk, "id", "e1");
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "id", "u1");
    rp_pack_kv_cstr(&packer.pk, "key_hash", "ab");
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    assert(msgpack_unpack_next(&unpacked, packer.buffer.data, packer.buffer.size, NULL) ==
           MSGPACK_UNPACK_SUCCESS);
    json_t *item = gw_feedview_item(&unpacked.data, 9);
    assert(item && json_integer_value(json_object_get(item, "seq")) == 9);
    json_t *data = json_object_get(item, "data");
    assert(streq(json_string_value(json_object_get(data, "id")), "u1"));
    assert(!json_object_get(data, "key_hash"));
    json_decref(item);
    msgpack_unpacked_destroy(&unpacked);
    rp_packer_destroy(&packer);
}
