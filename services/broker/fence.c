/*  fence.c — event-type ownership and writer-lease epochs (see fence.h).  */
#include "fence.h"

#include <rapport/envelope.h>
#include <rapport/random.h>

#include <assert.h>
#include <czmq.h>
#include <sodium.h>
#include <string.h>

typedef struct {
    uint64_t epoch;                  //  the last epoch granted (persisted by the journal)
    bool live;                       //  a holder has that epoch now
    char token[FENCE_TOKEN_LEN + 1]; //  while live: the holder's proof
} lease_t;

struct _fence_t {
    zhashx_t *leases; //  service name → lease_t
    zhashx_t *owners; //  claimed prefix → service name
};

static void s_lease_destroy(void **item)
{
    sodium_memzero(*item, sizeof(lease_t));
    free(*item);
    *item = NULL;
}

fence_t *fence_new(void)
{
    fence_t *self = calloc(1, sizeof *self);
    assert(self);
    self->leases = zhashx_new();
    zhashx_set_destructor(self->leases, s_lease_destroy);
    self->owners = zhashx_new();
    zhashx_set_destructor(self->owners, (zhashx_destructor_fn *)zstr_free);
    zhashx_set_duplicator(self->owners, (zhashx_duplicator_fn *)strdup);
    return self;
}

void fence_destroy(fence_t **self_p)
{
    fence_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->leases);
    zhashx_destroy(&self->owners);
    free(self);
    *self_p = NULL;
}

static lease_t *s_lease(fence_t *self, const char *service)
{
    lease_t *lease = zhashx_lookup(self->leases, service);
    if (!lease) {
        lease = calloc(1, sizeof *lease);
        assert(lease);
        zhashx_insert(self->leases, service, lease);
    }
    return lease;
}

static void s_vacate(lease_t *lease)
{
    lease->live = false;
    sodium_memzero(lease->token, sizeof lease->token);
}

void fence_load(fence_t *self, const char *service, uint64_t epoch)
{
    lease_t *lease = s_lease(self, service);
    if (epoch > lease->epoch)
        lease->epoch = epoch;
    s_vacate(lease);
}

void fence_each(fence_t *self, fence_each_fn *fn, void *arg)
{
    for (lease_t *lease = zhashx_first(self->leases); lease; lease = zhashx_next(self->leases))
        if (lease->epoch > 0)
            fn(arg, (const char *)zhashx_cursor(self->leases), lease->epoch);
}

