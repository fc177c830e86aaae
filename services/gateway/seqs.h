/*  seqs.h — the last journal seq each caller has seen.

    Every reply that carries a seq raises the caller's entry; every request
    sends it as min_seq, so a service instance holds the caller's read
    until it has applied that seq: each caller reads its own writes, on
    whichever instance serves the read. Keyed by the authenticated user.
*/
#ifndef GW_SEQS_H
#define GW_SEQS_H

#include <stdint.h>

//  Callers remembered at most; beyond it the table starts over (a caller
//  then loses read-your-writes for one read, nothing else).
#define GW_SEQS_MAX 100000

typedef struct _gw_seqs_t gw_seqs_t;

gw_seqs_t *gw_seqs_new(void);
void gw_seqs_destroy(gw_seqs_t **self_p);

//  The caller's last seq, 0 if none.
uint64_t gw_seqs_get(gw_seqs_t *self, const char *user);

//  Raise the caller's last seq to seq (never lowers it).
void gw_seqs_saw(gw_seqs_t *self, const char *user, uint64_t seq);

//  Forget every caller's seq (they counted in a journal that is gone).
void gw_seqs_clear(gw_seqs_t *self);

void gw_seqs_test(void);

#endif
