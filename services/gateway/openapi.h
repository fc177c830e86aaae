/*  openapi.h — the OpenAPI 3.1 document GET /openapi.json serves.

    The source is docs/openapi.json, hand-written and reviewed like code;
    the build embeds it in the gateway (openapi.c, .incbin: no generated
    file, no copy to keep in step), so the document a gateway serves is
    the one it was built with, whatever its working directory.
    tests/unit/test_gateway_openapi.c fails the build's tests when a route
    of the routing table (gw_gateway_routes) is missing from it, or it
    documents one that does not exist.
*/
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include <stddef.h>

//  The document's bytes (UTF-8 JSON, NUL-terminated) and their length.
const char *gw_openapi_json(void);
size_t gw_openapi_size(void);

#endif
