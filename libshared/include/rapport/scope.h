/*  scope.h — roles, and how far each reaches: the one spelling of the
    roles of DESIGN.md §4 for every service and the gateway.

    A request's actor {user, role, team} (the envelope's, rp_actor_parse)
    becomes an rp_scope_t: a role of the enum (RP_ROLE_NONE for an unknown
    name or no sane user, which then has no rights) and the borrowed user
    and team. Over records that have an owner and a team (customers, and
    the next services' records) a role reaches:

        role         reads        writes
        admin        all          all
        manager      their team   their team
        sales        their own    their own
        readonly     their team   none
        integrator   none         none       (events only, docs/api.md)
        none         none         none

    "their team" needs the actor's team: an actor without one sees none
    of it. A service whose records are people (users) adds its own rule on
    top (everyone sees themselves), with the same roles.
*/
#ifndef RAPPORT_SCOPE_H
#define RAPPORT_SCOPE_H

#include <rapport/envelope.h>

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

//  In this order (stored nowhere as numbers: events carry the names).
typedef enum {
    RP_ROLE_NONE,
    RP_ROLE_ADMIN,
    RP_ROLE_MANAGER,
    RP_ROLE_SALES,
    RP_ROLE_READONLY,
    RP_ROLE_INTEGRATOR
} rp_role_t;

#define RP_ROLES "admin, manager, sales, readonly, integrator" //  for messages

//  The names, from RP_ROLE_ADMIN on, NULL-terminated (the values of a
//  record's role field, RP_FIELD_ENUM).
extern const char *const rp_role_names[];

//  A role by name (RP_ROLE_NONE when unknown or NULL) and its name (""
//  for RP_ROLE_NONE).
rp_role_t rp_role_parse(const char *name, size_t len);
const char *rp_role_name(rp_role_t role);

typedef enum { RP_REACH_NONE, RP_REACH_OWN, RP_REACH_TEAM, RP_REACH_ALL } rp_reach_t;

typedef struct {
    rp_role_t role;   //  RP_ROLE_NONE: unknown role, or no sane user
    const char *user; //  NULL when absent or not sane
    size_t user_len;
    const char *team; //  NULL when absent
    size_t team_len;
} rp_scope_t;

//  Read the request's actor (borrowing its strings).
void rp_scope_parse(rp_scope_t *self, const rp_request_t *req);

//  How far the actor reaches for reads (write false) or writes, as above.
rp_reach_t rp_scope_reach(const rp_scope_t *self, bool write);

//  May the actor read (or change) anything at all of such records?
bool rp_scope_may_read(const rp_scope_t *self);
bool rp_scope_may_write(const rp_scope_t *self);

//  May the actor see (write false) or change a record with this owner and
//  team (either NULL when the record has none)?
bool rp_scope_allows(const rp_scope_t *self, const char *owner, size_t owner_len, const char *team,
                     size_t team_len, bool write);

//  Is user the actor themselves?
bool rp_scope_is_user(const rp_scope_t *self, const char *user, size_t user_len);

//  Is team the actor's own (a team, not empty)?
bool rp_scope_is_team(const rp_scope_t *self, const char *team, size_t team_len);

//  May the actor give a record this owner and team (each checked when
//  given; a NULL value is none)? Admins give any; sales only themselves
//  as owner; everyone else only their own team. NULL when allowed, else
//  the field refused ("owner" or "team", answered as out_of_scope).
const char *rp_scope_assign_check(const rp_scope_t *self, bool owner_given, const char *owner,
                                  size_t owner_len, bool team_given, const char *team,
                                  size_t team_len);

//  Pack the actor as an event's {user, role, team} (team nil when absent):
//  rebuilt from the checked fields, so only these reach the journal.
void rp_scope_pack(const rp_scope_t *self, msgpack_packer *pk);

void rp_scope_test(void);

#endif
