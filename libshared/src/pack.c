/*  pack.c — MessagePack in and out, safe against hostile input.

    msgpack-c trusts the lengths it reads: a map header declaring 2^31
    entries makes it reserve 2^31 × sizeof(msgpack_object) before noticing
    the bytes are missing. rp_pack_check walks the raw bytes first, with
    no allocation, so that only well-formed, bounded documents reach it.
*/
#include <rapport/pack.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _rp_doc_t {
    msgpack_unpacked unpacked;
    void *bytes; //  our copy: msgpack-c's str/bin objects point into it
};

//  ---------------------------------------------------------------------
//  UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.

bool rp_utf8_valid(const char *str, size_t len)
{
    const uint8_t *s = (const uint8_t *)str, *end = s + len;
    while (s < end) {
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0)
            n = 2, cp = c & 0x1F;
        else if ((c & 0xF0) == 0xE0)
            n = 3, cp = c & 0x0F;
        else if ((c & 0xF8) == 0xF0)
            n = 4, cp = c & 0x07;
        else
            return false;
        if ((size_t)(end - s) < n)
            return false;
        for (size_t i = 1; i < n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < min[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        s += n;
    }
    return true;
}

//  ---------------------------------------------------------------------
//  Structural check

static uint64_t s_be_read(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

//  Classify the header at p: how many header bytes follow the type byte
//  (hdr), how many payload bytes or child elements it declares, and whether
//  it is a str (payload must be UTF-8) or a container (children).
typedef enum { K_FIXED, K_STR, K_BIN, K_ARRAY, K_MAP, K_BAD } kind_t;

static kind_t s_classify(uint8_t b, size_t *hdr, uint64_t *count, size_t *fixed)
{
    *hdr = 0, *count = 0, *fixed = 0;
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xc0 && b <= 0xc3 && b != 0xc1))
        return K_FIXED;
    if ((b & 0xf0) == 0x80)
        return *count = b & 0x0f, K_MAP;
    if ((b & 0xf0) == 0x90)
        return *count = b & 0x0f, K_ARRAY;
    if ((b & 0xe0) == 0xa0)
        return *count = b & 0x1f, K_STR;
    switch (b) {
    case 0xc4:
        return *hdr = 1, K_BIN;
    case 0xc5:
        return *hdr = 2, K_BIN;
    case 0xc6:
        return *hdr = 4, K_BIN;
    case 0xc7:
        return *hdr = 1, *fixed = 1, K_BIN; //  ext: len, then type byte
    case 0xc8:
        return *hdr = 2, *fixed = 1, K_BIN;
    case 0xc9:
        return *hdr = 4, *fixed = 1, K_BIN;
    case 0xca:
        return *fixed = 4, K_FIXED;
    case 0xcb:
        return *fixed = 8, K_FIXED;
    case 0xcc:
    case 0xd0:
        return *fixed = 1, K_FIXED;
    case 0xcd:
    case 0xd1:
        return *fixed = 2, K_FIXED;
    case 0xce:
    case 0xd2:
        return *fixed = 4, K_FIXED;
    case 0xcf:
    case 0xd3:
        return *fixed = 8, K_FIXED;
    case 0xd4:
        return *fixed = 2, K_FIXED;
    case 0xd5:
        return *fixed = 3, K_FIXED;
    case 0xd6:
        return *fixed = 5, K_FIXED;
    case 0xd7:
        return *fixed = 9, K_FIXED;
    case 0xd8:
        return *fixed = 17, K_FIXED;
    case 0xd9:
        return *hdr = 1, K_STR;
    case 0xda:
        return *hdr = 2, K_STR;
    case 0xdb:
        return *hdr = 4, K_STR;
    case 0xdc:
        return *hdr = 2, K_ARRAY;
    case 0xdd:
        return *hdr = 4, K_ARRAY;
    case 0xde:
        return *hdr = 2, K_MAP;
    case 0xdf:
        return *hdr = 4, K_MAP;
    default:
        return K_BAD; //  0xc1 is never used
    }
}

