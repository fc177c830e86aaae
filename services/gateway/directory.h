/*  directory.h — who holds which API key: the gateway's in-memory map
    key hash → member {user id, role, team}, folded from the journal's
    user.* events (docs/events.md § Users) in seq order.

    The users service owns users; the gateway only needs to answer "whose
    key is this?" on every request without a round trip, so every gateway
    instance folds the same events into the same map (DESIGN.md §2: state
    is apply(event) in sequence order). A key created, rotated or revoked on
    any instance reaches every other one through the feed, typically within
    milliseconds.

    The fold mirrors the users service's apply for everything that decides
    whether a key is valid and whose it is: a user.created for an id that
    exists, with a malformed or taken key hash, an e-mail held by another
    active user, or a manager_id that is not an active manager or admin is
    refused there, so it is refused here; updates and revocations honour
    `expected_version`; only active users' current keys are in the map.
    Refused and malformed events change nothing (logged at debug). Fields
    the gateway does not need (name, times) are not kept.

    Other event types are skipped by their type alone, without decoding.
*/
#ifndef GW_DIRECTORY_H
#define GW_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DIRECTORY_ID_MAX    64  //  bytes of a user id: [A-Za-z0-9_-]
#define GW_DIRECTORY_ROLE_MAX  15  //  bytes of a role name
#define GW_DIRECTORY_TEAM_MAX  100 //  bytes of a team
#define GW_DIRECTORY_EMAIL_MAX 254 //  bytes of an e-mail
#define GW_DIRECTORY_HASH_LEN  64  //  lowercase hex SHA-256

//  What a key says about its holder (NUL-terminated copies).
typedef struct {
    char user[GW_DIRECTORY_ID_MAX + 1];
    char role[GW_DIRECTORY_ROLE_MAX + 1];
    char team[GW_DIRECTORY_TEAM_MAX + 1];
} gw_member_t;

typedef struct _gw_directory_t gw_directory_t;

gw_directory_t *gw_directory_new(void);
void gw_directory_destroy(gw_directory_t **self_p);

//  Fold one journal event (the packed event map, as rp_feed delivers it;
//  the signature is rp_feed_fn's). Always returns 0: a refused or
//  malformed event is skipped, as the users service's apply skips it.
int gw_directory_apply(void *self, uint64_t seq, const char *type, size_t type_len,
                       const uint8_t *event, size_t size);

//  The member holding the key whose hash is key_hash (64 lowercase hex),
//  copied into *member; false if no active user holds it.
bool gw_directory_lookup(gw_directory_t *self, const char *key_hash, gw_member_t *member);

//  The member with a user id, if active; false otherwise.
bool gw_directory_member(gw_directory_t *self, const char *user, gw_member_t *member);

//  The last seq folded (0: none).
uint64_t gw_directory_cursor(gw_directory_t *self);

//  Active keys held.
size_t gw_directory_size(gw_directory_t *self);

//  True if s is a role name (admin, manager, sales, readonly, integrator).
bool gw_directory_role_valid(const char *s, size_t len);

void gw_directory_test(void);

#endif
