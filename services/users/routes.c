/*  routes.c — the users service's HTTP routes, as rows for the gateway
    (libshared route.h). The ops they name: docs/users.md; the HTTP
    reference: docs/api.md § Users. Bodies and values are checked by the
    service (422 with field errors), not here.

    create and rotate_key answer {user: record, key}: the gateway answers
    the record with `api_key` added, never to be cached (no-store). Every
    write is answered once the gateway's feed has its event, so a key
    answered by a gateway works there at once, and a rotated or revoked
    one is already refused there.
*/
#include <rapport/route.h>

#define USERS "/api/v1/users"

static const rp_route_arg_t s_list_query[] = {
    RP_INT("limit"), RP_TEXT("cursor"),          RP_TEXT("team"),
    RP_TEXT("role"), RP_BOOL("include_revoked"), RP_END};
static const rp_route_arg_t s_if_match[] = {RP_IF_MATCH("version"), RP_END};
static const rp_route_arg_t s_api_key[] = {RP_AS("key", "api_key"), RP_END};

static const rp_route_t s_rows[] = {
    {.method = "GET", .path = USERS, .service = "users", .op = "users.list", .query = s_list_query},
    {.method = "POST",
     .path = USERS,
     .service = "users",
     .op = "users.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = USERS "/{id}",
     .record_key = "user",
     .adds = s_api_key,
     .flags = RP_ROUTE_NO_STORE | RP_ROUTE_SETTLE},
    //  The caller's own record; the gateway answers the bootstrap admin,
    //  who has none, itself (special "me").
    {.method = "GET",
     .path = USERS "/me",
     .service = "users",
     .op = "users.get",
     .special = "me",
     .actor_arg = "id",
     .answer = RP_ANSWER_RECORD},
    //  The caller's own settings (preferences.h): a PUT sets all three.
    {.method = "GET",
     .path = USERS "/me/preferences",
     .service = "users",
     .op = "users.preferences",
     .actor_arg = "id",
     .answer = RP_ANSWER_RECORD},
    {.method = "PUT",
     .path = USERS "/me/preferences",
     .service = "users",
     .op = "users.set_preferences",
     .write = true,
     .body = RP_BODY_WRAPPED,
     .body_key = "preferences",
     .actor_arg = "id",
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "GET",
     .path = USERS "/{id}",
     .service = "users",
     .op = "users.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PATCH",
     .path = USERS "/{id}",
     .service = "users",
     .op = "users.update",
     .write = true,
     .body = RP_BODY_WRAPPED,
     .body_key = "changes",
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .flags = RP_ROUTE_SETTLE},
    {.method = "DELETE",
     .path = USERS "/{id}",
     .service = "users",
     .op = "users.revoke",
     .write = true,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .flags = RP_ROUTE_SETTLE},
    {.method = "POST",
     .path = USERS "/{id}/key",
     .service = "users",
     .op = "users.rotate_key",
     .write = true,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .record_key = "user",
     .adds = s_api_key,
     .flags = RP_ROUTE_NO_STORE | RP_ROUTE_SETTLE},
};
RP_ROUTES(users, s_rows);