const char *rp_pack_check(const void *data, size_t size)
{
    const uint8_t *p = data, *end = p + size;
    uint64_t pending[RP_PACK_MAX_DEPTH + 1];
    int depth = 0;
    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (p >= end)
            return "truncated MessagePack";
        size_t hdr, fixed;
        uint64_t count;
        kind_t kind = s_classify(*p++, &hdr, &count, &fixed);
        if (kind == K_BAD)
            return "invalid MessagePack type byte";
        if ((size_t)(end - p) < hdr)
            return "truncated MessagePack";
        if (hdr)
            count = s_be_read(p, hdr);
        p += hdr;
        if (kind == K_ARRAY || kind == K_MAP) {
            if (kind == K_MAP)
                count *= 2;
            //  Every element takes at least one byte: a count larger than
            //  what remains is a lie, refused before anything is reserved.
            if (count > (uint64_t)(end - p))
                return "MessagePack length exceeds the data";
            if (depth == RP_PACK_MAX_DEPTH)
                return "MessagePack nested too deep";
            pending[++depth] = count;
            continue;
        }
        uint64_t payload = (kind == K_FIXED) ? fixed : count + fixed;
        if (payload > (uint64_t)(end - p))
            return kind == K_FIXED ? "truncated MessagePack"
                                   : "MessagePack length exceeds the data";
        if (kind == K_STR && !rp_utf8_valid((const char *)p, (size_t)payload))
            return "string is not valid UTF-8";
        p += payload;
    }
    if (p != end)
        return "trailing bytes after MessagePack";
    return NULL;
}

//  ---------------------------------------------------------------------
//  Decoding

rp_doc_t *rp_doc_new(const void *data, size_t size, const char **err)
{
    const char *why = rp_pack_check(data, size);
    if (!why) {
        rp_doc_t *self = calloc(1, sizeof *self);
        assert(self);
        msgpack_unpacked_init(&self->unpacked);
        self->bytes = malloc(size ? size : 1);
        assert(self->bytes);
        memcpy(self->bytes, data, size);
        size_t offset = 0;
        if (msgpack_unpack_next(&self->unpacked, self->bytes, size, &offset) ==
                MSGPACK_UNPACK_SUCCESS &&
            offset == size)
            return self;
        rp_doc_destroy(&self);
        why = "invalid MessagePack";
    }
    if (err)
        *err = why;
    return NULL;
}

void rp_doc_destroy(rp_doc_t **self_p)
{
    if (!*self_p)
        return;
    msgpack_unpacked_destroy(&(*self_p)->unpacked);
    free((*self_p)->bytes);
    free(*self_p);
    *self_p = NULL;
}

const msgpack_object *rp_doc_root(rp_doc_t *self)
{
    return &self->unpacked.data;
}

//  ---------------------------------------------------------------------
//  Accessors

const msgpack_object *rp_obj_get(const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (rp_obj_streq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i].val;
    return NULL;
}

bool rp_obj_str(const msgpack_object *o, const char **str, size_t *len)
{
    if (!o || o->type != MSGPACK_OBJECT_STR)
        return false;
    *str = o->via.str.ptr;
    *len = o->via.str.size;
    return true;
}

bool rp_obj_streq(const msgpack_object *o, const char *str)
{
    size_t len = strlen(str);
    return o && o->type == MSGPACK_OBJECT_STR && o->via.str.size == len &&
           memcmp(o->via.str.ptr, str, len) == 0;
}

bool rp_obj_u64(const msgpack_object *o, uint64_t *value)
{
    if (!o || o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    *value = o->via.u64;
    return true;
}

bool rp_obj_i64(const msgpack_object *o, int64_t *value)
{
    if (o && o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *value = o->via.i64;
        return true;
    }
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX) {
        *value = (int64_t)o->via.u64;
        return true;
    }
    return false;
}

bool rp_obj_bool(const msgpack_object *o, bool *value)
{
    if (!o || o->type != MSGPACK_OBJECT_BOOLEAN)
        return false;
    *value = o->via.boolean;
    return true;
}

bool rp_obj_is_map(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_MAP;
}

bool rp_obj_is_array(const msgpack_object *o)
{
    return o && o->type == MSGPACK_OBJECT_ARRAY;
}

char *rp_obj_strdup(const msgpack_object *o)
{
    const char *str;
    size_t len;
    if (!rp_obj_str(o, &str, &len) || memchr(str, 0, len))
        return NULL;
    char *copy = malloc(len + 1);
    assert(copy);
    memcpy(copy, str, len);
    copy[len] = 0;
    return copy;
}

//  ---------------------------------------------------------------------
//  Encoding

void rp_packer_init(rp_packer_t *self)
{
    msgpack_sbuffer_init(&self->buffer);
    msgpack_packer_init(&self->pk, &self->buffer, msgpack_sbuffer_write);
}

void rp_packer_reset(rp_packer_t *self)
{
    self->buffer.size = 0;
}

void rp_packer_destroy(rp_packer_t *self)
{
    msgpack_sbuffer_destroy(&self->buffer);
}

void rp_pack_strn(msgpack_packer *pk, const char *str, size_t len)
{
    msgpack_pack_str(pk, len);
    msgpack_pack_str_body(pk, str, len);
}

