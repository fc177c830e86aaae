/*  forward.c — see forward.h. */
#include "forward.h"
#include "json.h"
#include "problem.h"

#include <czmq.h>
#include <inttypes.h>
#include <rapport/log.h>
#include <rapport/mdp.h>

struct _gw_forwarder_t {
    gw_upstream_t *upstream;
    gw_seqs_t *seqs;
    int timeout_ms;
    gw_fleet_t *fleet; //  or NULL: no fail-fast on vacant writer leases
};

//  One request between its send and its reply. A read keeps what it
//  sent, to send it once more if the instance died with it (worker_lost).
typedef struct {
    gw_forwarder_t *forwarder;
    gw_exchange_t *ex;
    gw_forward_fn *on_success;
    void *arg;
    char user[128]; //  the caller, for the seq table
    char service[64], op[64];
    char *idem;    //  a read's, or NULL
    uint8_t *args; //  a read's packed args map (a write's is not kept)
    size_t args_size;
    bool resent;
} call_t;

static void s_call_destroy(call_t **call_p)
{
    call_t *call = *call_p;
    free(call->idem);
    free(call->args);
    free(call);
    *call_p = NULL;
}

gw_forwarder_t *gw_forwarder_new(gw_upstream_t *upstream, gw_seqs_t *seqs, int timeout_ms)
{
    gw_forwarder_t *self = (gw_forwarder_t *)zmalloc(sizeof *self);
    self->upstream = upstream;
    self->seqs = seqs;
    self->timeout_ms = timeout_ms;
    return self;
}

void gw_forwarder_set_fleet(gw_forwarder_t *self, gw_fleet_t *fleet)
{
    self->fleet = fleet;
}

//  True for a write: a request to "<S>.writer".
static bool s_is_write(const char *service)
{
    return rp_mdp_base_len(service, strlen(service)) != strlen(service);
}

//  True for a write whose writer lease is known vacant, nobody waiting.
static bool s_writer_vacant(gw_forwarder_t *self, const char *service)
{
    return self->fleet && s_is_write(service) &&
           gw_fleet_writer_vacant(self->fleet, service, zclock_mono());
}

