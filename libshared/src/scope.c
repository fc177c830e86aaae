/*  scope.c — see scope.h. */
#include <rapport/pack.h>
#include <rapport/scope.h>

#include <assert.h>
#include <string.h>

const char *const rp_role_names[] = {"admin", "manager", "sales", "readonly", "integrator", NULL};
#define ROLES (sizeof rp_role_names / sizeof rp_role_names[0] - 1)

rp_role_t rp_role_parse(const char *name, size_t len)
{
    for (size_t i = 0; name && i < ROLES; i++)
        if (strlen(rp_role_names[i]) == len && memcmp(rp_role_names[i], name, len) == 0)
            return (rp_role_t)(i + 1);
    return RP_ROLE_NONE;
}

const char *rp_role_name(rp_role_t role)
{
    return role > RP_ROLE_NONE && (size_t)role <= ROLES ? rp_role_names[role - 1] : "";
}

static bool s_eq(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a && b && a_len == b_len && memcmp(a, b, a_len) == 0;
}

void rp_scope_parse(rp_scope_t *self, const rp_request_t *req)
{
    rp_actor_t actor;
    rp_actor_parse(req, &actor);
    memset(self, 0, sizeof *self);
    if (!actor.user)
        return; //  no (sane) user: no rights
    self->user = actor.user, self->user_len = actor.user_len;
    self->team = actor.team, self->team_len = actor.team_len;
    self->role = rp_role_parse(actor.role, actor.role_len);
}

rp_reach_t rp_scope_reach(const rp_scope_t *self, bool write)
{
    switch (self->role) {
    case RP_ROLE_ADMIN:
        return RP_REACH_ALL;
    case RP_ROLE_MANAGER:
        return RP_REACH_TEAM;
    case RP_ROLE_SALES:
        return RP_REACH_OWN;
    case RP_ROLE_READONLY:
        return write ? RP_REACH_NONE : RP_REACH_TEAM;
    default: //  integrator, none
        return RP_REACH_NONE;
    }
}

bool rp_scope_may_read(const rp_scope_t *self)
{
    return rp_scope_reach(self, false) != RP_REACH_NONE;
}

bool rp_scope_may_write(const rp_scope_t *self)
{
    return rp_scope_reach(self, true) != RP_REACH_NONE;
}

bool rp_scope_allows(const rp_scope_t *self, const char *owner, size_t owner_len, const char *team,
                     size_t team_len, bool write)
{
    switch (rp_scope_reach(self, write)) {
    case RP_REACH_ALL:
        return true;
    case RP_REACH_TEAM:
        return s_eq(team, team_len, self->team, self->team_len);
    case RP_REACH_OWN:
        return s_eq(owner, owner_len, self->user, self->user_len);
    default:
        return false;
    }
}

bool rp_scope_is_user(const rp_scope_t *self, const char *user, size_t user_len)
{
    return s_eq(self->user, self->user_len, user, user_len);
}

bool rp_scope_is_team(const rp_scope_t *self, const char *team, size_t team_len)
{
    return self->team_len > 0 && s_eq(self->team, self->team_len, team, team_len);
}

const char *rp_scope_assign_check(const rp_scope_t *self, bool owner_given, const char *owner,
                                  size_t owner_len, bool team_given, const char *team,
                                  size_t team_len)
{
    if (self->role == RP_ROLE_ADMIN)
        return NULL;
    if (owner_given && self->role == RP_ROLE_SALES &&
        !(owner && rp_scope_is_user(self, owner, owner_len)))
        return "owner";
    if (team_given && !(team && self->team && self->team_len == team_len &&
                        memcmp(self->team, team, team_len) == 0))
        return "team";
    return NULL;
}

void rp_scope_pack(const rp_scope_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "user");
    rp_pack_strn(pk, self->user, self->user_len);
    rp_pack_kv_cstr(pk, "role", rp_role_name(self->role));
    rp_pack_cstr(pk, "team");
    if (self->team)
        rp_pack_strn(pk, self->team, self->team_len);
    else
        msgpack_pack_nil(pk);
}

//  ---------------------------------------------------------------------
//  Self-test

//  Parse {id, op, actor} with the actor's user, role and team (NULL:
//  left out).
static rp_doc_t *s_test_doc; //  the last request: the scope borrows from it

