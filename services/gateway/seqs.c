/*  seqs.c — see seqs.h. */
#include "seqs.h"

#include <assert.h>
#include <czmq.h>

struct _gw_seqs_t {
    zhashx_t *by_user; //  user → uint64_t
};

gw_seqs_t *gw_seqs_new(void)
{
    gw_seqs_t *self = (gw_seqs_t *)zmalloc(sizeof *self);
    self->by_user = zhashx_new();
    zhashx_set_destructor(self->by_user, (zhashx_destructor_fn *)zstr_free);
    return self;
}

void gw_seqs_destroy(gw_seqs_t **self_p)
{
    gw_seqs_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->by_user);
    free(self);
    *self_p = NULL;
}

uint64_t gw_seqs_get(gw_seqs_t *self, const char *user)
{
    uint64_t *seq = (uint64_t *)zhashx_lookup(self->by_user, user);
    return seq ? *seq : 0;
}

void gw_seqs_saw(gw_seqs_t *self, const char *user, uint64_t seq)
{
    uint64_t *last = (uint64_t *)zhashx_lookup(self->by_user, user);
    if (!last) {
        if (zhashx_size(self->by_user) >= GW_SEQS_MAX)
            zhashx_purge(self->by_user);
        last = (uint64_t *)zmalloc(sizeof *last);
        zhashx_insert(self->by_user, user, last);
    }
    if (seq > *last)
        *last = seq;
}

void gw_seqs_clear(gw_seqs_t *self)
{
    zhashx_purge(self->by_user);
}

void gw_seqs_test(void)
{
    gw_seqs_t *seqs = gw_seqs_new();
    assert(gw_seqs_get(seqs, "ann") == 0);
    gw_seqs_saw(seqs, "ann", 7);
    gw_seqs_saw(seqs, "ann", 5); //  an older reply does not lower it
    gw_seqs_saw(seqs, "bob", 3);
    assert(gw_seqs_get(seqs, "ann") == 7);
    assert(gw_seqs_get(seqs, "bob") == 3);
    gw_seqs_clear(seqs); //  a new journal: nobody has seen anything of it
    assert(gw_seqs_get(seqs, "ann") == 0);
    gw_seqs_destroy(&seqs);
    assert(seqs == NULL);
}
