/*  users.h — the /api/v1/users routes, mapped onto the users service's ops
    (docs/users.md; HTTP reference in docs/api.md § Users).

        POST   /api/v1/users             users.writer users.create; 201 with the
                                         record and `api_key` (shown only then),
                                         Location, ETag
        GET    /api/v1/users             users.list (query: limit, cursor, team,
                                         role, include_revoked)
        GET    /api/v1/users/me          the caller: users.get on their own id
                                         (the bootstrap admin key has no record:
                                         a synthetic one)
        GET    /api/v1/users/{id}        users.get; ETag
        PATCH  /api/v1/users/{id}        users.update {id, changes, version?};
                                         If-Match → version
        DELETE /api/v1/users/{id}        users.revoke {id, version?}; If-Match →
                                         version (revocation is final)
        POST   /api/v1/users/{id}/key    users.rotate_key; 200 with the record and
                                         the new `api_key`

    Bodies are checked here before anything is forwarded (the service checks
    again): only the writable fields (name, email, role, team, manager_id),
    strings (team and manager_id may be null), role one of the five; else
    422 with field errors (codes as the service's: unknown, read_only, type,
    required, invalid).

    Keys and the directory: a successful write (create, update, rotate,
    revoke) is answered once this gateway's directory has folded its event
    (at most GW_USERS_SETTLE_MS later), so a key answered here works here
    at once, and a rotated or revoked one is already refused here.
*/
#ifndef GW_USERS_H
#define GW_USERS_H

#include "directory.h"
#include "exchange.h"
#include "forward.h"

#include <event2/event.h>
#include <stdbool.h>

#define GW_USERS_SETTLE_MS 1000 //  longest wait for the directory after a write

typedef struct _gw_users_t gw_users_t;

//  The directory is borrowed (its cursor tells when a write has landed).
gw_users_t *gw_users_new(struct event_base *base, gw_forwarder_t *forwarder,
                         gw_directory_t *directory, size_t body_max);

//  Answer every write still waiting for the directory (at a stop).
void gw_users_flush(gw_users_t *self);
void gw_users_destroy(gw_users_t **self_p);

//  The directory has folded up to cursor: answer the writes it covers.
void gw_users_progress(gw_users_t *self, uint64_t cursor);

//  Each answers the exchange, now or when the service replies. id is the
//  decoded path parameter.
void gw_users_list(gw_users_t *self, gw_exchange_t **ex_p);
void gw_users_create(gw_users_t *self, gw_exchange_t **ex_p);
//  The bootstrap admin (actor "admin", which no users-service id can be:
//  theirs are generated hex) gets a synthetic record.
void gw_users_me(gw_users_t *self, gw_exchange_t **ex_p);
void gw_users_get(gw_users_t *self, gw_exchange_t **ex_p, const char *id);
void gw_users_update(gw_users_t *self, gw_exchange_t **ex_p, const char *id);
void gw_users_revoke(gw_users_t *self, gw_exchange_t **ex_p, const char *id);
void gw_users_rotate(gw_users_t *self, gw_exchange_t **ex_p, const char *id);

void gw_users_test(void);

#endif