static void s_test_parse(rp_scope_t *scope, const char *user, const char *role, const char *team)
{
    rp_doc_t **doc = &s_test_doc;
    rp_doc_destroy(doc);
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_u64(&packer.pk, "id", 1);
    rp_pack_kv_cstr(&packer.pk, "op", "x.get");
    rp_pack_cstr(&packer.pk, "actor");
    msgpack_pack_map(&packer.pk, (user != NULL) + (role != NULL) + (team != NULL));
    if (user)
        rp_pack_kv_cstr(&packer.pk, "user", user);
    if (role)
        rp_pack_kv_cstr(&packer.pk, "role", role);
    if (team)
        rp_pack_kv_cstr(&packer.pk, "team", team);
    *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rp_packer_destroy(&packer);
    rp_request_t req;
    assert(*doc && rp_request_parse(rp_doc_root(*doc), &req) == NULL);
    rp_scope_parse(scope, &req);
}

void rp_scope_test(void)
{
    for (int role = RP_ROLE_ADMIN; role <= RP_ROLE_INTEGRATOR; role++) {
        const char *name = rp_role_name((rp_role_t)role);
        assert(name[0] && rp_role_parse(name, strlen(name)) == (rp_role_t)role);
    }
    assert(rp_role_parse("root", 4) == RP_ROLE_NONE && rp_role_parse(NULL, 0) == RP_ROLE_NONE);
    assert(rp_role_parse("admi", 4) == RP_ROLE_NONE && rp_role_name(RP_ROLE_NONE)[0] == 0);

    //  The table of scope.h, over a record owned by ann in team east.
    static const struct {
        const char *role;
        bool read, write; //  ann's record, seen by someone else of east
        rp_reach_t reach;
    } rules[] = {
        {"admin", true, true, RP_REACH_ALL},         {"manager", true, true, RP_REACH_TEAM},
        {"sales", false, false, RP_REACH_OWN},       {"readonly", true, false, RP_REACH_TEAM},
        {"integrator", false, false, RP_REACH_NONE}, {"guest", false, false, RP_REACH_NONE}};
    rp_scope_t scope;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        s_test_parse(&scope, "bob", rules[i].role, "east");
        assert(rp_scope_reach(&scope, false) == rules[i].reach);
        assert(rp_scope_allows(&scope, "ann", 3, "east", 4, false) == rules[i].read);
        assert(rp_scope_allows(&scope, "ann", 3, "east", 4, true) == rules[i].write);
        assert(rp_scope_may_read(&scope) == (rules[i].reach != RP_REACH_NONE));
    }
    s_test_parse(&scope, "ann", "sales", "east"); //  the owner
    assert(rp_scope_allows(&scope, "ann", 3, NULL, 0, true) && rp_scope_may_write(&scope));
    assert(rp_scope_is_user(&scope, "ann", 3) && !rp_scope_is_user(&scope, "an", 2));
    s_test_parse(&scope, "max", "manager", "west"); //  another team
    assert(!rp_scope_allows(&scope, "ann", 3, "east", 4, false));
    assert(!rp_scope_is_team(&scope, "east", 4) && rp_scope_is_team(&scope, "west", 4));
    s_test_parse(&scope, "max", "manager", NULL); //  no team: sees no team's records
    assert(!rp_scope_allows(&scope, "ann", 3, NULL, 0, false) && !rp_scope_is_team(&scope, "", 0));
    s_test_parse(&scope, "rex", "readonly", "east");
    assert(!rp_scope_may_write(&scope));

    //  No sane user: no role, whatever it says.
    s_test_parse(&scope, NULL, "admin", "east");
    assert(scope.role == RP_ROLE_NONE && !scope.user && !rp_scope_may_read(&scope));
    s_test_parse(&scope, "", "admin", NULL);
    assert(scope.role == RP_ROLE_NONE && !scope.user);

    //  Packed for events: {user, role, team} with team nil when absent.
    s_test_parse(&scope, "ann", "sales", NULL);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_scope_pack(&scope, &packer.pk);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    const msgpack_object *root = rp_doc_root(doc);
    assert(rp_obj_streq(rp_obj_get(root, "user"), "ann"));
    assert(rp_obj_streq(rp_obj_get(root, "role"), "sales"));
    assert(rp_obj_get(root, "team")->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    rp_doc_destroy(&s_test_doc);
}
