/*  lease.c — one writer per service: holder, standbys and epoch.  */
#include "lease.h"

#include <assert.h>
#include <czmq.h>

struct _lease_t {
    void *holder;
    bool granted;
    uint64_t epoch;
    zlist_t *standbys; //  oldest first
};

lease_t *lease_new(void)
{
    lease_t *self = calloc(1, sizeof *self);
    assert(self);
    self->standbys = zlist_new();
    return self;
}

void lease_destroy(lease_t **self_p)
{
    if (!*self_p)
        return;
    zlist_destroy(&(*self_p)->standbys);
    free(*self_p);
    *self_p = NULL;
}

bool lease_join(lease_t *self, void *worker)
{
    if (self->holder) {
        zlist_append(self->standbys, worker);
        return false;
    }
    self->holder = worker;
    self->granted = false;
    return true;
}

bool lease_leave(lease_t *self, void *worker)
{
    if (worker != self->holder) {
        zlist_remove(self->standbys, worker);
        return false;
    }
    self->holder = zlist_pop(self->standbys);
    self->granted = false;
    return true;
}

bool lease_grant(lease_t *self, void *worker, uint64_t epoch)
{
    if (!worker || worker != self->holder || epoch == 0 || epoch <= self->epoch)
        return false;
    self->epoch = epoch;
    self->granted = true;
    return true;
}

void *lease_holder(lease_t *self)
{
    return self->holder;
}

bool lease_granted(lease_t *self)
{
    return self->holder && self->granted;
}

void lease_restore(lease_t *self, uint64_t epoch)
{
    if (epoch > self->epoch)
        self->epoch = epoch;
}

uint64_t lease_epoch(lease_t *self)
{
    return self->epoch;
}

size_t lease_standbys(lease_t *self)
{
    return zlist_size(self->standbys);
}

void lease_test(void)
{
    int a, b, c; //  stand-ins for workers
    lease_t *lease = lease_new();
    assert(lease_join(lease, &a));
    assert(!lease_join(lease, &b));
    assert(!lease_join(lease, &c));
    assert(lease_holder(lease) == &a && !lease_granted(lease));
    assert(!lease_grant(lease, &b, 1)); //  not the holder
    assert(lease_grant(lease, &a, 1));
    assert(lease_granted(lease) && lease_epoch(lease) == 1);
    assert(lease_standbys(lease) == 2);

    //  A standby leaving changes nothing for the holder.
    assert(!lease_leave(lease, &c));
    assert(lease_granted(lease) && lease_standbys(lease) == 1);

    //  The holder leaving promotes the oldest standby, pending a new epoch.
    assert(lease_leave(lease, &a));
    assert(lease_holder(lease) == &b && !lease_granted(lease));
    assert(!lease_grant(lease, &b, 1)); //  epochs only grow
    assert(!lease_grant(lease, &b, 0)); //  0 means refused
    assert(lease_grant(lease, &b, 2));

    assert(lease_leave(lease, &b));
    assert(lease_holder(lease) == NULL && !lease_granted(lease));
    assert(!lease_grant(lease, NULL, 3)); //  nobody to grant to
    assert(!lease_leave(lease, &b));      //  leaving twice is harmless

    //  A vacant lease goes to the next worker that joins; epochs go on.
    assert(lease_join(lease, &c));
    assert(!lease_join(lease, &a));
    assert(!lease_leave(lease, &a)); //  a standby leaves while the holder is pending
    assert(lease_holder(lease) == &c && lease_standbys(lease) == 0);
    assert(lease_grant(lease, &c, 3) && lease_epoch(lease) == 3);
    lease_destroy(&lease);

    //  Restored after a restart: known and vacant; the next grant is later.
    lease = lease_new();
    lease_restore(lease, 7);
    assert(lease_epoch(lease) == 7 && !lease_holder(lease) && !lease_granted(lease));
    lease_restore(lease, 5); //  never back
    assert(lease_epoch(lease) == 7);
    assert(lease_join(lease, &a) && !lease_grant(lease, &a, 7) && lease_grant(lease, &a, 8));
    lease_destroy(&lease);
    assert(lease == NULL);
}
