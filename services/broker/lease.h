/*  lease.h — one writer per service: holder, standbys and epoch.

    A lease is the right to append a service's own events. Workers that
    register for "<service>.writer" join the lease: the first becomes the
    holder, the others wait as standbys, oldest first. The holder's epoch
    comes from the journal (which persists it) and is set by lease_grant;
    until then the holder is "pending" and gets no requests. When the
    holder leaves, the oldest standby becomes the pending holder.

    Workers are opaque pointers here: the router owns them.
*/
#ifndef RAPPORT_BROKER_LEASE_H
#define RAPPORT_BROKER_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _lease_t lease_t;

lease_t *lease_new(void);
void lease_destroy(lease_t **self_p);

//  A worker joins. Returns true if it became the (pending) holder: the
//  caller must then ask the journal for an epoch.
bool lease_join(lease_t *self, void *worker);

//  A worker leaves. Returns true if it was the holder: the caller must tell
//  the journal (REVOKE) and, if lease_holder() is now not NULL, ask for an
//  epoch for the promoted standby.
bool lease_leave(lease_t *self, void *worker);

//  The journal granted epoch to worker. Returns false (and changes nothing)
//  if worker is no longer the holder or the epoch is 0 (refused).
bool lease_grant(lease_t *self, void *worker, uint64_t epoch);

//  The last epoch granted before a restart (the journal keeps it): the
//  lease is known, vacant, until a worker joins. Ignored if the lease has
//  seen that epoch or a later one.
void lease_restore(lease_t *self, uint64_t epoch);

//  The holder (NULL if none), and whether its epoch was granted.
void *lease_holder(lease_t *self);
bool lease_granted(lease_t *self);
uint64_t lease_epoch(lease_t *self); //  the last epoch granted
size_t lease_standbys(lease_t *self);

void lease_test(void);

#endif
