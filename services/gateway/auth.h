/*  auth.h — who is calling: `Authorization: Bearer <key>`.

    For now the only key is the bootstrap admin key (RAPPORT_ADMIN_KEY, or
    auth/admin_key in the config), compared in constant time. Users with
    their own keys come with the users routes; their keys will be stored
    hashed, which needs a hashing library (libsodium or libcrypto) that the
    project has not chosen yet.
*/
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "exchange.h"

#include <stdbool.h>

#define GW_AUTH_MAX_KEY 256

typedef struct _gw_auth_t gw_auth_t;

//  admin_key NULL or empty: no key is accepted (every /api call is 401).
gw_auth_t *gw_auth_new(const char *admin_key);
void gw_auth_destroy(gw_auth_t **self_p);

//  Check an Authorization header value; on success fill *actor (static
//  strings, valid while self lives) and return true.
bool gw_auth_check(gw_auth_t *self, const char *authorization, gw_actor_t *actor);

void gw_auth_test(void);

#endif
