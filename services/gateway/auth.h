/*  auth.h — who is calling: `Authorization: Bearer <key>`.

    Two kinds of key:
      - the bootstrap admin key (RAPPORT_ADMIN_KEY, or auth/admin_key in the
        config): actor {user "admin", role "admin", team ""}. Only its
        SHA-256 is kept in memory, and a presented key's hash is compared
        with it in constant time (sodium_memcmp), so neither the key nor
        where a guess first differs can be learned from memory or timing.
      - a user's key ("rpk_" + 64 hex, made by the users service): its
        SHA-256 (lowercase hex, as user.* events carry it) is looked up in
        the directory, which gives the actor {user id, role, team}.

    The key's hash also names the caller's rate-limit bucket.
*/
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include "directory.h"

#include <stdbool.h>

#define GW_AUTH_MAX_KEY 256 //  a longer presented key is refused unread

typedef enum {
    GW_AUTH_OK,      //  *caller filled
    GW_AUTH_DENIED,  //  no header, another scheme, an unknown key: 401
    GW_AUTH_SYNCING, //  a user key not found while the directory is still
                     //  replaying the journal: 503, try again shortly
} gw_auth_result_t;

//  The authenticated caller (NUL-terminated copies).
typedef struct {
    gw_member_t member;                       //  user, role, team
    char key_hash[GW_DIRECTORY_HASH_LEN + 1]; //  SHA-256 of the key, hex
    bool bootstrap;                           //  the bootstrap admin key
} gw_caller_t;

typedef struct _gw_auth_t gw_auth_t;

//  admin_key NULL or empty: no admin key (only user keys pass). directory
//  may be NULL (no user keys). The directory is borrowed.
gw_auth_t *gw_auth_new(const char *admin_key, gw_directory_t *directory);
void gw_auth_destroy(gw_auth_t **self_p);

//  Tell auth whether the directory has replayed the journal (until then
//  an unknown user key is GW_AUTH_SYNCING rather than DENIED).
void gw_auth_set_synced(gw_auth_t *self, bool synced);

//  Check an Authorization header value.
gw_auth_result_t gw_auth_check(gw_auth_t *self, const char *authorization, gw_caller_t *caller);

//  The SHA-256 of len bytes of key as 64 lowercase hex digits.
void gw_auth_hash(const char *key, size_t len, char hex[GW_DIRECTORY_HASH_LEN + 1]);

void gw_auth_test(void);

#endif
