/*  json.h — JSON (jansson) ↔ MessagePack (msgpack-c), bounded both ways.

    HTTP bodies are JSON; service envelopes are MessagePack. Parsing is
    strict: jansson validates UTF-8 on load, rejects NUL in strings and
    duplicate object keys, and the result is checked against a nesting bound
    (the same 32 levels rp_doc_new accepts, so whatever we pack a service can
    decode). Converting back refuses what JSON cannot say exactly: bin and
    ext objects, non-string map keys, integers beyond int64, NaN.
*/
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>
#include <rapport/pack.h>

#define GW_JSON_MAX_DEPTH RP_PACK_MAX_DEPTH

//  Parse one JSON text from untrusted bytes. Returns NULL on any error and
//  writes a short description (with line and column) into err.
json_t *gw_json_parse(const void *data, size_t size, char *err, size_t err_size);

//  Pack a JSON value as MessagePack. Returns 0, or -1 if it nests deeper
//  than GW_JSON_MAX_DEPTH (nothing sensible was packed then).
int gw_json_pack(const json_t *json, msgpack_packer *pk);

//  Convert a MessagePack object into a new JSON value; NULL if it holds
//  something JSON cannot represent exactly.
json_t *gw_json_from_msgpack(const msgpack_object *obj);

//  Serialize compactly into a heap string (caller frees); NULL on failure.
char *gw_json_dump(const json_t *json, size_t *size);

void gw_json_test(void);

#endif
