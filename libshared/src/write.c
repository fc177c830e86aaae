/*  write.c — see write.h. */
#include <rapport/envelope.h>
#include <rapport/outcome.h>
#include <rapport/write.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _rp_writes_t {
    zlistx_t *writes; //  write_t in flight, owned
};

//  One write between its append and its answer.
typedef struct {
    rp_writes_t *owner;
    void *handle; //  in owner->writes
    rp_origin_t *origin;
    uint64_t seq; //  the last event's
    int wait_ms;  //  for the append's reply, then again for applying
    rp_write_applied_fn *applied;
    void *arg;
    rp_write_free_fn *free_fn;
} write_t;

rp_writes_t *rp_writes_new(void)
{
    rp_writes_t *self = calloc(1, sizeof *self);
    assert(self);
    self->writes = zlistx_new();
    return self;
}

static void s_write_free(write_t *write)
{
    rp_origin_destroy(&write->origin);
    if (write->free_fn)
        write->free_fn(write->arg);
    free(write);
}

void rp_writes_destroy(rp_writes_t **self_p)
{
    rp_writes_t *self = *self_p;
    if (!self)
        return;
    for (write_t *write = zlistx_first(self->writes); write; write = zlistx_next(self->writes))
        s_write_free(write);
    zlistx_destroy(&self->writes);
    free(self);
    *self_p = NULL;
}

static void s_finish(write_t *write)
{
    zlistx_detach(write->owner->writes, write->handle);
    s_write_free(write);
}

static void s_applied(void *arg, rp_service_t *service, bool applied)
{
    write_t *write = (write_t *)arg;
    if (applied)
        write->applied(write->arg, service, &write->origin, write->seq);
    else
        rp_service_reply_error(service, &write->origin, 504, "apply_timeout",
                               "the event was appended but not applied in time; retry");
    s_finish(write);
}

//  The journal's reply: wait for the last seq, or answer what went wrong.
static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    write_t *write = (write_t *)arg;
    (void)first;
    write->seq = last;
    if (reply->status == 200) {
        rp_service_wait(service, write->seq, write->wait_ms, s_applied, write);
        return;
    }
    rp_writes_refused(service, &write->origin, reply->status);
    s_finish(write);
}

void rp_writes_refused(rp_service_t *service, rp_origin_t **origin_p, int status)
{
    if (status == 409 || status == 403)
        rp_service_reply_error(service, origin_p, 503, "not_writer",
                               "this instance lost the lease; retry");
    else if (status == 503 || status == 504)
        rp_service_reply_error(service, origin_p, status, "journal_unavailable",
                               "the journal did not accept the append; retry");
    else
        rp_service_reply_error(service, origin_p, 500, "journal_error",
                               "the journal refused the append");
}

void rp_writes_append(rp_writes_t *self, rp_service_t *service, rp_origin_t **origin_p,
                      const rp_journal_event_t *events, size_t count, const char *idem, int wait_ms,
                      rp_write_applied_fn *applied, void *arg, rp_write_free_fn *free_fn)
{
    write_t *write = calloc(1, sizeof *write);
    assert(write);
    *write = (write_t){self, NULL, *origin_p, 0, wait_ms, applied, arg, free_fn};
    *origin_p = NULL;
    write->handle = zlistx_add_end(self->writes, write);
    if (rp_service_append(service, events, count, idem, wait_ms, s_appended, write)) {
        rp_service_reply_error(service, &write->origin, 500, "journal_error",
                               "the events could not be appended");
        s_finish(write);
    }
}

bool rp_writes_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     bool allowed, const char *forbidden_message, char idem[RP_MAX_IDEM + 1])
{
    idem[0] = 0;
    if (!allowed) {
        rp_service_reply_error(service, origin_p, 403, "forbidden", forbidden_message);
        return false;
    }
    if (req->idem) {
        int len = snprintf(idem, RP_MAX_IDEM + 1, "%s/%.*s", rp_service_name(service),
                           (int)req->idem_len, req->idem);
        if (len <= 0 || len > RP_MAX_IDEM || memchr(req->idem, 0, req->idem_len)) {
            idem[0] = 0;
            rp_service_reply_error(service, origin_p, 400, "bad_idem", "idem too long or has NUL");
            return false;
        }
    }
    if (rp_service_epoch(service) == 0) { //  between a reconnect and the next grant
        rp_service_reply_error(service, origin_p, 503, "not_writer", "no lease; retry");
        return false;
    }
    return true;
}

