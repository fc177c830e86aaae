/*  pipeline.h — a pipeline and its ordered stages (docs/opportunities.md
    § Pipelines), as stored in the `pipelines` database, and the lookups
    the deals make in it (apply, the writer's checks, lists and reports).

    A pipeline_t is read from the stored map in one go (pipeline_load):
    its strings borrow from a private copy of the stored bytes it owns
    until pipeline_release, so it stays valid across puts in the same
    transaction.
*/
#ifndef OPPORTUNITIES_PIPELINE_H
#define OPPORTUNITIES_PIPELINE_H

#include <rapport/pack.h>
#include <rapport/store.h>

#include <stdbool.h>
#include <stddef.h>

#define PIPELINE_DEFAULT_ID  "default"
#define PIPELINE_MAX_STAGES  200
#define PIPELINE_MAX_REASONS 100
#define PIPELINE_MAX_KEY     64

typedef enum { PIPELINE_OPEN, PIPELINE_WON, PIPELINE_LOST } pipeline_kind_t;

typedef struct {
    const char *key;
    size_t key_len;
    const char *name;
    size_t name_len;
    pipeline_kind_t kind;
    unsigned probability; //  0..100
    unsigned rot_days;    //  0: never stale
} pipeline_stage_t;

typedef struct {
    rp_doc_t *doc; //  owns the bytes the fields borrow from
    void *bytes;   //  the private copy of the stored value
    const char *id;
    size_t id_len;
    const char *team; //  NULL: everyone's
    size_t team_len;
    uint64_t version;
    size_t stage_count;
    pipeline_stage_t stages[PIPELINE_MAX_STAGES];
    size_t reason_count;
    const msgpack_object *reasons; //  reason_count strings
} pipeline_t;

//  Load pipeline id. 0, MDB_NOTFOUND, or -1 for a stored value that does
//  not decode (a corrupt store). Release it in every case.
int pipeline_load(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, pipeline_t *self);
void pipeline_release(pipeline_t *self);

//  The stage with this key (and its position in the order), or NULL.
const pipeline_stage_t *pipeline_stage(const pipeline_t *self, const char *key, size_t len,
                                       size_t *index);

//  The first stage of kind open (a new deal's default stage), or NULL.
const pipeline_stage_t *pipeline_first_open(const pipeline_t *self);

//  Is reason one of the pipeline's lost reasons?
bool pipeline_has_reason(const pipeline_t *self, const char *reason, size_t len);

//  The kind's wire name ("open", "won", "lost").
const char *pipeline_kind_name(pipeline_kind_t kind);

void pipeline_test(void);

#endif
