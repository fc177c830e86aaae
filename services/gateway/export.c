/*  export.c — see export.h. */
#include "export.h"
#include "csv.h"
#include "forward.h"
#include "json.h"
#include "problem.h"

#include <czmq.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <rapport/log.h>

struct _gw_exporter_t {
    gw_upstream_t *upstream;
    gw_seqs_t *seqs;
    int timeout_ms;
};

typedef struct {
    gw_exporter_t *exporter;
    const gw_export_def_t *def;
    gw_exchange_t *ex;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    json_t *args; //  the list op's args; cursor set page by page
    bool started, inflight, writing, closed;
} job_t;

gw_exporter_t *gw_exporter_new(gw_upstream_t *upstream, gw_seqs_t *seqs, int timeout_ms)
{
    gw_exporter_t *self = (gw_exporter_t *)zmalloc(sizeof *self);
    self->upstream = upstream;
    self->seqs = seqs;
    self->timeout_ms = timeout_ms;
    return self;
}

void gw_exporter_destroy(gw_exporter_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

static void s_job_destroy(job_t *job)
{
    if (job->evcon)
        evhttp_connection_set_closecb(job->evcon, NULL, NULL);
    if (job->ex)
        gw_exchange_done(&job->ex, 200);
    json_decref(job->args);
    free(job);
}

static void s_request(job_t *job);

static void s_end(job_t *job, bool complete)
{
    if (complete && job->started)
        evhttp_send_reply_end(job->req);
    else if (job->evcon) { //  cut short: no terminating chunk, the client sees it
        struct evhttp_connection *evcon = job->evcon;
        evhttp_connection_set_closecb(evcon, NULL, NULL);
        job->evcon = NULL;
        evhttp_connection_free(evcon);
    }
    s_job_destroy(job);
}

static void s_written(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    job_t *job = (job_t *)arg;
    job->writing = false;
    if (job->closed)
        s_job_destroy(job);
    else
        s_request(job);
}

//  The client went away mid-export. A request whose answer is still being
//  sent is detached from its failed connection, not freed, by libevent 2.1
//  (evhttp_connection_incoming_fail): free it here, as feedout.c does.
static void s_on_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    job_t *job = (job_t *)arg;
    if (job->req && !evhttp_request_get_connection(job->req))
        evhttp_request_free(job->req);
    job->closed = true;
    job->evcon = NULL;
    job->req = NULL;
    if (!job->inflight)
        s_job_destroy(job);
}

static void s_on_page(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    job_t *job = (job_t *)arg;
    job->inflight = false;
    if (job->closed) {
        s_job_destroy(job);
        return;
    }
    json_t *data = reply->status == 200 && reply->data ? gw_json_from_msgpack(reply->data) : NULL;
    json_t *items = json_object_get(data, "items");
    if (!json_is_array(items)) {
        if (!job->started) { //  nothing sent yet: a proper problem
            char code[40], detail[200];
            snprintf(code, sizeof code, "%.*s",
                     (int)(reply->error_code ? reply->error_code_len : 0),
                     reply->error_code ? reply->error_code : "");
            snprintf(detail, sizeof detail, "%.*s",
                     (int)(reply->error_message ? reply->error_message_len : 0),
                     reply->error_message ? reply->error_message : "");
            int status = reply->status >= 400 && reply->status <= 599 ? reply->status : 502;
            gw_problem_send(&job->ex, status, *code ? code : "bad_upstream", detail);
            s_job_destroy(job);
        } else {
            rp_warn("gateway: export cut short: %s answered %d", job->def->op, reply->status);
            s_end(job, false);
        }
        json_decref(data);
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (!job->started) {
        evhttp_add_header(evhttp_request_get_output_headers(job->req), "Content-Type",
                          "text/csv; charset=utf-8");
        char disposition[160];
        snprintf(disposition, sizeof disposition, "attachment; filename=\"%s\"",
                 job->def->filename);
        evhttp_add_header(evhttp_request_get_output_headers(job->req), "Content-Disposition",
                          disposition);
        evhttp_send_reply_start(job->req, 200, "OK");
        job->started = true;
        gw_columns_write_header(out, job->def->columns);
    }
    size_t i;
    json_t *record;
    json_array_foreach(items, i, record)
    {
        gw_columns_write_row(out, job->def->columns, record);
    }
    json_t *next = json_object_get(data, "next_cursor");
    bool more = json_is_string(next);
    if (more)
        json_object_set(job->args, "cursor", next);
    json_decref(data);
    if (evbuffer_get_length(out))
        evhttp_send_reply_chunk_with_cb(job->req, out, more ? s_written : NULL, more ? job : NULL);
    evbuffer_free(out);
    if (more)
        job->writing = true; //  s_written asks for the next page
    else
        s_end(job, true);
}

static void s_request(job_t *job)
{
    gw_exporter_t *self = job->exporter;
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    const gw_actor_t *actor = gw_exchange_actor(job->ex); //  the exchange lives as long as the job
    gw_forward_envelope(&packer.pk, id, job->def->op, gw_seqs_get(self->seqs, actor->user), NULL,
                        actor);
    gw_json_pack(job->args, &packer.pk);
    if (gw_upstream_send(self->upstream, job->def->service, id, packer.buffer.data,
                         packer.buffer.size, self->timeout_ms, s_on_page, job) == 0)
        job->inflight = true;
    else if (!job->started) {
        gw_problem_send(&job->ex, 503, "broker_unavailable", "the export could not start; retry");
        s_job_destroy(job);
    } else
        s_end(job, false);
    rp_packer_destroy(&packer);
}

void gw_export(gw_exporter_t *self, const gw_export_def_t *def, gw_exchange_t **ex_p)
{
    json_t *args = def->query(ex_p);
    if (!args)
        return;
    json_object_set_new(args, "limit", json_integer(GW_EXPORT_PAGE));
    job_t *job = (job_t *)zmalloc(sizeof *job);
    job->exporter = self;
    job->def = def;
    job->ex = *ex_p;
    *ex_p = NULL;
    job->req = gw_exchange_req(job->ex);
    job->evcon = evhttp_request_get_connection(job->req);
    job->args = args;
    evhttp_connection_set_closecb(job->evcon, s_on_closed, job);
    s_request(job);
}