bool rp_writes_version_arg(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                           const msgpack_object **version_obj, uint64_t *version)
{
    *version_obj = rp_obj_get(req->args, "version");
    *version = 0;
    if (*version_obj && (*version_obj)->type == MSGPACK_OBJECT_NIL)
        *version_obj = NULL;
    if (!*version_obj || rp_obj_u64(*version_obj, version))
        return true;
    rp_service_reply_error(service, origin_p, 400, "bad_args",
                           "args.version must be an unsigned integer");
    return false;
}

void rp_writes_refusal(rp_packer_t *packer, const msgpack_object *reply_id, uint64_t seq,
                       int status, const msgpack_object *outcome, rp_write_message_fn *message)
{
    const char *code = "conflict";
    size_t code_len = 8;
    rp_obj_str(rp_obj_get(outcome, "code"), &code, &code_len);
    const msgpack_object *details = rp_obj_get(outcome, "details");
    rp_reply_pack(&packer->pk, reply_id, status, seq, 1);
    rp_pack_cstr(&packer->pk, "error");
    msgpack_pack_map(&packer->pk, details ? 3 : 2);
    rp_pack_cstr(&packer->pk, "code");
    rp_pack_strn(&packer->pk, code, code_len);
    rp_pack_kv_cstr(&packer->pk, "message", message(status, code, code_len));
    if (details)
        rp_pack_kv_obj(&packer->pk, "details", details);
}

typedef struct {
    uint64_t seq;
    const msgpack_object *reply_id;
    rp_write_message_fn *message;
    rp_write_outcome_t *outcome;
} outcome_read_t;

static int s_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    outcome_read_t *read = (outcome_read_t *)arg;
    rp_write_outcome_t *out = read->outcome;
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
    if (rp_obj_str(rp_obj_get(root, "id"), &id, &id_len) && id_len <= RP_WRITE_MAX_ID) {
        memcpy(out->id, id, id_len);
        out->id[id_len] = 0;
    }
    out->status = status >= 200 && status <= 599 ? (int)status : 500;
    if (out->status != 200)
        rp_writes_refusal(&out->refusal, read->reply_id, read->seq, out->status, root,
                          read->message);
    rp_doc_destroy(&doc);
    return 0;
}

void rp_writes_outcome(rp_store_t *store, uint64_t seq, const msgpack_object *reply_id,
                       rp_write_message_fn *message, rp_write_outcome_t *outcome)
{
    outcome->status = 0;
    outcome->id[0] = 0;
    rp_packer_init(&outcome->refusal);
    outcome_read_t read = {seq, reply_id, message, outcome};
    rp_store_read(store, s_outcome_read, &read);
}

void rp_writes_answer(const rp_write_answer_t *how, rp_service_t *service, rp_origin_t **origin_p,
                      uint64_t seq)
{
    rp_write_outcome_t outcome;
    rp_writes_outcome(rp_service_store(service), seq, rp_origin_id(*origin_p), how->message,
                      &outcome);
    if (outcome.status == 200 && how->deleted) {
        rp_packer_t p;
        rp_packer_init(&p);
        rp_reply_pack(&p.pk, rp_origin_id(*origin_p), 200, seq, 1);
        rp_pack_cstr(&p.pk, "data");
        msgpack_pack_map(&p.pk, 2);
        rp_pack_kv_cstr(&p.pk, "id", outcome.id);
        rp_pack_kv_bool(&p.pk, "deleted", true);
        rp_service_reply(service, origin_p, p.buffer.data, p.buffer.size);
        rp_packer_destroy(&p);
    } else if (outcome.status == 200)
        how->reply(service, origin_p, outcome.id, seq);
    else if (outcome.status)
        rp_service_reply(service, origin_p, outcome.refusal.buffer.data,
                         outcome.refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&outcome.refusal);
}

