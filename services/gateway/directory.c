/*  directory.c — see directory.h. */
#include "directory.h"

#include <czmq.h>
#include <inttypes.h>
#include <rapport/log.h>
#include <rapport/pack.h>

//  One user as the gateway knows them. Revoked users stay (inactive,
//  without key or e-mail) so that a later user.created for the same id is
//  refused, as the users service refuses it.
typedef struct {
    char id[GW_DIRECTORY_ID_MAX + 1];
    char role[GW_DIRECTORY_ROLE_MAX + 1];
    char team[GW_DIRECTORY_TEAM_MAX + 1];
    char email[GW_DIRECTORY_EMAIL_MAX + 1];   //  "" when revoked
    char key_hash[GW_DIRECTORY_HASH_LEN + 1]; //  "" when none
    bool active;
    uint64_t version;
} member_t;

struct _gw_directory_t {
    zhashx_t *members; //  id → member_t (owned)
    zhashx_t *keys;    //  key hash → member_t (borrowed), active users only
    zhashx_t *emails;  //  e-mail → member_t (borrowed), active users only
    uint64_t cursor;
};

static const char *const s_roles[] = {"admin", "manager", "sales", "readonly", "integrator"};

gw_directory_t *gw_directory_new(void)
{
    gw_directory_t *self = (gw_directory_t *)zmalloc(sizeof *self);
    self->members = zhashx_new();
    zhashx_set_destructor(self->members, (zhashx_destructor_fn *)zstr_free);
    self->keys = zhashx_new();
    self->emails = zhashx_new();
    return self;
}

void gw_directory_destroy(gw_directory_t **self_p)
{
    gw_directory_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->keys);
    zhashx_destroy(&self->emails);
    zhashx_destroy(&self->members);
    free(self);
    *self_p = NULL;
}

bool gw_directory_role_valid(const char *s, size_t len)
{
    for (size_t i = 0; s && i < sizeof s_roles / sizeof s_roles[0]; i++)
        if (strlen(s_roles[i]) == len && memcmp(s_roles[i], s, len) == 0)
            return true;
    return false;
}

//  ---------------------------------------------------------------------
//  Reading event fields into bounded C strings

//  A str of 0..max bytes without NUL into out; false otherwise.
static bool s_text(const msgpack_object *o, char *out, size_t max)
{
    const char *str;
    size_t len;
    if (!rp_obj_str(o, &str, &len) || len > max || memchr(str, 0, len))
        return false;
    memcpy(out, str, len);
    out[len] = 0;
    return true;
}

static bool s_id(const msgpack_object *o, char out[GW_DIRECTORY_ID_MAX + 1])
{
    const char *allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    return s_text(o, out, GW_DIRECTORY_ID_MAX) && *out && strspn(out, allowed) == strlen(out);
}

static bool s_hash(const msgpack_object *o, char out[GW_DIRECTORY_HASH_LEN + 1])
{
    return s_text(o, out, GW_DIRECTORY_HASH_LEN) && strlen(out) == GW_DIRECTORY_HASH_LEN &&
           strspn(out, "0123456789abcdef") == GW_DIRECTORY_HASH_LEN;
}

static bool s_role(const msgpack_object *o, char out[GW_DIRECTORY_ROLE_MAX + 1])
{
    return s_text(o, out, GW_DIRECTORY_ROLE_MAX) && gw_directory_role_valid(out, strlen(out));
}

//  A team: a str, or nil (no team: "").
static bool s_team(const msgpack_object *o, char out[GW_DIRECTORY_TEAM_MAX + 1])
{
    if (o && o->type == MSGPACK_OBJECT_NIL) {
        *out = 0;
        return true;
    }
    return s_text(o, out, GW_DIRECTORY_TEAM_MAX) && rp_utf8_valid(out, strlen(out));
}

static bool s_email(const msgpack_object *o, char out[GW_DIRECTORY_EMAIL_MAX + 1])
{
    return s_text(o, out, GW_DIRECTORY_EMAIL_MAX) && *out && strchr(out, '@');
}

//  ---------------------------------------------------------------------
//  The rules the users service applies (services/users/apply.c)