void rp_pack_cstr(msgpack_packer *pk, const char *str)
{
    rp_pack_strn(pk, str, strlen(str));
}

void rp_pack_kv_cstr(msgpack_packer *pk, const char *key, const char *value)
{
    rp_pack_cstr(pk, key);
    rp_pack_cstr(pk, value);
}

void rp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t value)
{
    rp_pack_cstr(pk, key);
    msgpack_pack_uint64(pk, value);
}

void rp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t value)
{
    rp_pack_cstr(pk, key);
    msgpack_pack_int64(pk, value);
}

void rp_pack_kv_bool(msgpack_packer *pk, const char *key, bool value)
{
    rp_pack_cstr(pk, key);
    if (value)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

void rp_pack_kv_obj(msgpack_packer *pk, const char *key, const msgpack_object *value)
{
    rp_pack_cstr(pk, key);
    if (value)
        msgpack_pack_object(pk, *value);
    else
        msgpack_pack_nil(pk);
}

void rp_seq_put(uint8_t out[8], uint64_t seq)
{
    for (int i = 7; i >= 0; i--, seq >>= 8)
        out[i] = (uint8_t)seq;
}

uint64_t rp_seq_get(const uint8_t in[8])
{
    return s_be_read(in, 8);
}

//  ---------------------------------------------------------------------
//  Self-test

static void s_check_bad(const char *bytes, size_t size)
{
    const char *err = NULL;
    rp_doc_t *doc = rp_doc_new(bytes, size, &err);
    assert(doc == NULL);
    assert(err != NULL);
}

void rp_pack_test(void)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_kv_cstr(&packer.pk, "name", "上海华联");
    rp_pack_kv_u64(&packer.pk, "seq", 42);
    rp_pack_kv_i64(&packer.pk, "delta", -7);
    rp_pack_cstr(&packer.pk, "tags");
    msgpack_pack_array(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "a");
    msgpack_pack_nil(&packer.pk);

    const char *err = NULL;
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, &err);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    assert(rp_obj_is_map(root));
    assert(rp_obj_streq(rp_obj_get(root, "name"), "上海华联"));
    uint64_t u;
    int64_t i;
    assert(rp_obj_u64(rp_obj_get(root, "seq"), &u) && u == 42);
    assert(rp_obj_i64(rp_obj_get(root, "delta"), &i) && i == -7);
    assert(!rp_obj_u64(rp_obj_get(root, "delta"), &u));
    assert(rp_obj_is_array(rp_obj_get(root, "tags")));
    assert(rp_obj_get(root, "absent") == NULL);
    char *name = rp_obj_strdup(rp_obj_get(root, "name"));
    assert(strcmp(name, "上海华联") == 0);
    free(name);
    rp_doc_destroy(&doc);
    assert(doc == NULL);

    //  Every strict prefix of a valid document is truncated, never accepted.
    for (size_t n = 0; n < packer.buffer.size; n++)
        s_check_bad(packer.buffer.data, n);

    //  Trailing bytes are an error.
    char extra[256];
    memcpy(extra, packer.buffer.data, packer.buffer.size);
    extra[packer.buffer.size] = 0x01;
    s_check_bad(extra, packer.buffer.size + 1);

    //  A map header declaring 2^31 entries is refused before any allocation.
    s_check_bad("\xdf\x80\x00\x00\x00", 5);
    s_check_bad("\xdd\xff\xff\xff\xff\x01\x02", 7);
    s_check_bad("\xdb\x7f\xff\xff\xff"
                "abc",
                8);
    //  Unused type byte, invalid UTF-8, overlong and surrogate forms.
    s_check_bad("\xc1", 1);
    s_check_bad("\xa2\xc3\x28", 3);
    s_check_bad("\xa2\xc0\xaf", 3);
    s_check_bad("\xa3\xed\xa0\x80", 4);
    assert(rp_utf8_valid("\xf0\x9f\x98\x80", 4));
    assert(!rp_utf8_valid("\xf4\x90\x80\x80", 4));
    //  Nesting deeper than the limit.
    char deep[RP_PACK_MAX_DEPTH + 2];
    memset(deep, 0x91, sizeof deep);
    deep[sizeof deep - 1] = 0x00;
    s_check_bad(deep, sizeof deep);
    //  Just at the limit is fine.
    assert(rp_pack_check(deep + 1, sizeof deep - 1) == NULL);

    uint8_t be[8];
    rp_seq_put(be, 0x0102030405060708ULL);
    assert(be[0] == 1 && be[7] == 8);
    assert(rp_seq_get(be) == 0x0102030405060708ULL);
    rp_packer_destroy(&packer);
}