void gw_forwarder_destroy(gw_forwarder_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

//  A NUL-terminated copy of a counted string, bounded (for messages).
static char *s_strndup(const char *str, size_t len, size_t max)
{
    return strndup(str ? str : "", str ? (len < max ? len : max) : 0);
}

//  A 409 with extension members (extra, a JSON object taken over, or NULL
//  when it could not be made), never over the standard ones.
static void s_answer_extended(gw_exchange_t **ex_p, const char *code, const char *message,
                              json_t *extra)
{
    json_t *problem = gw_problem_new(409, code, message, NULL);
    size_t size = 0;
    char *text = NULL;
    if (problem && json_is_object(extra) && json_object_update_missing(problem, extra) == 0)
        text = gw_json_dump(problem, &size);
    json_decref(problem);
    json_decref(extra);
    if (text)
        gw_exchange_send(ex_p, 409, "application/problem+json", text, size);
    else
        gw_problem_send(ex_p, 409, code, message);
    free(text);
}

//  A conflict names what clashed: `fields` and the clashing records' ids.
static void s_answer_conflict(gw_exchange_t **ex_p, const char *code, const char *message,
                              const msgpack_object *fields, const msgpack_object *ids)
{
    json_t *fields_json = gw_json_from_msgpack(fields), *ids_json = gw_json_from_msgpack(ids);
    json_t *extra = fields_json && ids_json
                        ? json_pack("{s:O, s:O}", "fields", fields_json, "matches", ids_json)
                        : NULL;
    json_decref(fields_json);
    json_decref(ids_json);
    s_answer_extended(ex_p, code, message, extra);
}

static void s_answer_error(gw_exchange_t **ex_p, const rp_reply_t *reply,
                           const msgpack_object *root)
{
    char *code = s_strndup(reply->error_code, reply->error_code_len, 64);
    char *message = s_strndup(reply->error_message, reply->error_message_len, 1024);
    //  Only a stable code of [a-z0-9_] goes out; anything else is the service's bug.
    if (!*code || strspn(code, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(code)) {
        free(code);
        code = strdup("service_error");
    }
    json_t *errors = NULL;
    const msgpack_object *details = root ? rp_obj_get(rp_obj_get(root, "error"), "details") : NULL;
    const msgpack_object *list = details ? rp_obj_get(details, "errors") : NULL;
    if (rp_obj_is_array(list))
        errors = gw_json_from_msgpack(list);
    const msgpack_object *fields = details ? rp_obj_get(details, "fields") : NULL;
    const msgpack_object *ids = details ? rp_obj_get(details, "ids") : NULL;
    if (reply->status == 409 && rp_obj_is_array(fields) && rp_obj_is_array(ids)) {
        json_decref(errors);
        s_answer_conflict(ex_p, code, message, fields, ids);
    } else if (reply->status == 409 && !errors && rp_obj_is_map(details)) {
        //  Any other map of details (stage_in_use's {stage, open}): its
        //  members as they are.
        s_answer_extended(ex_p, code, message, gw_json_from_msgpack(details));
    } else
        gw_problem_send_errors(ex_p, reply->status, code, message, errors);
    free(code);
    free(message);
}

static int s_send(call_t *call, const char *idem, const void *args, size_t args_size);

//  A read whose instance died before answering (the broker's 503
//  worker_lost, after the instance's heartbeats stopped): any other
//  instance can answer it, once. Writes are not resent: the caller
//  retries them with their Idempotency-Key.
static bool s_resend(call_t *call, const rp_reply_t *reply)
{
    if (call->resent || s_is_write(call->service) || reply->status != 503 ||
        reply->error_code_len != 11 || memcmp(reply->error_code, "worker_lost", 11) != 0)
        return false;
    call->resent = true;
    rp_info("gateway: %s lost with its instance; sending it once more", call->op);
    return s_send(call, call->idem, call->args, call->args_size) == 0;
}

static void s_answer(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    call_t *call = (call_t *)arg;
    if (s_resend(call, reply))
        return; //  answered when the new reply comes
    gw_exchange_t *ex = call->ex;
    if (reply->seq > 0) {
        gw_seqs_saw(call->forwarder->seqs, call->user, reply->seq);
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, reply->seq);
        gw_exchange_add_header(ex, "X-Rapport-Seq", seq);
    }
    if (reply->status < 200 || reply->status > 599)
        gw_problem_send(&ex, 502, "bad_upstream", "the service answered an invalid status");
    else if (reply->status >= 400 || reply->error_code)
        s_answer_error(&ex, reply, root);
    else {
        json_t *body = reply->data ? gw_json_from_msgpack(reply->data) : json_object();
        gw_exchange_set_cursor(ex, reply->cursor);
        if (body && call->on_success)
            call->on_success(call->arg, &ex, reply->status, body);
        else if (body)
            gw_exchange_send_json(&ex, reply->status, body);
        else
            gw_problem_send(&ex, 502, "bad_upstream",
                            "the service answered data that JSON cannot represent");
    }
    s_call_destroy(&call);
}

void gw_forward(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service, const char *op,
                const char *idem, const void *args, size_t args_size)
{
    gw_forward_then(self, ex_p, service, op, idem, args, args_size, NULL, NULL);
}

void gw_forward_then(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, const void *args, size_t args_size,
                     gw_forward_fn *on_success, void *arg)
{
    if (s_writer_vacant(self, service)) {
        //  The broker would hold it in its queue for a writer that is not
        //  coming (request_timeout_ms), then answer 503: answer now.
        gw_problem_send(ex_p, 503, "no_writer", "the service has no writer now; retry shortly");
        return;
    }
    call_t *call = (call_t *)zmalloc(sizeof *call);
    call->forwarder = self;
    call->ex = *ex_p;
    *ex_p = NULL;
    call->on_success = on_success;
    call->arg = arg;
    snprintf(call->user, sizeof call->user, "%s", gw_exchange_actor(call->ex)->user);
    snprintf(call->service, sizeof call->service, "%s", service);
    snprintf(call->op, sizeof call->op, "%s", op);
    if (!s_is_write(service)) { //  kept for s_resend
        call->idem = idem ? strdup(idem) : NULL;
        call->args = (uint8_t *)malloc(args_size ? args_size : 1);
        memcpy(call->args, args, args_size);
        call->args_size = args_size;
    }
    if (s_send(call, idem, args, args_size)) {
        rp_warn("gateway: could not send %s to %s", op, service);
        gw_exchange_t *ex = call->ex;
        s_call_destroy(&call);
        gw_problem_send(&ex, 503, "broker_unavailable", "the request could not be sent; retry");
    }
}

void gw_forward_envelope(msgpack_packer *pk, uint64_t id, const char *op, uint64_t min_seq,
                         const char *idem, const gw_actor_t *actor)
{
    rp_request_pack(pk, id, op, min_seq, idem, 2);
    rp_pack_cstr(pk, "actor");
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "user", actor->user);
    rp_pack_kv_cstr(pk, "role", actor->role);
    rp_pack_kv_cstr(pk, "team", actor->team);
    rp_pack_cstr(pk, "args");
}

