/*  pack.h — MessagePack in and out, safe against hostile input.

    Decoding is two passes. rp_doc_new first walks the raw bytes and checks,
    before anything is allocated, that every declared array, map, string and
    binary length fits in the bytes that remain (each element needs at least
    one byte), that nesting stays under RP_PACK_MAX_DEPTH, that every str is
    valid UTF-8, and that exactly one object fills the buffer (trailing bytes
    are an error). Only then does msgpack-c unpack it, so a 5-byte header
    that declares 2^31 map entries costs nothing.

    Encoding uses msgpack-c's packer on an sbuffer; the helpers here pack
    C strings and common key/value pairs.
*/
#ifndef RAPPORT_PACK_H
#define RAPPORT_PACK_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_PACK_MAX_DEPTH 32

//  ---------------------------------------------------------------------
//  Decoding

typedef struct _rp_doc_t rp_doc_t;

//  Check and decode one MessagePack object from untrusted bytes. Returns NULL
//  on any error and, if err is not NULL, sets it to a static description.
rp_doc_t *rp_doc_new(const void *data, size_t size, const char **err);
void rp_doc_destroy(rp_doc_t **self_p);

//  The decoded root object; valid until the doc is destroyed.
const msgpack_object *rp_doc_root(rp_doc_t *self);

//  The structural check alone: NULL if data is one valid bounded object,
//  else a static description of what is wrong.
const char *rp_pack_check(const void *data, size_t size);

//  True if the bytes are valid UTF-8 (no overlongs, no surrogates).
bool rp_utf8_valid(const char *s, size_t len);

//  Accessors. Each returns false / NULL if the object is absent or of
//  another type, so a caller can chain them without checking twice.
const msgpack_object *rp_obj_get(const msgpack_object *map, const char *key);
bool rp_obj_str(const msgpack_object *o, const char **str, size_t *len);
bool rp_obj_streq(const msgpack_object *o, const char *str);
bool rp_obj_u64(const msgpack_object *o, uint64_t *value);
bool rp_obj_i64(const msgpack_object *o, int64_t *value);
bool rp_obj_bool(const msgpack_object *o, bool *value);
bool rp_obj_is_map(const msgpack_object *o);
bool rp_obj_is_array(const msgpack_object *o);

//  Copy a str object into a NUL-terminated heap string (caller frees).
//  NULL if not a str or if it contains a NUL byte.
char *rp_obj_strdup(const msgpack_object *o);

//  ---------------------------------------------------------------------
//  Encoding

typedef struct {
    msgpack_sbuffer buffer;
    msgpack_packer pk;
} rp_packer_t;

void rp_packer_init(rp_packer_t *self);
void rp_packer_reset(rp_packer_t *self); //  empty, keep the storage
void rp_packer_destroy(rp_packer_t *self);

//  Pack a C string / a length-delimited string as a msgpack str.
void rp_pack_cstr(msgpack_packer *pk, const char *str);
void rp_pack_strn(msgpack_packer *pk, const char *str, size_t len);

//  Pack "key": value pairs (the caller has opened the map).
void rp_pack_kv_cstr(msgpack_packer *pk, const char *key, const char *value);
void rp_pack_kv_u64(msgpack_packer *pk, const char *key, uint64_t value);
void rp_pack_kv_i64(msgpack_packer *pk, const char *key, int64_t value);
void rp_pack_kv_bool(msgpack_packer *pk, const char *key, bool value);
void rp_pack_kv_obj(msgpack_packer *pk, const char *key, const msgpack_object *value);

//  Big-endian 8-byte sequence numbers, as on the feed and in journal keys.
void rp_seq_put(uint8_t out[8], uint64_t seq);
uint64_t rp_seq_get(const uint8_t in[8]);

void rp_pack_test(void);

#endif
