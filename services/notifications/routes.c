/*  routes.c — the notifications service's HTTP routes, as rows for the
    gateway (libshared route.h). The ops they name: docs/notifications.md;
    the HTTP reference: docs/api.md § Notifications.
*/
#include <rapport/route.h>

#define NOTIFICATIONS "/api/v1/notifications"

static const rp_route_arg_t s_list_query[] = {RP_BOOL("unread"), RP_INT("limit"), RP_TEXT("cursor"),
                                              RP_END};
//  If-Match → args.version (412 version_mismatch).
static const rp_route_arg_t s_if_match[] = {RP_IF_MATCH("version"), RP_END};

static const rp_route_t s_rows[] = {
    {.method = "GET",
     .path = NOTIFICATIONS,
     .service = "notifications",
     .op = "notifications.list",
     .query = s_list_query},
    //  Server-Sent Events of the caller's new entries: the gateway asks
    //  notifications.since each time its feed passes a seq
    //  (services/gateway/feedout.h § service streams).
    {.method = "GET",
     .path = NOTIFICATIONS "/stream",
     .service = "notifications",
     .op = "notifications.since",
     .special = "stream",
     .flags = RP_ROUTE_NO_STORE},
    //  args.user: the caller (a write needs args; the service reads the actor).
    {.method = "POST",
     .path = NOTIFICATIONS "/read-all",
     .service = "notifications",
     .op = "notifications.read_all",
     .write = true,
     .actor_arg = "user",
     .idem = true},
    {.method = "POST",
     .path = NOTIFICATIONS "/{id}/read",
     .service = "notifications",
     .op = "notifications.read",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = NOTIFICATIONS "/{id}/archive",
     .service = "notifications",
     .op = "notifications.archive",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
};

RP_ROUTES(notifications, s_rows);