//  May manager_id (a str or nil) be self_id's manager? nil always may.
static bool s_manager_ok(gw_directory_t *self, const msgpack_object *manager_id,
                         const char *self_id)
{
    if (!manager_id || manager_id->type == MSGPACK_OBJECT_NIL)
        return true;
    char id[GW_DIRECTORY_ID_MAX + 1];
    if (!s_id(manager_id, id) || streq(id, self_id))
        return false;
    member_t *manager = (member_t *)zhashx_lookup(self->members, id);
    return manager && manager->active &&
           (streq(manager->role, "manager") || streq(manager->role, "admin"));
}

//  Is email held by an active user other than member?
static bool s_email_taken(gw_directory_t *self, const char *email, const member_t *member)
{
    member_t *holder = (member_t *)zhashx_lookup(self->emails, email);
    return holder && holder != member;
}

//  Stale if the data names an expected_version that is not the member's.
static bool s_stale(const msgpack_object *data, const member_t *member)
{
    uint64_t expected;
    return rp_obj_u64(rp_obj_get(data, "expected_version"), &expected) &&
           expected != member->version;
}

static void s_set_key(gw_directory_t *self, member_t *member, const char *hash)
{
    if (*member->key_hash)
        zhashx_delete(self->keys, member->key_hash);
    snprintf(member->key_hash, sizeof member->key_hash, "%s", hash);
    if (*hash)
        zhashx_insert(self->keys, hash, member);
}

static void s_set_email(gw_directory_t *self, member_t *member, const char *email)
{
    if (*member->email)
        zhashx_delete(self->emails, member->email);
    snprintf(member->email, sizeof member->email, "%s", email);
    if (*email)
        zhashx_insert(self->emails, email, member);
}

//  user.created {id, key_hash, record: {name, email, role, team?, manager_id?}}
static const char *s_created(gw_directory_t *self, const char *id, const msgpack_object *data)
{
    if (zhashx_lookup(self->members, id))
        return "exists";
    const msgpack_object *record = rp_obj_get(data, "record");
    const msgpack_object *team = rp_obj_get(record, "team");
    member_t fresh = {.active = true, .version = 1};
    char hash[GW_DIRECTORY_HASH_LEN + 1], email[GW_DIRECTORY_EMAIL_MAX + 1];
    if (!s_hash(rp_obj_get(data, "key_hash"), hash) || !rp_obj_is_map(record) ||
        !s_role(rp_obj_get(record, "role"), fresh.role) ||
        !s_email(rp_obj_get(record, "email"), email) || (team && !s_team(team, fresh.team)))
        return "bad_event";
    if (zhashx_lookup(self->keys, hash))
        return "key_conflict";
    if (s_email_taken(self, email, NULL))
        return "duplicate";
    if (!s_manager_ok(self, rp_obj_get(record, "manager_id"), id))
        return "invalid";
    member_t *member = (member_t *)zmalloc(sizeof *member);
    *member = fresh;
    snprintf(member->id, sizeof member->id, "%s", id);
    zhashx_insert(self->members, id, member);
    s_set_key(self, member, hash);
    s_set_email(self, member, email);
    return NULL;
}

//  The member named by id, if active; else why not.
static member_t *s_active(gw_directory_t *self, const char *id, const char **refused)
{
    member_t *member = (member_t *)zhashx_lookup(self->members, id);
    *refused = !member ? "not_found" : !member->active ? "revoked" : NULL;
    return *refused ? NULL : member;
}

//  user.updated {id, changes: {name?, email?, role?, team?, manager_id?}, expected_version?}
static const char *s_updated(gw_directory_t *self, const char *id, const msgpack_object *data)
{
    const char *refused;
    member_t *member = s_active(self, id, &refused);
    if (!member)
        return refused;
    if (s_stale(data, member))
        return "version_mismatch";
    const msgpack_object *changes = rp_obj_get(data, "changes");
    const msgpack_object *role = rp_obj_get(changes, "role");
    const msgpack_object *team = rp_obj_get(changes, "team");
    const msgpack_object *email = rp_obj_get(changes, "email");
    const msgpack_object *manager_id = rp_obj_get(changes, "manager_id");
    member_t next = *member;
    if (!rp_obj_is_map(changes) || (role && !s_role(role, next.role)) ||
        (team && !s_team(team, next.team)) || (email && !s_email(email, next.email)))
        return "bad_event";
    if (s_email_taken(self, next.email, member))
        return "duplicate";
    if (manager_id && !s_manager_ok(self, manager_id, id))
        return "invalid";
    snprintf(member->role, sizeof member->role, "%s", next.role);
    snprintf(member->team, sizeof member->team, "%s", next.team);
    if (!streq(next.email, member->email))
        s_set_email(self, member, next.email);
    member->version++;
    return NULL;
}

