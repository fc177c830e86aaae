/*  auth.c — see auth.h. */
#include "auth.h"

#include <assert.h>
#include <czmq.h>
#include <rapport/pack.h>
#include <rapport/scope.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

#define USER_KEY_PREFIX "rpk_"
#define USER_KEY_LEN    (4 + 64)

struct _gw_auth_t {
    bool has_admin;
    unsigned char admin_hash[crypto_hash_sha256_BYTES];
    gw_directory_t *directory;
    bool synced;
};

gw_auth_t *gw_auth_new(const char *admin_key, gw_directory_t *directory)
{
    int rc = sodium_init(); //  idempotent; < 0 only if the library cannot work at all
    assert(rc >= 0);
    gw_auth_t *self = (gw_auth_t *)zmalloc(sizeof *self);
    if (admin_key && *admin_key && strlen(admin_key) <= GW_AUTH_MAX_KEY) {
        crypto_hash_sha256(self->admin_hash, (const unsigned char *)admin_key, strlen(admin_key));
        self->has_admin = true;
    }
    self->directory = directory;
    return self;
}

void gw_auth_destroy(gw_auth_t **self_p)
{
    gw_auth_t *self = *self_p;
    if (!self)
        return;
    sodium_memzero(self->admin_hash, sizeof self->admin_hash);
    free(self);
    *self_p = NULL;
}

void gw_auth_set_synced(gw_auth_t *self, bool synced)
{
    self->synced = synced;
}

void gw_auth_hash(const char *key, size_t len, char hex[GW_DIRECTORY_HASH_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)key, len);
    sodium_bin2hex(hex, GW_DIRECTORY_HASH_LEN + 1, digest, sizeof digest);
}

//  Shaped like a users-service key? Only those can be pending a replay.
static bool s_user_key_shaped(const char *key, size_t len)
{
    return len == USER_KEY_LEN && memcmp(key, USER_KEY_PREFIX, 4) == 0 &&
           strspn(key + 4, "0123456789abcdef") == 64;
}

gw_auth_result_t gw_auth_check(gw_auth_t *self, const char *authorization, gw_caller_t *caller)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7))
        return GW_AUTH_DENIED;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    size_t len = strnlen(key, GW_AUTH_MAX_KEY + 1);
    if (len == 0 || len > GW_AUTH_MAX_KEY)
        return GW_AUTH_DENIED;
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)key, len);
    sodium_bin2hex(caller->key_hash, sizeof caller->key_hash, digest, sizeof digest);
    caller->bootstrap =
        self->has_admin && sodium_memcmp(digest, self->admin_hash, sizeof digest) == 0;
    if (caller->bootstrap) {
        snprintf(caller->member.user, sizeof caller->member.user, "admin");
        snprintf(caller->member.role, sizeof caller->member.role, "%s",
                 rp_role_name(RP_ROLE_ADMIN));
        caller->member.team[0] = 0;
        return GW_AUTH_OK;
    }
    if (self->directory && gw_directory_lookup(self->directory, caller->key_hash, &caller->member))
        return GW_AUTH_OK;
    if (self->directory && !self->synced && s_user_key_shaped(key, len))
        return GW_AUTH_SYNCING;
    return GW_AUTH_DENIED;
}

//  ---------------------------------------------------------------------

