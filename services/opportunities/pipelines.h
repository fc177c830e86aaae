/*  pipelines.h — the pipelines' checks, events and ops
    (docs/opportunities.md § Pipelines, § Events, § Ops).

    A pipeline is stored in the `pipelines` database under its id as the
    map {id, name, team, stages, lost_reasons, version, created_at,
    updated_at}, keys in that order (pipeline.h reads it):
      name          1..100 bytes of text (no control characters)
      team          1..100 bytes of text, or nil (everyone's)
      stages        1..PIPELINE_MAX_STAGES maps {key, name, kind,
                    probability, rot_days}: key 1..64 of [a-z0-9_], unique;
                    name 1..100 bytes of text; kind "open", "won" or
                    "lost"; probability 0..100 (default: 100 for a won
                    stage, else 0); rot_days 0..3650 (default 0); at least
                    one won and one lost stage
      lost_reasons  0..PIPELINE_MAX_REASONS distinct texts of 1..100 bytes

    The same check serves the writer (client input: 422 invalid, naming
    each field, "stages[3].key") and apply (event data: 422 bad_event), so
    no event, however it reached the journal, stores a malformed pipeline.

    Events (apply rows, apply.c):
      opportunity.pipeline_created  {id, pipeline: {name, team?, stages,
                                    lost_reasons?}}        409 exists
      opportunity.pipeline_updated  {id, expected_version?, changes:
                                    {name?, team?, stages?}}
                                    404, 412, 409 stage_in_use {stage,
                                    open} when a stage removed still has
                                    open deals (stage_open)
      opportunity.lost_reasons_set  {id, expected_version?, lost_reasons}
                                    404, 412
    each 422 bad_event when its data does not check.

    Ops (rows of opportunities_handlers_ops; arg: the handlers):
      opportunities.pipelines.list    read   the pipelines the caller sees
                                             (admin all; others those of no
                                             team and of their own team;
                                             integrators and no role 403),
                                             id order, limit 1..200 (100),
                                             cursor (the last id of a page)
      opportunities.pipelines.get     read   {id}: 404 if not seen
      opportunities.pipelines.create  write  admin: {name, team?, stages,
                                             lost_reasons?}
      opportunities.pipelines.update  write  admin: {id, version?, name?,
                                             team?, stages?}
      opportunities.lost_reasons.get  read   {id}: {id, lost_reasons,
                                             version}
      opportunities.lost_reasons.set  write  admin: {id, version?,
                                             lost_reasons}: answers as get
    A write answers the pipeline as the writer then holds it. The writer
    appends the default pipeline (pipelines_seed) from its tick.
*/
#ifndef OPPORTUNITIES_PIPELINES_H
#define OPPORTUNITIES_PIPELINES_H

#include "pipeline.h"

#include <rapport/apply.h>
#include <rapport/scope.h>
#include <rapport/service.h>

#define PIPELINES_MAX_TEXT     100 //  bytes of a name, a team, a lost reason
#define PIPELINES_MAX_ROT_DAYS 3650
#define PIPELINES_MAX_ERRORS   32 //  field errors reported at most
#define PIPELINES_SEED_IDEM    "opportunities/seed/default"

//  Check a pipeline's fields (a map: create's {name, team?, stages,
//  lost_reasons?}, or an update's changes {name?, team?, stages?}; with
//  reasons false, lost_reasons is refused) skipping the keys in skip
//  (NULL-terminated, or NULL). Packs the checked fields given, in stored
//  order and with the stages' defaults, as one map into out (when no
//  error). Returns the number of errors (at most max are filled in).
int pipelines_check(const msgpack_object *fields, const char *const *skip, bool create,
                    bool reasons, msgpack_packer *out, rp_field_error_t *errors, int max);

//  Check a list of lost reasons (the field named "lost_reasons"), packing
//  it into out when it checks. Returns the number of errors.
int pipelines_check_reasons(const msgpack_object *reasons, msgpack_packer *out,
                            rp_field_error_t *errors, int max);

//  The apply rows' fns (rp_apply_fn).
rp_apply_fn pipelines_apply_created;
rp_apply_fn pipelines_apply_updated;
rp_apply_fn pipelines_apply_reasons;

//  The ops.
rp_service_op_fn pipelines_list;
rp_service_op_fn pipelines_get;
rp_service_op_fn pipelines_create;
rp_service_op_fn pipelines_update;
rp_service_op_fn pipelines_reasons_get;
rp_service_op_fn pipelines_reasons_set;

//  The seed's state on a writer.
typedef struct {
    bool in_flight; //  appended, no answer yet
    uint64_t seq;   //  its seq once appended: not again until applied
} pipelines_seed_t;

//  From the writer's tick: when this instance holds the lease, its store
//  has no default pipeline and no seed is in flight, append
//  opportunity.pipeline_created {id: "default", …} with the journal key
//  PIPELINES_SEED_IDEM (so it is appended once however many writers try).
void pipelines_seed(pipelines_seed_t *self, rp_service_t *service);

//  Pack the default pipeline's fields {name, team, stages, lost_reasons}.
void pipelines_default_pack(msgpack_packer *pk);

//  May the actor see a pipeline of team (its stored value: nil for
//  everyone's)? Admin all; readers those of no team and of their own
//  team; integrators and no role none (the rule of pipelines.get, which
//  the reports share).
bool pipelines_visible(const rp_scope_t *actor, const msgpack_object *team);

void pipelines_test(void);

#endif
