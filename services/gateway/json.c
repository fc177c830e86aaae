/*  json.c — JSON ↔ MessagePack; see json.h. */
#include "json.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Depth of a value: a scalar is 1, [1] is 2. Stops counting past the bound,
//  so a hostile document costs at most the walk jansson already did.
static int s_depth(const json_t *json, int limit)
{
    if (limit <= 0)
        return 1;
    int deepest = 0;
    if (json_is_object(json)) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)json, key, value)
        {
            int depth = s_depth(value, limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
    } else if (json_is_array(json)) {
        size_t index;
        json_t *value;
        json_array_foreach(json, index, value)
        {
            int depth = s_depth(value, limit - 1);
            if (depth > deepest)
                deepest = depth;
        }
    }
    return deepest + 1;
}

json_t *gw_json_parse(const void *data, size_t size, char *err, size_t err_size)
{
    json_error_t error;
    //  JSON_DECODE_ANY: the caller decides which top-level types it accepts.
    json_t *json =
        json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    if (!json) {
        snprintf(err, err_size, "%s (line %d, column %d)", error.text, error.line, error.column);
        return NULL;
    }
    if (s_depth(json, GW_JSON_MAX_DEPTH + 1) > GW_JSON_MAX_DEPTH) {
        snprintf(err, err_size, "nesting deeper than %d levels", GW_JSON_MAX_DEPTH);
        json_decref(json);
        return NULL;
    }
    return json;
}

static int s_pack(const json_t *json, msgpack_packer *pk, int depth)
{
    if (depth > GW_JSON_MAX_DEPTH)
        return -1;
    switch (json_typeof(json)) {
    case JSON_OBJECT: {
        msgpack_pack_map(pk, json_object_size(json));
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)json, key, value)
        {
            rp_pack_cstr(pk, key); //  jansson keys hold no NUL (rejected on load)
            if (s_pack(value, pk, depth + 1))
                return -1;
        }
        return 0;
    }
    case JSON_ARRAY: {
        msgpack_pack_array(pk, json_array_size(json));
        size_t index;
        json_t *value;
        json_array_foreach(json, index, value)
        {
            if (s_pack(value, pk, depth + 1))
                return -1;
        }
        return 0;
    }
    case JSON_STRING:
        rp_pack_strn(pk, json_string_value(json), json_string_length(json));
        return 0;
    case JSON_INTEGER:
        msgpack_pack_int64(pk, (int64_t)json_integer_value(json));
        return 0;
    case JSON_REAL:
        msgpack_pack_double(pk, json_real_value(json));
        return 0;
    case JSON_TRUE:
        msgpack_pack_true(pk);
        return 0;
    case JSON_FALSE:
        msgpack_pack_false(pk);
        return 0;
    case JSON_NULL:
        msgpack_pack_nil(pk);
        return 0;
    }
    return -1;
}

int gw_json_pack(const json_t *json, msgpack_packer *pk)
{
    return s_pack(json, pk, 1);
}

static json_t *s_from_map(const msgpack_object *obj)
{
    json_t *json = json_object();
    for (uint32_t i = 0; json && i < obj->via.map.size; i++) {
        const msgpack_object_kv *kv = &obj->via.map.ptr[i];
        char *key = rp_obj_strdup(&kv->key); //  NULL: not a str, or holds NUL
        json_t *value = key ? gw_json_from_msgpack(&kv->val) : NULL;
        if (!value || json_object_set_new(json, key, value)) {
            json_decref(json);
            json = NULL;
        }
        free(key);
    }
    return json;
}

static json_t *s_from_array(const msgpack_object *obj)
{
    json_t *json = json_array();
    for (uint32_t i = 0; json && i < obj->via.array.size; i++) {
        json_t *value = gw_json_from_msgpack(&obj->via.array.ptr[i]);
        if (!value || json_array_append_new(json, value)) {
            json_decref(json);
            json = NULL;
        }
    }
    return json;
}

json_t *gw_json_from_msgpack(const msgpack_object *obj)
{
    switch (obj->type) {
    case MSGPACK_OBJECT_NIL:
        return json_null();
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(obj->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return obj->via.u64 > INT64_MAX ? NULL : json_integer((json_int_t)obj->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)obj->via.i64);
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return json_real(obj->via.f64); //  NULL for NaN and infinities
    case MSGPACK_OBJECT_STR:
        //  Validates UTF-8 again (rp_doc_new already did); NUL is allowed.
        return json_stringn(obj->via.str.ptr, obj->via.str.size);
    case MSGPACK_OBJECT_ARRAY:
        return s_from_array(obj);
    case MSGPACK_OBJECT_MAP:
        return s_from_map(obj);
    default:
        return NULL; //  bin, ext: no exact JSON form
    }
}

