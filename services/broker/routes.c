/*  routes.c — the journal's HTTP routes, as rows for the gateway
    (libshared route.h): integrators publish events over HTTP as over
    ZeroMQ, through journal.append (docs/integrators.md, docs/protocol.md
    § Journal). The journal checks the events; these rows only say who may
    call and where the body goes.
*/
#include <rapport/route.h>

static const rp_route_arg_t s_feed_query[] = {RP_INT("after"), RP_TEXT("types"), RP_INT("limit"),
                                              RP_END};

static const rp_route_t s_rows[] = {
    //  One event, or {events: [...]} (1..500 over HTTP; the journal takes
    //  up to 1,000 from ZeroMQ clients): 202 {items: [{id, seq,
    //  status}], seqs, duplicate, journal} once the commit is durable.
    {.method = "POST",
     .path = "/api/v1/events",
     .service = "journal",
     .op = "journal.append",
     .body = RP_BODY_LIST,
     .body_key = "events",
     .idem = true,
     .status = 202,
     .roles = "admin integrator",
     .max_items = 500},
    //  The journal for integrators, served by the gateway itself
    //  (services/gateway/feedout.h): a page {items, next_after} of the
    //  events after `after` whose types match `types`, or with Accept:
    //  text/event-stream the same as Server-Sent Events, kept open.
    {.method = "GET",
     .path = "/api/v1/events",
     .special = "events",
     .query = s_feed_query,
     .flags = RP_ROUTE_NO_STORE,
     .roles = "admin integrator"},
};

RP_ROUTES(journal, s_rows);
