/*  scope.c — see scope.h. */
#include "scope.h"

#include <assert.h>
#include <string.h>

static bool s_scope_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a && b && a_len == b_len && memcmp(a, b, a_len) == 0;
}

static bool s_scope_is(const rp_actor_t *actor, const char *role)
{
    return s_scope_eq(actor->role, actor->role_len, role, strlen(role));
}

void scope_parse(scope_t *self, const rp_request_t *req)
{
    rp_actor_t actor;
    rp_actor_parse(req, &actor);
    memset(self, 0, sizeof *self);
    if (!actor.user)
        return; //  no (sane) user: no rights
    self->user = actor.user, self->user_len = actor.user_len;
    self->team = actor.team, self->team_len = actor.team_len;
    self->role = s_scope_is(&actor, "admin")      ? SCOPE_ADMIN
                 : s_scope_is(&actor, "manager")  ? SCOPE_MANAGER
                 : s_scope_is(&actor, "sales")    ? SCOPE_SALES
                 : s_scope_is(&actor, "readonly") ? SCOPE_READONLY
                                                  : SCOPE_NONE;
}

bool scope_allows(const scope_t *self, const rp_record_t *record, bool write)
{
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    rp_record_str(record, CUSTOMER_OWNER, &owner, &owner_len);
    rp_record_str(record, CUSTOMER_TEAM, &team, &team_len);
    switch (self->role) {
    case SCOPE_ADMIN:
        return true;
    case SCOPE_MANAGER:
        return s_scope_eq(team, team_len, self->team, self->team_len);
    case SCOPE_SALES:
        return s_scope_eq(owner, owner_len, self->user, self->user_len);
    case SCOPE_READONLY:
        return !write && s_scope_eq(team, team_len, self->team, self->team_len);
    default:
        return false;
    }
}

bool scope_may_write(const scope_t *self)
{
    return self->role == SCOPE_ADMIN || self->role == SCOPE_MANAGER || self->role == SCOPE_SALES;
}

const char *scope_assign_check(const scope_t *self, const rp_record_t *changes)
{
    const char *str;
    size_t len;
    if (self->role == SCOPE_ADMIN)
        return NULL;
    if (changes->given[CUSTOMER_OWNER] && self->role == SCOPE_SALES &&
        !(rp_record_str(changes, CUSTOMER_OWNER, &str, &len) &&
          s_scope_eq(str, len, self->user, self->user_len)))
        return "owner";
    if (changes->given[CUSTOMER_TEAM] && !(rp_record_str(changes, CUSTOMER_TEAM, &str, &len) &&
                                           s_scope_eq(str, len, self->team, self->team_len)))
        return "team";
    return NULL;
}

void scope_pack(const scope_t *self, msgpack_packer *pk)
{
    static const char *const names[] = {"", "admin", "manager", "sales", "readonly"};
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "user");
    rp_pack_strn(pk, self->user, self->user_len);
    rp_pack_kv_cstr(pk, "role", names[self->role]);
    rp_pack_cstr(pk, "team");
    if (self->team)
        rp_pack_strn(pk, self->team, self->team_len);
    else
        msgpack_pack_nil(pk);
}

//  ---------------------------------------------------------------------

void scope_test(void)
{
    rp_record_t record;
    customer_init(&record);
    rp_record_set_str(&record, CUSTOMER_OWNER, "ann", 3);
    rp_record_set_str(&record, CUSTOMER_TEAM, "east", 4);
    scope_t sales = {SCOPE_SALES, "ann", 3, "east", 4};
    scope_t other = {SCOPE_SALES, "bob", 3, "east", 4};
    scope_t manager = {SCOPE_MANAGER, "max", 3, "east", 4};
    scope_t west = {SCOPE_MANAGER, "wes", 3, "west", 4};
    scope_t readonly = {SCOPE_READONLY, "rex", 3, "east", 4};
    assert(scope_allows(&sales, &record, true));
    assert(!scope_allows(&other, &record, false));
    assert(scope_allows(&manager, &record, true));
    assert(!scope_allows(&west, &record, false));
    assert(scope_allows(&readonly, &record, false) && !scope_allows(&readonly, &record, true));
    assert(!scope_may_write(&readonly));

    rp_record_t changes;
    customer_init(&changes);
    assert(scope_assign_check(&sales, &changes) == NULL);
    rp_record_set_str(&changes, CUSTOMER_OWNER, "bob", 3);
    assert(strcmp(scope_assign_check(&sales, &changes), "owner") == 0);
    assert(scope_assign_check(&manager, &changes) == NULL);
    rp_record_set_str(&changes, CUSTOMER_TEAM, "west", 4);
    assert(strcmp(scope_assign_check(&manager, &changes), "team") == 0);
    scope_t admin = {SCOPE_ADMIN, "root", 4, NULL, 0};
    assert(scope_assign_check(&admin, &changes) == NULL);
    rp_record_reset(&changes);
    rp_record_reset(&record);
}
