/*  pending.c — see pending.h. */
#include "pending.h"
#include "apply.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _pending_t {
    rp_writes_t *writes;         //  in flight (rp_writes: append, wait, errors)
    pending_message_fn *message; //  what people read for a refusal
};

//  What a write needs once applied.
typedef struct {
    pending_t *owner;
    pending_done_fn *done;
    char ref[PENDING_MAX_REF + 1];
} pending_write_t;

pending_t *pending_new(pending_message_fn *message)
{
    pending_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = rp_writes_new();
    self->message = message;
    return self;
}

void pending_destroy(pending_t **self_p)
{
    pending_t *self = *self_p;
    if (!self)
        return;
    rp_writes_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

static void s_pending_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p,
                              uint64_t seq)
{
    pending_write_t *write = (pending_write_t *)arg;
    rp_write_outcome_t outcome;
    rp_writes_outcome(rp_service_store(service), seq, rp_origin_id(*origin_p),
                      write->owner->message, &outcome);
    if (outcome.status == 200)
        write->done(service, origin_p, seq, outcome.id, write->ref);
    else if (outcome.status)
        rp_service_reply(service, origin_p, outcome.refusal.buffer.data,
                         outcome.refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&outcome.refusal);
}

bool pending_write_allowed(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                           const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1])
{
    return rp_writes_admit(service, origin_p, req, rp_scope_may_write(actor),
                           "this role cannot change customers", idem);
}

void pending_append(pending_t *self, rp_service_t *service, rp_origin_t **origin_p,
                    const rp_journal_event_t *events, size_t count, const char *idem,
                    const char *ref, pending_done_fn *done)
{
    pending_write_t *write = calloc(1, sizeof *write);
    assert(write);
    write->owner = self;
    write->done = done;
    snprintf(write->ref, sizeof write->ref, "%s", ref ? ref : "");
    rp_writes_append(self->writes, service, origin_p, events, count, idem, PENDING_WAIT_MS,
                     s_pending_applied, write, free);
}
