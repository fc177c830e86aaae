/*  etag.h — record versions as HTTP entity tags, for every resource with a
    `version` (customers, users): reads answer ETag: "<version>", PATCH and
    DELETE honour If-Match (docs/api.md § Conventions).
*/
#ifndef GW_ETAG_H
#define GW_ETAG_H

#include "exchange.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_ETAG_MAX 24 //  bytes of an ETag value with its NUL

//  What an If-Match header asks.
typedef enum { GW_IF_MATCH_NONE, GW_IF_MATCH_VERSION, GW_IF_MATCH_BAD } gw_if_match_t;

//  Parse an If-Match value: absent or "*" asks nothing; "N" asks version N;
//  anything else (weak tags never match strongly, lists are not offered) is
//  refused rather than guessed at.
gw_if_match_t gw_if_match_parse(const char *value, uint64_t *version);

//  The request's If-Match; a malformed one is answered 400 bad_if_match
//  (the exchange is then gone) and returns GW_IF_MATCH_BAD.
gw_if_match_t gw_if_match(gw_exchange_t **ex_p, uint64_t *version);

//  The ETag value "<version>" of a record with an integer version ≥ 0;
//  false (etag untouched) for any other record.
bool gw_etag_format(const json_t *record, char etag[GW_ETAG_MAX]);
//  Add ETag: "<version>" for a record with an integer version ≥ 0.
void gw_etag_add(gw_exchange_t *ex, const json_t *record);

void gw_etag_test(void);

#endif