//  user.key_rotated {id, key_hash}
static const char *s_key_rotated(gw_directory_t *self, const char *id, const msgpack_object *data)
{
    const char *refused;
    member_t *member = s_active(self, id, &refused);
    if (!member)
        return refused;
    char hash[GW_DIRECTORY_HASH_LEN + 1];
    if (!s_hash(rp_obj_get(data, "key_hash"), hash))
        return "bad_event";
    if (zhashx_lookup(self->keys, hash))
        return "key_conflict";
    s_set_key(self, member, hash);
    member->version++;
    return NULL;
}

//  user.revoked {id, expected_version?}: already revoked changes nothing.
static const char *s_revoked(gw_directory_t *self, const char *id, const msgpack_object *data)
{
    member_t *member = (member_t *)zhashx_lookup(self->members, id);
    if (!member)
        return "not_found";
    if (s_stale(data, member))
        return "version_mismatch";
    if (!member->active)
        return NULL;
    s_set_key(self, member, "");
    s_set_email(self, member, "");
    member->active = false;
    member->version++;
    return NULL;
}

//  ---------------------------------------------------------------------

static bool s_type_is(const char *type, size_t type_len, const char *name)
{
    return strlen(name) == type_len && memcmp(type, name, type_len) == 0;
}

int gw_directory_apply(void *arg, uint64_t seq, const char *type, size_t type_len,
                       const uint8_t *event, size_t size)
{
    gw_directory_t *self = (gw_directory_t *)arg;
    self->cursor = seq;
    if (type_len < 5 || memcmp(type, "user.", 5) != 0)
        return 0; //  not ours: no decoding
    rp_doc_t *doc = rp_doc_new(event, size, NULL);
    const msgpack_object *data = doc ? rp_obj_get(rp_doc_root(doc), "data") : NULL;
    char id[GW_DIRECTORY_ID_MAX + 1];
    const char *refused = "bad_event";
    if (rp_obj_is_map(data) && s_id(rp_obj_get(data, "id"), id)) {
        if (s_type_is(type, type_len, "user.created"))
            refused = s_created(self, id, data);
        else if (s_type_is(type, type_len, "user.updated"))
            refused = s_updated(self, id, data);
        else if (s_type_is(type, type_len, "user.key_rotated"))
            refused = s_key_rotated(self, id, data);
        else if (s_type_is(type, type_len, "user.revoked"))
            refused = s_revoked(self, id, data);
        else
            refused = NULL; //  a user.* type we do not need
    }
    if (refused)
        rp_debug("directory: seq %" PRIu64 " %.*s refused: %s", seq, (int)type_len, type, refused);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_copy(const member_t *from, gw_member_t *to)
{
    memset(to, 0, sizeof *to);
    snprintf(to->user, sizeof to->user, "%s", from->id);
    snprintf(to->role, sizeof to->role, "%s", from->role);
    snprintf(to->team, sizeof to->team, "%s", from->team);
}

bool gw_directory_lookup(gw_directory_t *self, const char *key_hash, gw_member_t *member)
{
    member_t *found = key_hash ? (member_t *)zhashx_lookup(self->keys, key_hash) : NULL;
    if (found)
        s_copy(found, member);
    return found != NULL;
}

bool gw_directory_member(gw_directory_t *self, const char *user, gw_member_t *member)
{
    member_t *found = user ? (member_t *)zhashx_lookup(self->members, user) : NULL;
    if (found && found->active)
        s_copy(found, member);
    return found && found->active;
}

uint64_t gw_directory_cursor(gw_directory_t *self)
{
    return self->cursor;
}

size_t gw_directory_size(gw_directory_t *self)
{
    return zhashx_size(self->keys);
}

//  ---------------------------------------------------------------------
//  Self-test: hand-made events, as the users service journals them.

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"

static uint64_t s_test_seq;

//  Pack {type, seq, data: <data packed by fn>} and fold it.
typedef void(test_data_fn)(msgpack_packer *pk, const char **args);

static void s_test_fold(gw_directory_t *self, const char *type, test_data_fn *fn, const char **args)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "type", type);
    rp_pack_kv_u64(&packer.pk, "seq", ++s_test_seq);
    rp_pack_cstr(&packer.pk, "data");
    fn(&packer.pk, args);
    assert(gw_directory_apply(self, s_test_seq, type, strlen(type),
                              (const uint8_t *)packer.buffer.data, packer.buffer.size) == 0);
    assert(gw_directory_cursor(self) == s_test_seq);
    rp_packer_destroy(&packer);
}

