/*  request.h — reading an HTTP request's untrusted parts, for route
    handlers. Each helper either returns what it read, or answers the
    exchange with a problem (and frees it) and says so.
*/
#ifndef GW_REQUEST_H
#define GW_REQUEST_H

#include "exchange.h"

#include <jansson.h>
#include <stdbool.h>

#define GW_IDEM_MAX        128 //  Idempotency-Key length; scoped by user it fits RP_MAX_IDEM
#define GW_QUERY_VALUE_MAX 256 //  one query-string value, decoded, in bytes
#define GW_QUERY_CURSOR_MAX                                                                        \
    1024                        //  a `cursor` value: services make them, and one can
                                //  hold a whole normalized name (duplicates)
#define GW_QUERY_TYPES_MAX 1300 //  a `types` value: 20 patterns of 64 bytes (feedview.h)
#define GW_QUERY_MAX       4096 //  the whole query string, encoded

//  The body as a JSON object, or answer 413/415/400 and return NULL.
json_t *gw_request_body(gw_exchange_t **ex_p, size_t body_max);

//  The journal idem for an Idempotency-Key, scoped by caller; "" if the
//  header is absent. On a malformed key answer 400 and return false.
bool gw_request_idem(gw_exchange_t **ex_p, char *idem, size_t size);

//  The query string as an object of decoded strings. Only names in
//  `allowed` (NULL-terminated) are accepted, each at most once; values are
//  percent-decoded ('+' is a space), NUL-free UTF-8 of at most
//  GW_QUERY_VALUE_MAX bytes (GW_QUERY_CURSOR_MAX for `cursor`,
//  GW_QUERY_TYPES_MAX for `types`). Otherwise
//  answer 400 and return NULL.
json_t *gw_request_query(gw_exchange_t **ex_p, const char *const *allowed);

//  A list's page size: `limit` is 1..GW_LIMIT_MAX (docs/api.md).
#define GW_LIMIT_MAX 200

//  The page size a `limit` value asks for, or 0 if it is not a whole
//  number in 1..GW_LIMIT_MAX.
long gw_request_limit_value(const char *text);

//  If the query has a `limit`, make it that number; if it is not a valid
//  page size, answer 422 (field `limit`, code `out_of_range`), free the
//  query and return false.
bool gw_request_limit(gw_exchange_t **ex_p, json_t *query);

void gw_request_test(void);

#endif
