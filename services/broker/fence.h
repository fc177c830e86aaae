/*  fence.h — who may append which event types: type ownership and the
    writer-lease epochs as the journal sees them (docs/protocol.md
    § Journal, "Ownership and fencing").

    Every service S that ever held a writer lease owns "S.", and a service
    owns the prefixes it claims: its writer lists them in READY's options
    (owns: ["customer."], rp_service_def_t.owns) and the journal records
    the claim with the grant (persisted, so it holds across restarts before
    the writer comes back); config fence/owners reserves prefixes for
    services that have not registered yet. A prefix has one owner: a claim
    that overlaps a prefix of another service (either one starting with
    the other) is refused, and with it the grant. Nothing here names a
    service: a new one needs no broker change.

    An append with owned types must come from that service's current
    writer with the current epoch of a live lease. An append that names a
    writer is checked against that writer's lease even when its types are
    unowned: a deposed writer must not append anything in its role.

    A name and an epoch are not proof: both can be read from broker.status.
    Each grant therefore makes a lease token, FENCE_TOKEN_LEN hex digits of
    128 random bits, which the broker sends only to the holder, in
    lease.granted over the connection it granted the lease to. An append
    in a writer's name must carry it; it dies with the lease (revoke, the
    next grant, a restart), since it is never persisted.

    The table lives in memory in the journal thread; the journal persists
    the epochs and claims (fence_load, fence_own at start; one epoch per
    GRANT) so that epochs grow across restarts. Every lease starts vacant
    after a restart.
*/
#ifndef RAPPORT_BROKER_FENCE_H
#define RAPPORT_BROKER_FENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FENCE_MAX_SERVICE 200 //  bytes in a service name
#define FENCE_TOKEN_LEN   32  //  hex digits of a lease token (128 bits)
#define FENCE_MAX_PREFIX  64  //  bytes in a claimed prefix
#define FENCE_MAX_CLAIMS  16  //  prefixes one writer may claim

typedef struct _fence_t fence_t;

fence_t *fence_new(void);
void fence_destroy(fence_t **self_p);

//  Restore a persisted epoch at start; the lease is vacant.
void fence_load(fence_t *self, const char *service, uint64_t epoch);

//  The next epoch of service's lease, which becomes live with it, with a
//  new token (fence_token).
uint64_t fence_grant(fence_t *self, const char *service);

//  The token of service's live lease (FENCE_TOKEN_LEN hex digits), or NULL
//  when the lease is vacant.
const char *fence_token(fence_t *self, const char *service);

//  Vacate service's lease: its epoch is refused from now on.
void fence_revoke(fence_t *self, const char *service);

//  Take back a grant of epoch that could not be persisted (so epochs still
//  grow by one per persisted grant); the lease is vacant.
void fence_ungrant(fence_t *self, const char *service, uint64_t epoch);

//  Call fn for every service that has ever been granted a lease (epoch >
//  0), with its last epoch: the broker's router learns them at start, so
//  broker.status shows a service that had a writer before a restart.
typedef void(fence_each_fn)(void *arg, const char *service, uint64_t epoch);
void fence_each(fence_t *self, fence_each_fn *fn, void *arg);

//  A prefix a service may claim: 2..FENCE_MAX_PREFIX bytes of event-type
//  characters [a-z0-9_.-], starting with a letter or digit, ending in ".".
bool fence_prefix_valid(const char *prefix, size_t len);

//  The service other than service that owns prefix or a prefix overlapping
//  it (one starts with the other; "T." of every service T counts), or NULL
//  if service may own it.
const char *fence_own_conflict(fence_t *self, const char *service, const char *prefix);

//  service owns prefix from now on. Returns 1 if it is new, 0 if service
//  owned it already, -1 (nothing changes) if it is invalid or another
//  service owns it or an overlapping one.
int fence_own(fence_t *self, const char *service, const char *prefix);

//  Take back a claim that could not be persisted.
void fence_disown(fence_t *self, const char *prefix);

//  The service that owns an event type, or NULL if nobody does: the
//  longest claimed prefix, else the longest "S." of a service known here.
const char *fence_owner(fence_t *self, const char *type, size_t type_len);

//  The verdict on one append, built by feeding it every event type.
typedef struct {
    const char *owner; //  the service owning the types seen so far, or NULL
    bool mixed;        //  types owned by two different services
} fence_claim_t;

void fence_claim_add(fence_t *self, fence_claim_t *claim, const char *type, size_t type_len);

//  The writer an append names: service name, epoch and token (NULL/0/NULL
//  when absent).
typedef struct {
    const char *name;
    size_t name_len;
    uint64_t epoch;
    const char *token;
    size_t token_len;
} fence_writer_t;

//  Check a claim against the writer it names. Returns 0 if the append may
//  go ahead, else the HTTP status with *code and *message set to static
//  strings: 403 not_owner (types of another service, or none named), 409
//  stale_epoch (lease vacant or another epoch), 403 bad_token (the live
//  epoch without its token).
int fence_check(fence_t *self, const fence_claim_t *claim, const fence_writer_t *writer,
                const char **code, const char **message);

void fence_test(void);

#endif