//  args: id, key_hash, email, role, team (NULL: absent), manager_id (NULL: absent)
static void s_test_created(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_kv_cstr(pk, "key_hash", args[1]);
    rp_pack_cstr(pk, "record");
    msgpack_pack_map(pk, 3 + (args[4] != NULL) + (args[5] != NULL));
    rp_pack_kv_cstr(pk, "name", "王芳");
    rp_pack_kv_cstr(pk, "email", args[2]);
    rp_pack_kv_cstr(pk, "role", args[3]);
    if (args[4])
        rp_pack_kv_cstr(pk, "team", args[4]);
    if (args[5])
        rp_pack_kv_cstr(pk, "manager_id", args[5]);
}

//  args: id, change name, value ("~" packs nil), expected_version or NULL
static void s_test_updated(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 2 + (args[3] != NULL));
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_cstr(pk, "changes");
    msgpack_pack_map(pk, 1);
    rp_pack_cstr(pk, args[1]);
    if (streq(args[2], "~"))
        msgpack_pack_nil(pk);
    else
        rp_pack_cstr(pk, args[2]);
    if (args[3])
        rp_pack_kv_u64(pk, "expected_version", (uint64_t)atoi(args[3]));
}

//  args: id, key_hash
static void s_test_rotated(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_kv_cstr(pk, "key_hash", args[1]);
}

//  args: id, expected_version or NULL
static void s_test_revoked(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 1 + (args[1] != NULL));
    rp_pack_kv_cstr(pk, "id", args[0]);
    if (args[1])
        rp_pack_kv_u64(pk, "expected_version", (uint64_t)atoi(args[1]));
}

static void s_test_create(gw_directory_t *self, const char *id, const char *hash, const char *email,
                          const char *role, const char *team, const char *manager)
{
    const char *args[] = {id, hash, email, role, team, manager};
    s_test_fold(self, "user.created", s_test_created, args);
}

static void s_test_update(gw_directory_t *self, const char *id, const char *field,
                          const char *value, const char *expected)
{
    const char *args[] = {id, field, value, expected};
    s_test_fold(self, "user.updated", s_test_updated, args);
}

static bool s_test_is(gw_directory_t *self, const char *hash, const char *user, const char *role,
                      const char *team)
{
    gw_member_t member;
    memset(&member, 0, sizeof member);
    return gw_directory_lookup(self, hash, &member) && streq(member.user, user) &&
           streq(member.role, role) && streq(member.team, team);
}