//  Reals with 15 significant digits: every decimal a person types (an
//  amount of 0.1, up to 10^13 with cents) comes back as typed, where 17
//  digits would answer 0.10000000000000001 (docs/decisions.md § Money).
char *gw_json_dump(const json_t *json, size_t *size)
{
    char *text = json_dumps(json, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (text && size)
        *size = strlen(text);
    return text;
}

//  ---------------------------------------------------------------------
//  Self-test

//  JSON text → MessagePack → JSON text.
static char *s_round_trip(const char *text)
{
    char err[160];
    json_t *json = gw_json_parse(text, strlen(text), err, sizeof err);
    assert(json);
    rp_packer_t packer;
    rp_packer_init(&packer);
    assert(gw_json_pack(json, &packer.pk) == 0);
    json_decref(json);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    json = gw_json_from_msgpack(rp_doc_root(doc));
    assert(json);
    char *out = gw_json_dump(json, NULL);
    json_decref(json);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    return out;
}

static bool s_parses(const char *text, size_t size)
{
    char err[160];
    json_t *json = gw_json_parse(text, size, err, sizeof err);
    json_decref(json);
    return json != NULL;
}

static char *s_nested(int levels)
{
    char *text = malloc(2 * (size_t)levels + 1);
    assert(text);
    for (int i = 0; i < levels; i++) {
        text[i] = '[';
        text[levels + i] = ']';
    }
    text[2 * levels] = 0;
    return text;
}

void gw_json_test(void)
{
    //  Round trips keep every JSON type; Chinese text is byte for byte.
    const char *text = "{\"name\":\"上海贸易有限公司\",\"n\":-42,\"big\":9007199254740993,"
                       "\"x\":1.5,\"ok\":true,\"no\":false,\"none\":null,\"list\":[1,\"a\",{}]}";
    char *out = s_round_trip(text);
    json_t *a = json_loads(text, 0, NULL), *b = json_loads(out, 0, NULL);
    assert(a && b && json_equal(a, b));
    assert(strstr(out, "上海贸易有限公司"));
    json_decref(a);
    json_decref(b);
    free(out);
    //  Amounts come back as typed.
    out = s_round_trip("[0.1,1234.57,9999999999999.99]");
    assert(strcmp(out, "[0.1,1234.57,9999999999999.99]") == 0);
    free(out);

    //  Strictness: invalid UTF-8, NUL escapes, duplicate keys, trailing
    //  bytes, integers beyond int64, bad syntax.
    assert(!s_parses("\"\xc3\x28\"", 4));
    assert(!s_parses("\"\xed\xa0\x80\"", 5)); //  a surrogate in UTF-8
    assert(!s_parses("{\"a\":\"x\\u0000y\"}", 16));
    assert(!s_parses("{\"a\":1,\"a\":2}", 13));
    assert(!s_parses("{} x", 4));
    assert(!s_parses("99999999999999999999", 20));
    assert(!s_parses("{", 1));
    assert(!s_parses("", 0));
    assert(s_parses("{\"a\":1}", 7));

    //  Depth: 32 levels pass, 33 do not.
    char *deep = s_nested(GW_JSON_MAX_DEPTH);
    assert(s_parses(deep, strlen(deep)));
    free(deep);
    deep = s_nested(GW_JSON_MAX_DEPTH + 1);
    assert(!s_parses(deep, strlen(deep)));
    free(deep);
    //  Far beyond jansson's own limit: an error, never a crash.
    deep = s_nested(100000);
    assert(!s_parses(deep, strlen(deep)));
    free(deep);

    //  MessagePack that JSON cannot say is refused.
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 1);
    msgpack_pack_int(&packer.pk, 1); //  non-string key
    msgpack_pack_int(&packer.pk, 2);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && gw_json_from_msgpack(rp_doc_root(doc)) == NULL);
    rp_doc_destroy(&doc);

    rp_packer_reset(&packer);
    msgpack_pack_uint64(&packer.pk, UINT64_MAX); //  beyond int64
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && gw_json_from_msgpack(rp_doc_root(doc)) == NULL);
    rp_doc_destroy(&doc);

    rp_packer_reset(&packer);
    msgpack_pack_bin(&packer.pk, 2);
    msgpack_pack_bin_body(&packer.pk, "ab", 2);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && gw_json_from_msgpack(rp_doc_root(doc)) == NULL);
    rp_doc_destroy(&doc);

    rp_packer_reset(&packer);
    msgpack_pack_double(&packer.pk, NAN);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && gw_json_from_msgpack(rp_doc_root(doc)) == NULL);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
