/*  tally_routes.c — TEST ONLY: the routes of tests/system/tally_service.c,
    the demo of the gateway's forwarding path. The Makefile links them into
    build/test/rapport-gateway-tally (the gateway with these rows too),
    never into the production gateway, which answers /api/v1/tally 404.
*/
#include <rapport/route.h>

static const rp_route_t s_rows[] = {
    {.method = "GET", .path = "/api/v1/tally/{key}", .service = "tally", .op = "tally.get"},
    {.method = "POST",
     .path = "/api/v1/tally/{key}",
     .service = "tally",
     .op = "tally.add",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true},
};
RP_ROUTES(tally, s_rows);