//  Pack the request envelope {id, op, actor, min_seq?, idem?, args} with
//  a new id and the caller's last seq, and send it.
static int s_send(call_t *call, const char *idem, const void *args, size_t args_size)
{
    gw_forwarder_t *self = call->forwarder;
    const gw_actor_t *actor = gw_exchange_actor(call->ex);
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    gw_forward_envelope(&packer.pk, id, call->op, gw_seqs_get(self->seqs, actor->user), idem,
                        actor);
    msgpack_sbuffer_write(&packer.buffer, (const char *)args, args_size);
    int rc = gw_upstream_send(self->upstream, call->service, id, packer.buffer.data,
                              packer.buffer.size, self->timeout_ms, s_answer, call);
    rp_packer_destroy(&packer);
    return rc;
}

void gw_forward_json(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, json_t *args, gw_forward_fn *on_success,
                     void *arg)
{
    if (!args) { //  json_pack refused a value: never for checked UTF-8, still answer
        gw_problem_send(ex_p, 400, "bad_args", "the request cannot be represented");
        return;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    int rc = gw_json_pack(args, &packer.pk); //  depth checked by gw_request_body
    json_decref(args);
    if (rc)
        gw_problem_send(ex_p, 400, "bad_json", "the body nests too deeply");
    else
        gw_forward_then(self, ex_p, service, op, idem && *idem ? idem : NULL, packer.buffer.data,
                        packer.buffer.size, on_success, arg);
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  Self-test: through rp_testbroker to an echo worker and back (testkit.h).

#include "testkit.h"

//  The handler: the path names the service and op ("/t.writer/t.echo");
//  arg is where the forwarder is (made after the kit, whose upstream it takes).
static void s_test_handler(void *arg, gw_exchange_t **ex_p)
{
    gw_forwarder_t *self = *(gw_forwarder_t **)arg;
    const char *path = evhttp_request_get_uri(gw_exchange_req(*ex_p));
    char service[64] = "", op[64] = "";
    sscanf(path, "/%63[^/]/%63s", service, op);
    json_t *args = streq(op, "none") ? NULL : json_pack("{s:i, s:s}", "a", 1, "b", "北京");
    bool write = strchr(service, '.') != NULL;
    gw_forward_json(self, ex_p, service, op, write ? "ana:k1" : NULL, args, NULL, NULL);
}

//  GET path: the answer's status, content type and problem code as expected.
static json_t *s_test_get(gw_testkit_t *kit, const char *path, int status, const char *code,
                          gw_testkit_answer_t *answer)
{
    gw_testkit_request(kit, "GET", path, NULL, NULL, answer);
    char type[64] = "";
    gw_testkit_header(answer, "Content-Type", type, sizeof type);
    if (answer->status != status || !answer->json) {
        fprintf(stderr, "forward test: %s: %d %s\n", path, answer->status, answer->body);
        assert(false);
    }
    assert(streq(type, code ? "application/problem+json" : "application/json"));
    if (code)
        assert(streq(json_string_value(json_object_get(answer->json, "code")), code));
    return answer->json;
}

void gw_forwarder_test(void)
{
    gw_forwarder_t *self = NULL;
    gw_testkit_t *kit = gw_testkit_new(s_test_handler, &self);
    self = gw_forwarder_new(gw_testkit_upstream(kit), gw_testkit_seqs(kit), 5000);
    gw_testkit_answer_t answer;
    char seq[24];

    //  A read: the envelope's op and args, no seq, min_seq 0 (nothing seen).
    json_t *data = s_test_get(kit, "/t/t.echo", 200, NULL, &answer);
    assert(streq(json_string_value(json_object_get(data, "op")), "t.echo"));
    assert(json_integer_value(json_object_get(json_object_get(data, "args"), "a")) == 1);
    assert(streq(json_string_value(json_object_get(json_object_get(data, "args"), "b")), "北京"));
    assert(json_is_null(json_object_get(data, "idem")) &&
           !gw_testkit_header(&answer, "X-Rapport-Seq", seq, sizeof seq));
    assert(json_integer_value(json_object_get(data, "min_seq")) == 0);
    gw_testkit_answer_free(&answer);

    //  A write: its idem goes along, its seq comes back, and the caller's
    //  next request asks for that seq (read your writes).
    data = s_test_get(kit, "/t.writer/t.echo", 200, NULL, &answer);
    assert(streq(json_string_value(json_object_get(data, "idem")), "ana:k1"));
    assert(gw_testkit_header(&answer, "X-Rapport-Seq", seq, sizeof seq) && streq(seq, "7"));
    gw_testkit_answer_free(&answer);
    data = s_test_get(kit, "/t/t.echo", 200, NULL, &answer);
    assert(json_integer_value(json_object_get(data, "min_seq")) == 7);
    assert(gw_seqs_get(gw_testkit_seqs(kit), "ana") == 7);
    gw_testkit_answer_free(&answer);

    //  Errors: field errors, a conflict's fields and matches, other details
    //  of a conflict, a bad status.
    data = s_test_get(kit, "/t/t.fail", 422, "invalid", &answer);
    assert(json_array_size(json_object_get(data, "errors")) == 1);
    assert(streq(json_string_value(
                     json_object_get(json_array_get(json_object_get(data, "errors"), 0), "field")),
                 "f"));
    gw_testkit_answer_free(&answer);
    data = s_test_get(kit, "/t/t.conflict", 409, "duplicate", &answer);
    assert(streq(json_string_value(json_array_get(json_object_get(data, "fields"), 0)), "tax_id"));
    assert(streq(json_string_value(json_array_get(json_object_get(data, "matches"), 0)), "c1"));
    gw_testkit_answer_free(&answer);
    data = s_test_get(kit, "/t/t.in_use", 409, "stage_in_use", &answer);
    assert(streq(json_string_value(json_object_get(data, "stage")), "demo"));
    assert(json_integer_value(json_object_get(data, "open")) == 2);
    gw_testkit_answer_free(&answer);
    s_test_get(kit, "/t/t.status", 502, "bad_upstream", &answer);
    gw_testkit_answer_free(&answer);
    s_test_get(kit, "/t/none", 400, "bad_args", &answer);
    gw_testkit_answer_free(&answer);

    //  A read whose instance was lost is sent once more; a write is not.
    data = s_test_get(kit, "/t/t.lost", 200, NULL, &answer);
    assert(streq(json_string_value(json_object_get(data, "op")), "t.lost"));
    gw_testkit_answer_free(&answer);

    gw_forwarder_destroy(&self);
    gw_testkit_destroy(&kit);
}