static void s_answer_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    rp_writes_answer((const rp_write_answer_t *)arg, service, origin_p, seq);
}

void rp_writes_append_one(rp_writes_t *self, rp_service_t *service, rp_origin_t **origin_p,
                          rp_packer_t *event, const char *idem, int wait_ms,
                          const rp_write_answer_t *how)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    rp_writes_append(self, service, origin_p, events, 1, idem, wait_ms, s_answer_applied,
                     (void *)how, NULL);
    rp_packer_destroy(event);
}

//  ---------------------------------------------------------------------
//  Self-test: the refusal reply. The append-and-wait path is proven by
//  the services' system tests (tests/system/test_customers.py,
//  test_users.py, test_replicas.py), which need a broker and a journal.

static const char *s_test_message(int status, const char *code, size_t code_len)
{
    return status == 409 && code_len == 9 && memcmp(code, "duplicate", 9) == 0 ? "taken"
                                                                               : "refused";
}

//  The reply packed for an outcome, parsed back.
static rp_doc_t *s_test_refusal(rp_packer_t *outcome, int status, rp_reply_t *reply)
{
    rp_doc_t *in = rp_doc_new(outcome->buffer.data, outcome->buffer.size, NULL);
    assert(in);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_writes_refusal(&packer, NULL, 42, status, rp_doc_root(in), s_test_message);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && !rp_reply_parse(rp_doc_root(doc), reply));
    rp_packer_destroy(&packer);
    rp_doc_destroy(&in);
    return doc;
}

const char *rp_write_message(const rp_write_message_t *table, const char *code, size_t code_len)
{
    for (const rp_write_message_t *row = table; row->code; row++)
        if (strlen(row->code) == code_len && memcmp(row->code, code, code_len) == 0)
            return row->message;
    return NULL;
}

void rp_writes_test(void)
{
    static const rp_write_message_t words[] = {{"gone", "it is gone"}, {"go", "go on"}, {NULL}};
    assert(strcmp(rp_write_message(words, "go", 2), "go on") == 0);
    assert(strcmp(rp_write_message(words, "gone", 4), "it is gone") == 0);
    assert(rp_write_message(words, "gon", 3) == NULL && rp_write_message(words, "", 0) == NULL);
    rp_packer_t outcome;
    rp_packer_init(&outcome);
    msgpack_pack_map(&outcome.pk, 3);
    rp_pack_kv_cstr(&outcome.pk, "code", "duplicate");
    rp_pack_kv_cstr(&outcome.pk, "id", "c1");
    rp_pack_cstr(&outcome.pk, "details");
    msgpack_pack_map(&outcome.pk, 1);
    rp_pack_kv_cstr(&outcome.pk, "fields", "tax_id");
    rp_reply_t reply;
    rp_doc_t *doc = s_test_refusal(&outcome, 409, &reply);
    assert(reply.status == 409 && reply.seq == 42);
    assert(reply.error_code_len == 9 && memcmp(reply.error_code, "duplicate", 9) == 0);
    assert(reply.error_message_len == 5 && memcmp(reply.error_message, "taken", 5) == 0);
    const msgpack_object *details = rp_obj_get(rp_obj_get(rp_doc_root(doc), "error"), "details");
    assert(rp_obj_streq(rp_obj_get(details, "fields"), "tax_id"));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&outcome);

    //  No code: "conflict", no details.
    rp_packer_init(&outcome);
    msgpack_pack_map(&outcome.pk, 1);
    rp_pack_kv_cstr(&outcome.pk, "id", "c1");
    doc = s_test_refusal(&outcome, 412, &reply);
    assert(reply.status == 412);
    assert(reply.error_code_len == 8 && memcmp(reply.error_code, "conflict", 8) == 0);
    assert(!rp_obj_get(rp_obj_get(rp_doc_root(doc), "error"), "details"));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&outcome);

    rp_writes_t *writes = rp_writes_new();
    rp_writes_destroy(&writes);
    assert(!writes);
}