uint64_t fence_grant(fence_t *self, const char *service)
{
    lease_t *lease = s_lease(self, service);
    lease->epoch++;
    lease->live = true;
    uint8_t bytes[FENCE_TOKEN_LEN / 2];
    rp_random_bytes(bytes, sizeof bytes);
    sodium_bin2hex(lease->token, sizeof lease->token, bytes, sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
    return lease->epoch;
}

const char *fence_token(fence_t *self, const char *service)
{
    lease_t *lease = zhashx_lookup(self->leases, service);
    return lease && lease->live ? lease->token : NULL;
}

void fence_revoke(fence_t *self, const char *service)
{
    lease_t *lease = zhashx_lookup(self->leases, service);
    if (lease)
        s_vacate(lease);
}

void fence_ungrant(fence_t *self, const char *service, uint64_t epoch)
{
    lease_t *lease = zhashx_lookup(self->leases, service);
    if (!lease)
        return;
    if (lease->epoch == epoch && epoch > 0)
        lease->epoch--;
    s_vacate(lease);
}

bool fence_prefix_valid(const char *prefix, size_t len)
{
    //  (cppcheck takes the self-test's short literals for every caller.)
    // cppcheck-suppress arrayIndexOutOfBoundsCond
    return len >= 2 && len <= FENCE_MAX_PREFIX && prefix[len - 1] == '.' && prefix[0] != '.' &&
           rp_event_type_valid(prefix, len);
}

//  One of a and b starts with the other.
static bool s_overlap(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return memcmp(a, b, a_len < b_len ? a_len : b_len) == 0;
}

const char *fence_own_conflict(fence_t *self, const char *service, const char *prefix)
{
    size_t len = strlen(prefix);
    for (const char *owner = zhashx_first(self->owners); owner; owner = zhashx_next(self->owners)) {
        const char *claimed = zhashx_cursor(self->owners);
        if (!streq(owner, service) && s_overlap(prefix, len, claimed, strlen(claimed)))
            return owner;
    }
    for (void *lease = zhashx_first(self->leases); lease; lease = zhashx_next(self->leases)) {
        const char *name = zhashx_cursor(self->leases);
        size_t name_len = strlen(name);
        //  "T." against the prefix: T and then a dot.
        if (!streq(name, service) && s_overlap(prefix, len, name, name_len) &&
            (len <= name_len || prefix[name_len] == '.'))
            return name;
    }
    return NULL;
}

int fence_own(fence_t *self, const char *service, const char *prefix)
{
    if (!fence_prefix_valid(prefix, strlen(prefix)) || fence_own_conflict(self, service, prefix))
        return -1;
    if (zhashx_lookup(self->owners, prefix))
        return 0;
    zhashx_insert(self->owners, prefix, (void *)service);
    lease_t *known = s_lease(self, service); //  a known service: it owns "S." as well
    return known ? 1 : -1;
}

void fence_disown(fence_t *self, const char *prefix)
{
    zhashx_delete(self->owners, prefix);
}

static bool s_has_prefix(const char *type, size_t type_len, const char *name, size_t name_len)
{
    return type_len > name_len && type[name_len] == '.' && memcmp(type, name, name_len) == 0;
}

const char *fence_owner(fence_t *self, const char *type, size_t type_len)
{
    const char *owner = NULL;
    size_t owner_len = 0;
    for (const char *service = zhashx_first(self->owners); service;
         service = zhashx_next(self->owners)) {
        const char *prefix = zhashx_cursor(self->owners);
        size_t len = strlen(prefix);
        if (len > owner_len && type_len >= len && memcmp(type, prefix, len) == 0)
            owner = service, owner_len = len;
    }
    if (owner)
        return owner;
    //  Service names may hold dots ("a.b"): the longest matching name wins.
    for (void *lease = zhashx_first(self->leases); lease; lease = zhashx_next(self->leases)) {
        const char *name = zhashx_cursor(self->leases);
        size_t len = strlen(name);
        if (len > owner_len && s_has_prefix(type, type_len, name, len))
            owner = name, owner_len = len;
    }
    return owner;
}

void fence_claim_add(fence_t *self, fence_claim_t *claim, const char *type, size_t type_len)
{
    const char *owner = fence_owner(self, type, type_len);
    if (!owner)
        return;
    if (!claim->owner)
        claim->owner = owner;
    else if (strcmp(claim->owner, owner) != 0)
        claim->mixed = true;
}

int fence_check(fence_t *self, const fence_claim_t *claim, const fence_writer_t *writer,
                const char **code, const char **message)
{
    if (claim->mixed) {
        *code = "not_owner";
        *message = "one append cannot carry event types owned by different services";
        return 403;
    }
    if (claim->owner && !writer->name) {
        *code = "not_owner";
        *message = "these event types are owned by a service: give its writer, epoch and token";
        return 403;
    }
    if (claim->owner && !(strlen(claim->owner) == writer->name_len &&
                          memcmp(claim->owner, writer->name, writer->name_len) == 0)) {
        *code = "not_owner";
        *message = "these event types are owned by another service than the writer";
        return 403;
    }
    if (!writer->name)
        return 0;
    char name[FENCE_MAX_SERVICE + 1];
    lease_t *lease = NULL;
    if (writer->name_len <= FENCE_MAX_SERVICE && !memchr(writer->name, 0, writer->name_len)) {
        memcpy(name, writer->name, writer->name_len);
        name[writer->name_len] = 0;
        lease = zhashx_lookup(self->leases, name);
    }
    if (!lease || !lease->live || writer->epoch != lease->epoch) {
        *code = "stale_epoch";
        *message = lease && lease->live ? "epoch is not the current epoch of the writer lease"
                                        : "the writer lease is vacant";
        return 409;
    }
    //  Constant time: a peer must not learn the token a digit at a time.
    if (!writer->token || writer->token_len != FENCE_TOKEN_LEN ||
        sodium_memcmp(writer->token, lease->token, FENCE_TOKEN_LEN) != 0) {
        *code = "bad_token";
        *message = "the append does not carry the token of the writer lease";
        return 403;
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Self-test

//  The verdict on one event of type, named writer (NULL: none), epoch and
//  token (NULL: none; "live": the lease's own).
static int s_check_token(fence_t *fence, const char *type, const char *writer, uint64_t epoch,
                         const char *token)
{
    fence_claim_t claim = {0};
    fence_claim_add(fence, &claim, type, strlen(type));
    if (token && streq(token, "live"))
        token = writer ? fence_token(fence, writer) : NULL;
    fence_writer_t named = {writer, writer ? strlen(writer) : 0, epoch, token,
                            token ? strlen(token) : 0};
    const char *code, *message;
    return fence_check(fence, &claim, &named, &code, &message);
}

static int s_check(fence_t *fence, const char *type, const char *writer, uint64_t epoch)
{
    return s_check_token(fence, type, writer, epoch, "live");
}

//  Claims: valid prefixes, one owner each, overlaps refused either way.
static void s_test_claims(void)
{
    fence_t *fence = fence_new();
    assert(fence_prefix_valid("customer.", 9) && fence_prefix_valid("a.b-c_d.", 8));
    const char *invalid[] = {"", ".", "customer", ".x.", "Customer.", "a b.", "x\xff."};
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++)
        assert(!fence_prefix_valid(invalid[i], strlen(invalid[i])));
    assert(fence_owner(fence, "customer.created", 16) == NULL); //  nothing built in
    assert(fence_own(fence, "customers", "customer.") == 1);
    assert(fence_own(fence, "customers", "customer.") == 0);
    assert(fence_own(fence, "customers", "contact.") == 1);
    assert(streq(fence_owner(fence, "contact.added", 13), "customers"));
    //  Known by its claim: customers owns "customers." too.
    assert(streq(fence_owner(fence, "customers.x", 11), "customers"));
    //  Overlaps, either way, and another service's "S.".
    assert(fence_own(fence, "evil", "customer.") == -1);
    assert(fence_own(fence, "evil", "customer.vip.") == -1);
    assert(fence_own(fence, "evil", "customers.") == -1 && fence_own(fence, "evil", "c.") == 1);
    assert(streq(fence_own_conflict(fence, "evil", "customer.x."), "customers"));
    assert(fence_own(fence, "evil", "customerx.") == 1); //  not an overlap
    assert(fence_own(fence, "customers", "evil.") == -1);
    assert(fence_own(fence, "x", "bad") == -1);
    //  The longest claim wins; a claim beats a service's "S.".
    fence_load(fence, "order", 1);
    assert(fence_own(fence, "orders", "order.") == -1); //  "order." is order's
    assert(fence_own(fence, "order", "order.vip.") == 1);
    assert(streq(fence_owner(fence, "order.vip.x", 11), "order"));
    fence_disown(fence, "contact.");
    assert(fence_owner(fence, "contact.added", 13) == NULL);
    assert(fence_own(fence, "users", "contact.") == 1);
    fence_destroy(&fence);
}

void fence_test(void)
{
    s_test_claims();
    fence_t *fence = fence_new();
    assert(fence_own(fence, "customers", "customer.") == 1);
    assert(fence_own(fence, "users", "user.") == 1);
    assert(streq(fence_owner(fence, "customer.created", 16), "customers"));
    assert(streq(fence_owner(fence, "customers.x", 11), "customers"));
    assert(streq(fence_owner(fence, "user.created", 12), "users"));
    assert(fence_owner(fence, "order.placed", 12) == NULL);
    assert(fence_owner(fence, "x.y", 3) == NULL);
    assert(fence_owner(fence, "customer", 8) == NULL);

    assert(s_check(fence, "order.placed", NULL, 0) == 0);
    assert(s_check(fence, "customer.created", NULL, 0) == 403);
    assert(s_check(fence, "customer.created", "customers", 0) == 409);
    assert(fence_token(fence, "customers") == NULL);
    uint64_t epoch = fence_grant(fence, "customers");
    assert(epoch == 1);
    assert(s_check(fence, "customer.created", "customers", 1) == 0);
    assert(s_check(fence, "customer.created", "customers", 2) == 409);
    assert(s_check(fence, "customer.created", "reminders", 1) == 403);

    //  The name and the epoch are not enough: a forger without the token
    //  is refused, for owned types and for anything in the writer's name.
    char token[FENCE_TOKEN_LEN + 1];
    snprintf(token, sizeof token, "%s", fence_token(fence, "customers"));
    assert(strlen(token) == FENCE_TOKEN_LEN && strspn(token, "0123456789abcdef") == strlen(token));
    char forged[FENCE_TOKEN_LEN + 1];
    snprintf(forged, sizeof forged, "%s", token);
    forged[FENCE_TOKEN_LEN - 1] = forged[FENCE_TOKEN_LEN - 1] == '0' ? '1' : '0';
    assert(s_check_token(fence, "customer.created", "customers", 1, NULL) == 403);
    assert(s_check_token(fence, "customer.created", "customers", 1, "") == 403);
    assert(s_check_token(fence, "customer.created", "customers", 1, forged) == 403);
    assert(s_check_token(fence, "customer.created", "customers", 1, "00") == 403);
    assert(s_check_token(fence, "order.placed", "customers", 1, forged) == 403);
    assert(s_check_token(fence, "customer.created", "customers", 1, token) == 0);

    fence_revoke(fence, "customers");
    assert(fence_token(fence, "customers") == NULL);
    assert(s_check_token(fence, "customer.created", "customers", 1, token) == 409);
    epoch = fence_grant(fence, "customers");
    fence_ungrant(fence, "customers", epoch);
    assert(s_check(fence, "customer.created", "customers", 2) == 409);
    epoch = fence_grant(fence, "customers");
    assert(epoch == 2);
    assert(s_check(fence, "customer.created", "customers", 1) == 409);
    assert(s_check(fence, "customer.created", "customers", 2) == 0);
    //  A new grant makes a new token: the old one is worth nothing.
    assert(!streq(fence_token(fence, "customers"), token));
    assert(s_check_token(fence, "customer.created", "customers", 2, token) == 403);

    //  A service known by its lease owns "S."; the longest name wins.
    fence_load(fence, "x", 4);
    fence_load(fence, "x.y", 1);
    assert(streq(fence_owner(fence, "x.z", 3), "x"));
    assert(streq(fence_owner(fence, "x.y.z", 5), "x.y"));
    epoch = fence_grant(fence, "x");
    assert(epoch == 5);
    assert(s_check(fence, "x.thing", "x", 5) == 0);
    //  A named writer is checked even for unowned types.
    assert(s_check(fence, "order.placed", "x", 4) == 409);
    //  A restart (fence_load) vacates the lease and its token.
    fence_load(fence, "x", 5);
    assert(fence_token(fence, "x") == NULL && s_check(fence, "x.thing", "x", 5) == 409);
    epoch = fence_grant(fence, "x");

    fence_claim_t claim = {0};
    fence_claim_add(fence, &claim, "customer.a", 10);
    fence_claim_add(fence, &claim, "x.a", 3);
    const char *code, *message;
    fence_writer_t x = {"x", 1, epoch, fence_token(fence, "x"), FENCE_TOKEN_LEN};
    int status = fence_check(fence, &claim, &x, &code, &message);
    assert(status == 403 && streq(code, "not_owner"));
    fence_destroy(&fence);
}