//  Fold a user.created for id with the hash of key into dir.
static void s_test_user(gw_directory_t *dir, uint64_t seq, const char *id, const char *key,
                        const char *role)
{
    char hash[GW_DIRECTORY_HASH_LEN + 1], email[64];
    gw_auth_hash(key, strlen(key), hash);
    snprintf(email, sizeof email, "%s@example.cn", id);
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 5); //  a journal event, as the directory folds it
    rp_pack_kv_cstr(&packer.pk, "id", id);
    rp_pack_kv_cstr(&packer.pk, "source", "users");
    rp_pack_kv_cstr(&packer.pk, "type", "user.created");
    rp_pack_kv_cstr(&packer.pk, "time", "2026-12-02T08:00:00.000Z");
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "id", id);
    rp_pack_kv_cstr(&packer.pk, "key_hash", hash);
    rp_pack_cstr(&packer.pk, "record");
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_kv_cstr(&packer.pk, "name", id);
    rp_pack_kv_cstr(&packer.pk, "email", email);
    rp_pack_kv_cstr(&packer.pk, "role", role);
    rp_pack_kv_cstr(&packer.pk, "team", "east");
    gw_directory_apply(dir, seq, "user.created", 12, (const uint8_t *)packer.buffer.data,
                       packer.buffer.size);
    rp_packer_destroy(&packer);
}

void gw_auth_test(void)
{
    gw_caller_t caller;
    gw_auth_t *auth = gw_auth_new("s3cret-key", NULL);
    assert(gw_auth_check(auth, "Bearer s3cret-key", &caller) == GW_AUTH_OK);
    assert(streq(caller.member.user, "admin") && streq(caller.member.role, "admin"));
    assert(caller.bootstrap && streq(caller.member.team, ""));
    char hash[GW_DIRECTORY_HASH_LEN + 1];
    gw_auth_hash("s3cret-key", 10, hash);
    assert(streq(caller.key_hash, hash));
    //  The scheme is case-insensitive; the key is not.
    assert(gw_auth_check(auth, "bearer s3cret-key", &caller) == GW_AUTH_OK);
    const char *denied[] = {"Bearer s3cret-kez", "Bearer s3cret-key2", "Bearer s3cret",
                            "Bearer ",           "Basic s3cret-key",   "s3cret-key",
                            "Bearer S3CRET-KEY"};
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        assert(gw_auth_check(auth, denied[i], &caller) == GW_AUTH_DENIED);
    assert(gw_auth_check(auth, NULL, &caller) == GW_AUTH_DENIED);
    char *long_key = zsys_sprintf("Bearer %0300d", 7);
    assert(gw_auth_check(auth, long_key, &caller) == GW_AUTH_DENIED);
    zstr_free(&long_key);
    gw_auth_destroy(&auth);
    assert(auth == NULL);

    //  SHA-256 as the users service computes it (FIPS 180-2 test vector).
    gw_auth_hash("abc", 3, hash);
    assert(streq(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));

    //  User keys through the directory; unknown user-shaped keys wait for it.
    const char *key_a = "rpk_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    const char *key_b = "rpk_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
    gw_directory_t *dir = gw_directory_new(NULL);
    auth = gw_auth_new("", dir); //  no admin key: only user keys pass
    char header[128];
    snprintf(header, sizeof header, "Bearer %s", key_a);
    assert(gw_auth_check(auth, header, &caller) == GW_AUTH_SYNCING);
    assert(gw_auth_check(auth, "Bearer not-a-user-key", &caller) == GW_AUTH_DENIED);
    assert(gw_auth_check(auth, "Bearer ", &caller) == GW_AUTH_DENIED);
    s_test_user(dir, 1, "u1", key_a, "sales");
    gw_auth_set_synced(auth, true);
    assert(gw_auth_check(auth, header, &caller) == GW_AUTH_OK && !caller.bootstrap);
    assert(streq(caller.member.user, "u1") && streq(caller.member.role, "sales"));
    assert(streq(caller.member.team, "east"));
    gw_auth_hash(key_a, strlen(key_a), hash);
    assert(streq(caller.key_hash, hash));
    snprintf(header, sizeof header, "Bearer %s", key_b);
    assert(gw_auth_check(auth, header, &caller) == GW_AUTH_DENIED);
    s_test_user(dir, 2, "u2", key_b, "integrator");
    assert(gw_auth_check(auth, header, &caller) == GW_AUTH_OK);
    assert(streq(caller.member.user, "u2") && streq(caller.member.role, "integrator"));
    gw_auth_destroy(&auth);
    gw_directory_destroy(&dir);
}
