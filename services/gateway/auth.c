/*  auth.c — see auth.h. */
#include "auth.h"

#include <assert.h>
#include <czmq.h>
#include <string.h>
#include <strings.h>

struct _gw_auth_t {
    char *admin_key;
    size_t admin_len;
};

gw_auth_t *gw_auth_new(const char *admin_key)
{
    gw_auth_t *self = (gw_auth_t *)zmalloc(sizeof *self);
    if (admin_key && *admin_key && strlen(admin_key) <= GW_AUTH_MAX_KEY) {
        self->admin_key = strdup(admin_key);
        self->admin_len = strlen(admin_key);
    }
    return self;
}

void gw_auth_destroy(gw_auth_t **self_p)
{
    gw_auth_t *self = *self_p;
    if (!self)
        return;
    if (self->admin_key)
        memset(self->admin_key, 0, self->admin_len); //  do not leave it in freed memory
    free(self->admin_key);
    free(self);
    *self_p = NULL;
}

//  Equal in time that depends only on the stored key's length, not on
//  where the first difference is, so timing tells nothing about the key.
static bool s_equal(const char *stored, size_t stored_len, const char *given, size_t given_len)
{
    volatile unsigned char diff = stored_len != given_len;
    for (size_t i = 0; i < stored_len; i++)
        diff |= (unsigned char)stored[i] ^ (unsigned char)(i < given_len ? given[i] : 0);
    return diff == 0;
}

bool gw_auth_check(gw_auth_t *self, const char *authorization, gw_actor_t *actor)
{
    if (!self->admin_key || !authorization || strncasecmp(authorization, "Bearer ", 7))
        return false;
    const char *key = authorization + 7;
    while (*key == ' ')
        key++;
    size_t len = strnlen(key, GW_AUTH_MAX_KEY + 1);
    if (len == 0 || len > GW_AUTH_MAX_KEY || !s_equal(self->admin_key, self->admin_len, key, len))
        return false;
    actor->user = "admin";
    actor->role = "admin";
    actor->team = "";
    return true;
}

void gw_auth_test(void)
{
    gw_actor_t actor = {0};
    gw_auth_t *auth = gw_auth_new("s3cret-key");
    assert(gw_auth_check(auth, "Bearer s3cret-key", &actor));
    assert(streq(actor.user, "admin") && streq(actor.role, "admin"));
    assert(gw_auth_check(auth, "bearer s3cret-key", &actor)); //  the scheme is case-insensitive
    assert(!gw_auth_check(auth, "Bearer s3cret-kez", &actor));
    assert(!gw_auth_check(auth, "Bearer s3cret-key2", &actor));
    assert(!gw_auth_check(auth, "Bearer s3cret", &actor));
    assert(!gw_auth_check(auth, "Bearer ", &actor));
    assert(!gw_auth_check(auth, "Basic s3cret-key", &actor));
    assert(!gw_auth_check(auth, "s3cret-key", &actor));
    assert(!gw_auth_check(auth, NULL, &actor));
    gw_auth_destroy(&auth);
    assert(auth == NULL);

    auth = gw_auth_new(""); //  no admin key configured: nothing passes
    assert(!gw_auth_check(auth, "Bearer ", &actor));
    assert(!gw_auth_check(auth, "Bearer x", &actor));
    gw_auth_destroy(&auth);
}
