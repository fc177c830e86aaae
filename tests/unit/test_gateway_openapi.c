//  The OpenAPI document the gateway serves (docs/openapi.json, embedded by
//  services/gateway/openapi.c) against the gateway's routing table
//  (gw_gateway_routes): every route and method is documented, nothing is
//  documented that does not exist, and every documented operation has an
//  operationId, a summary and a 2xx response. Linked with the gateway's
//  objects (see the Makefile).
#include "../../services/gateway/gateway.h"
#include "../../services/gateway/openapi.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define MAX_ROUTES 256

static int s_failures;

static void s_fail(const char *what, const char *path, const char *method)
{
    fprintf(stderr, "docs/openapi.json: %s: %s %s\n", what, method, path);
    s_failures++;
}

//  The route documented, and its methods exactly those of the route.
static void s_check_route(json_t *paths, const gw_route_info_t *route)
{
    json_t *item = json_object_get(paths, route->label);
    if (!json_is_object(item)) {
        s_fail("route missing", route->label, "");
        return;
    }
    const char *methods[] = {"get", "post", "put", "patch", "delete"};
    bool has[] = {route->get, route->post, route->put, route->patch, route->del};
    for (int i = 0; i < 5; i++) {
        json_t *op = json_object_get(item, methods[i]);
        if (has[i] && !json_is_object(op))
            s_fail("method missing", route->label, methods[i]);
        else if (!has[i] && op)
            s_fail("method documented that the route does not answer", route->label, methods[i]);
        else if (op) {
            if (!json_is_string(json_object_get(op, "operationId")) ||
                !json_is_string(json_object_get(op, "summary")))
                s_fail("operationId or summary missing", route->label, methods[i]);
            json_t *responses = json_object_get(op, "responses");
            const char *code;
            json_t *response;
            bool success = false;
            json_object_foreach(responses, code, response) success |= code[0] == '2';
            if (!success)
                s_fail("no 2xx response", route->label, methods[i]);
            //  A route behind a key says so; an operations route does not.
            json_t *security = json_object_get(op, "security");
            if (!route->needs_key && !(json_is_array(security) && json_array_size(security) == 0))
                s_fail("open route without \"security\": []", route->label, methods[i]);
        }
    }
}

int main(void)
{
    json_error_t error;
    json_t *doc = json_loadb(gw_openapi_json(), gw_openapi_size(), 0, &error);
    if (!doc) {
        fprintf(stderr, "docs/openapi.json: line %d: %s\n", error.line, error.text);
        return 1;
    }
    const char *version = json_string_value(json_object_get(doc, "openapi"));
    if (!version || strncmp(version, "3.1.", 4) != 0)
        s_fail("not OpenAPI 3.1", "", "openapi");
    json_t *paths = json_object_get(doc, "paths");
    static gw_route_info_t routes[MAX_ROUTES];
    size_t count = gw_gateway_routes(routes, MAX_ROUTES);
    if (count > MAX_ROUTES || count == 0)
        s_fail("routing table size", "", "");
    for (size_t i = 0; i < count && i < MAX_ROUTES; i++)
        s_check_route(paths, &routes[i]);
    //  And the other way: nothing documented that is not routed.
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        bool routed = false;
        for (size_t i = 0; i < count && i < MAX_ROUTES; i++)
            routed |= strcmp(routes[i].label, path) == 0;
        if (!routed)
            s_fail("documented path the gateway does not route", path, "");
    }
    json_decref(doc);
    if (s_failures)
        return 1;
    printf("gateway openapi: OK (%zu routes)\n", count);
    return 0;
}