void gw_directory_test(void)
{
    gw_directory_t *dir = gw_directory_new();
    gw_member_t member;
    assert(gw_directory_size(dir) == 0 && !gw_directory_lookup(dir, H1, &member));

    //  A manager and a sales user of one team, one without a team.
    s_test_create(dir, "m1", H1, "li@example.cn", "manager", "east", NULL);
    s_test_create(dir, "s1", H2, "wang@example.cn", "sales", "east", "m1");
    s_test_create(dir, "r1", H3, "zhao@example.cn", "readonly", NULL, NULL);
    assert(gw_directory_size(dir) == 3);
    assert(s_test_is(dir, H1, "m1", "manager", "east"));
    assert(s_test_is(dir, H2, "s1", "sales", "east"));
    assert(s_test_is(dir, H3, "r1", "readonly", ""));
    assert(gw_directory_member(dir, "s1", &member) && streq(member.role, "sales"));
    assert(!gw_directory_member(dir, "nobody", &member));

    //  Refused as the users service refuses them: an id reused, a taken
    //  key or e-mail, a manager who is not one, a bad hash or role.
    s_test_create(dir, "m1", H4, "new@example.cn", "admin", NULL, NULL);
    s_test_create(dir, "x1", H1, "x1@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x2", H4, "li@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x3", H4, "x3@example.cn", "sales", NULL, "s1");
    s_test_create(dir, "x4", H4, "x4@example.cn", "sales", NULL, "x4");
    s_test_create(dir, "x5", "ABCD", "x5@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x6", H4, "x6@example.cn", "root", NULL, NULL);
    s_test_create(dir, "bad id!", H4, "x7@example.cn", "sales", NULL, NULL);
    assert(gw_directory_size(dir) == 3 && !gw_directory_lookup(dir, H4, &member));
    assert(s_test_is(dir, H1, "m1", "manager", "east"));

    //  Updates: role and team take effect; a stale expected_version, a
    //  taken e-mail or a bad role change nothing; nil team is "".
    s_test_update(dir, "s1", "team", "west", "1");
    assert(s_test_is(dir, H2, "s1", "sales", "west"));
    s_test_update(dir, "s1", "role", "readonly", "1"); //  stale: version is 2
    s_test_update(dir, "s1", "email", "li@example.cn", NULL);
    s_test_update(dir, "s1", "role", "boss", NULL);
    s_test_update(dir, "s1", "manager_id", "r1", NULL);
    s_test_update(dir, "nobody", "role", "admin", NULL);
    assert(s_test_is(dir, H2, "s1", "sales", "west"));
    s_test_update(dir, "s1", "role", "manager", "2");
    s_test_update(dir, "s1", "team", "~", NULL);
    assert(s_test_is(dir, H2, "s1", "manager", ""));
    s_test_update(dir, "s1", "email", "wang.new@example.cn", NULL); //  frees the old e-mail
    s_test_create(dir, "s2", H4, "wang@example.cn", "sales", "east", "s1");
    assert(s_test_is(dir, H4, "s2", "sales", "east"));

    //  Rotation: the old key stops, the new one works; a taken hash is refused.
    const char *rotate[] = {"s2", H3};
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate); //  r1 holds H3
    assert(s_test_is(dir, H4, "s2", "sales", "east"));
    rotate[1] = "5555555555555555555555555555555555555555555555555555555555555555";
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate);
    assert(!gw_directory_lookup(dir, H4, &member));
    assert(s_test_is(dir, rotate[1], "s2", "sales", "east"));

    //  Revocation: stale is refused; then the key is gone for good, the
    //  id cannot come back, the e-mail is free again, a repeat is harmless.
    const char *revoke[] = {"s2", "1"};
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke); //  s2 is at version 2
    assert(gw_directory_lookup(dir, rotate[1], &member));
    revoke[1] = "2";
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke);
    assert(!gw_directory_lookup(dir, rotate[1], &member) &&
           !gw_directory_member(dir, "s2", &member));
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke);
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate);
    s_test_update(dir, "s2", "role", "admin", NULL);
    assert(!gw_directory_lookup(dir, rotate[1], &member));
    s_test_create(dir, "s2", H4, "s2@example.cn", "sales", NULL, NULL);
    assert(!gw_directory_lookup(dir, H4, &member));
    s_test_create(dir, "s3", H4, "wang@example.cn", "integrator", NULL, NULL);
    assert(s_test_is(dir, H4, "s3", "integrator", ""));
    assert(gw_directory_size(dir) == 4);

    //  Other types are skipped undecoded (even garbage); garbage user.* too.
    s_test_seq++;
    assert(gw_directory_apply(dir, s_test_seq, "customer.created", 16, (const uint8_t *)"\xc1",
                              1) == 0);
    s_test_seq++;
    assert(gw_directory_apply(dir, s_test_seq, "user.created", 12, (const uint8_t *)"\xc1", 1) ==
           0);
    assert(gw_directory_cursor(dir) == s_test_seq && gw_directory_size(dir) == 4);

    assert(gw_directory_role_valid("integrator", 10) && !gw_directory_role_valid("admins", 6));
    gw_directory_destroy(&dir);
    assert(dir == NULL);
}
