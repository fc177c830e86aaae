/*  directory.h — who holds which API key: the gateway's answer to "whose
    key is this?", on every request, without a round trip.

    The users service owns users; its apply (services/users/apply.c) is the
    only set of rules for which user.* events take effect. The directory
    runs that same apply, linked into the gateway, on a replica of the
    users store: an LMDB cache store in a directory of its own (removed at
    destroy, and by the next gateway if this one dies; the gateway replays
    the journal from seq 1 at every start),
    fed the journal's user.* events in seq order as the users service's
    runtime feeds them (malformed events skipped alike). So the gateway's
    view cannot drift from the service's: a key is valid here exactly when
    users.by_key would answer it (tests: gw_directory_test folds one journal
    into both and compares every key).

    Lookups read the replica's keys database, then the record (by field
    name: {id, role, team, active}); the members found are cached in memory
    (at most GW_DIRECTORY_CACHE_MAX) and the cache is emptied by every
    user.* event, so the hot path is a hash lookup and a change takes effect
    with the event that makes it. If the replica cannot be written (a full
    disk), every user key is refused from then on (fail closed, logged).

    Other event types are skipped by their type alone, without decoding.
*/
#ifndef GW_DIRECTORY_H
#define GW_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GW_DIRECTORY_ID_MAX    64     //  bytes of a user id: [A-Za-z0-9_-]
#define GW_DIRECTORY_ROLE_MAX  15     //  bytes of a role name
#define GW_DIRECTORY_TEAM_MAX  100    //  bytes of a team
#define GW_DIRECTORY_HASH_LEN  64     //  lowercase hex SHA-256
#define GW_DIRECTORY_CACHE_MAX 100000 //  members kept in memory between user.* events

//  What a key says about its holder (NUL-terminated copies).
typedef struct {
    char user[GW_DIRECTORY_ID_MAX + 1];
    char role[GW_DIRECTORY_ROLE_MAX + 1];
    char team[GW_DIRECTORY_TEAM_MAX + 1];
} gw_member_t;

typedef struct _gw_directory_t gw_directory_t;

//  The replica goes in parent/directory-<pid> (replicas of processes gone
//  are removed first), or with parent NULL in a new directory under /tmp;
//  NULL (logged) if it cannot be made.
gw_directory_t *gw_directory_new(const char *parent);
void gw_directory_destroy(gw_directory_t **self_p);

//  Fold one journal event (the packed event map, as rp_feed delivers it;
//  the signature is rp_feed_fn's). Always returns 0: a refused event is
//  refused by the users service's apply here as there.
int gw_directory_apply(void *self, uint64_t seq, const char *type, size_t type_len,
                       const uint8_t *event, size_t size);

//  Empty the replica: the journal it was folded from is gone (another
//  answers now), so no key of it may work; the new one is folded from
//  seq 1. If the replica cannot be emptied, every user key is refused.
void gw_directory_clear(gw_directory_t *self);

//  The member holding the key whose hash is key_hash (64 lowercase hex),
//  copied into *member; false if no active user holds it.
bool gw_directory_lookup(gw_directory_t *self, const char *key_hash, gw_member_t *member);

//  The member with a user id, if active; false otherwise.
bool gw_directory_member(gw_directory_t *self, const char *user, gw_member_t *member);

//  The last seq folded (0: none).
uint64_t gw_directory_cursor(gw_directory_t *self);

//  Active keys held.
size_t gw_directory_size(gw_directory_t *self);

void gw_directory_test(void);

#endif
