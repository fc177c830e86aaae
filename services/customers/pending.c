/*  pending.c — see pending.h. */
#include "pending.h"
#include "apply.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _pending_t {
    zlistx_t *writes;            //  pending_write_t in flight, owned
    pending_message_fn *message; //  what people read for a refusal
};

typedef struct {
    pending_t *owner;
    void *handle; //  in owner->writes
    rp_origin_t *origin;
    uint64_t seq; //  the last event's
    pending_done_fn *done;
    char ref[PENDING_MAX_REF + 1];
} pending_write_t;

pending_t *pending_new(pending_message_fn *message)
{
    pending_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = zlistx_new();
    self->message = message;
    return self;
}

static void s_pending_free(pending_write_t *write)
{
    rp_origin_destroy(&write->origin);
    free(write);
}

void pending_destroy(pending_t **self_p)
{
    pending_t *self = *self_p;
    if (!self)
        return;
    for (pending_write_t *w = zlistx_first(self->writes); w; w = zlistx_next(self->writes))
        s_pending_free(w);
    zlistx_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

static void s_pending_finish(pending_write_t *write)
{
    zlistx_detach(write->owner->writes, write->handle);
    s_pending_free(write);
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
    if (apply_outcome_get(store, txn, read->seq, &value) == 0)
        doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return 0;
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t status = 0;
    const char *id, *code = "conflict";
    size_t id_len, code_len = 8;
    rp_obj_u64(rp_obj_get(root, "status"), &status);
    rp_obj_str(rp_obj_get(root, "code"), &code, &code_len);
    if (rp_obj_str(rp_obj_get(root, "id"), &id, &id_len) && id_len <= APPLY_MAX_ID) {
        memcpy(read->id, id, id_len);
        read->id[id_len] = 0;
    }
    read->status = status >= 200 && status <= 599 ? (int)status : 500;
    if (read->status != 200) {
        rp_packer_t *packer = read->refusal;
        const msgpack_object *details = rp_obj_get(root, "details");
        rp_reply_pack(&packer->pk, read->reply_id, read->status, read->seq, 1);
        rp_pack_cstr(&packer->pk, "error");
        msgpack_pack_map(&packer->pk, details ? 3 : 2);
        rp_pack_cstr(&packer->pk, "code");
        rp_pack_strn(&packer->pk, code, code_len);
        rp_pack_kv_cstr(&packer->pk, "message", read->message(read->status, code, code_len));
        if (details)
            rp_pack_kv_obj(&packer->pk, "details", details);
    }
    rp_doc_destroy(&doc);
    return 0;
}

static void s_pending_applied(void *arg, rp_service_t *service, bool applied)
{
    pending_write_t *write = (pending_write_t *)arg;
    if (!applied) {
        rp_service_reply_error(service, &write->origin, 504, "apply_timeout",
                               "the event was appended but not applied in time; retry");
        s_pending_finish(write);
        return;
    }
    rp_packer_t refusal;
    rp_packer_init(&refusal);
    pending_outcome_t read = {
        write->seq, rp_origin_id(write->origin), write->owner->message, &refusal, 0, ""};
    rp_store_read(rp_service_store(service), s_pending_outcome_read, &read);
    if (read.status == 200)
        write->done(service, &write->origin, write->seq, read.id, write->ref);
    else if (read.status)
        rp_service_reply(service, &write->origin, refusal.buffer.data, refusal.buffer.size);
    else
        rp_service_reply_error(service, &write->origin, 500, "no_outcome",
                               "the event left no outcome");
    rp_packer_destroy(&refusal);
    s_pending_finish(write);
}

static void s_pending_appended(void *arg, rp_service_t *service, const rp_reply_t *reply)
{
    pending_write_t *write = (pending_write_t *)arg;
    uint64_t first;
    if (rp_journal_append_seqs(reply, &first, &write->seq, NULL)) {
        rp_service_wait(service, write->seq, PENDING_WAIT_MS, s_pending_applied, write);
        return;
    }
    int status = reply->status;
    if (status == 409 || status == 403)
        rp_service_reply_error(service, &write->origin, 503, "not_writer",
                               "this instance lost the lease; retry");
    else if (status == 503 || status == 504)
        rp_service_reply_error(service, &write->origin, status, "journal_unavailable",
                               "the journal did not accept the append; retry");
    else
        rp_service_reply_error(service, &write->origin, 500, "journal_error",
                               "the journal refused the append");
    s_pending_finish(write);
}

void pending_append(pending_t *self, rp_service_t *service, rp_origin_t **origin_p,
                    const rp_journal_event_t *events, size_t count, const char *idem,
                    const char *ref, pending_done_fn *done)
{
    pending_write_t *write = calloc(1, sizeof *write);
    assert(write);
    write->owner = self;
    write->origin = *origin_p;
    *origin_p = NULL;
    write->done = done;
    snprintf(write->ref, sizeof write->ref, "%s", ref ? ref : "");
    write->handle = zlistx_add_end(self->writes, write);
    if (rp_service_append(service, events, count, idem && idem[0] ? idem : NULL, PENDING_WAIT_MS,
                          s_pending_appended, write)) {
        rp_service_reply_error(service, &write->origin, 503, "journal_unavailable",
                               "could not send the append; retry");
        s_pending_finish(write);
    }
}
