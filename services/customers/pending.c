/*  pending.c — see pending.h. */
#include "pending.h"
#include "apply.h"

#include <rapport/outcome.h>

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

typedef struct {
    uint64_t seq;
    const msgpack_object *reply_id;
    pending_message_fn *message;
    rp_packer_t *refusal; //  the whole error reply, when not 200
    int status;
    char id[APPLY_MAX_ID + 1];
} pending_outcome_t;

static int s_pending_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    pending_outcome_t *read = (pending_outcome_t *)arg;
    MDB_val value;
    rp_doc_t *doc = NULL;
    if (rp_outcome_get(store, txn, read->seq, &value) == 0)
        doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return 0;
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t status = 0;
    const char *id;
    size_t id_len;
    rp_obj_u64(rp_obj_get(root, "status"), &status);
    if (rp_obj_str(rp_obj_get(root, "id"), &id, &id_len) && id_len <= APPLY_MAX_ID) {
        memcpy(read->id, id, id_len);
        read->id[id_len] = 0;
    }
    read->status = status >= 200 && status <= 599 ? (int)status : 500;
    if (read->status != 200)
        rp_writes_refusal(read->refusal, read->reply_id, read->seq, read->status, root,
                          read->message);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_pending_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p,
                              uint64_t seq)
{
    pending_write_t *write = (pending_write_t *)arg;
    rp_packer_t refusal;
    rp_packer_init(&refusal);
    pending_outcome_t read = {seq, rp_origin_id(*origin_p), write->owner->message, &refusal, 0, ""};
    rp_store_read(rp_service_store(service), s_pending_outcome_read, &read);
    if (read.status == 200)
        write->done(service, origin_p, seq, read.id, write->ref);
    else if (read.status)
        rp_service_reply(service, origin_p, refusal.buffer.data, refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&refusal);
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
