/*  import.c — see import.h. */
#include "import.h"
#include "csv.h"
#include "forward.h"
#include "intake.h"
#include "json.h"
#include "problem.h"

#include <czmq.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sys/queue.h> //  before keyvalq_struct.h: TAILQ_INIT
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <rapport/log.h>
#include <sodium.h>
#include <strings.h>

#define LINE_MAX_BYTES (1024 * 1024) //  one NDJSON line

struct _gw_importer_t {
    struct event_base *base;
    gw_intake_t *intake;
    gw_upstream_t *upstream;
    gw_seqs_t *seqs;
    size_t max_bytes;
    int timeout_ms;
    zlistx_t *jobs; //  job_t, owned
};

//  Rows waiting to be sent, packed one after another.
typedef struct {
    rp_packer_t rows;
    size_t count;
} batch_t;

//  One import request, from its route to its answer.
typedef struct {
    gw_importer_t *importer;
    const gw_import_def_t *def;
    gw_intake_conn_t *conn; //  its body; NULL once released or gone
    gw_exchange_t *ex;
    struct event *later; //  answers after the connection went
    bool ndjson, upsert, dry_run;
    char user[128], role[32], team[128];
    char session[33];
    //  a whole-request failure
    int status;
    char code[40], detail[200];
    json_t *errors;
    size_t received;
    //  parsing
    gw_csv_t *csv;
    int columns[GW_CSV_FIELDS_MAX];
    size_t column_count;
    bool header_done;
    struct evbuffer *line; //  NDJSON: the partial line
    size_t line_no;
    //  batches
    batch_t *fill;
    zlistx_t *queue; //  batch_t, owned
    bool inflight, body_done, final_sent, paused;
    //  the report
    uint64_t created, updated, skipped, rejected_total, last_seq;
    json_t *rejected;
} job_t;

static batch_t *s_batch_new(void)
{
    batch_t *batch = (batch_t *)zmalloc(sizeof *batch);
    rp_packer_init(&batch->rows);
    return batch;
}

static void s_batch_destroy(batch_t **batch_p)
{
    if (*batch_p) {
        rp_packer_destroy(&(*batch_p)->rows);
        free(*batch_p);
        *batch_p = NULL;
    }
}

static void s_job_destroy(job_t **job_p)
{
    job_t *job = *job_p;
    if (job->conn)
        gw_intake_release(job->conn);
    if (job->ex) //  never answered (the gateway is stopping)
        gw_exchange_done(&job->ex, 503);
    if (job->later)
        event_free(job->later);
    gw_csv_destroy(&job->csv);
    if (job->line)
        evbuffer_free(job->line);
    s_batch_destroy(&job->fill);
    for (batch_t *b = (batch_t *)zlistx_first(job->queue); b;
         b = (batch_t *)zlistx_next(job->queue))
        s_batch_destroy(&b);
    zlistx_destroy(&job->queue);
    json_decref(job->errors);
    json_decref(job->rejected);
    free(job);
    *job_p = NULL;
}

static void s_job_remove(job_t *job)
{
    void *handle = zlistx_find(job->importer->jobs, job);
    if (handle)
        zlistx_detach(job->importer->jobs, handle);
    s_job_destroy(&job);
}

//  The whole request fails (the first failure wins); stop parsing.
static void s_fail(job_t *job, int status, const char *code, const char *detail, json_t *errors)
{
    if (job->status) {
        json_decref(errors);
        return;
    }
    job->status = status;
    snprintf(job->code, sizeof job->code, "%s", code);
    snprintf(job->detail, sizeof job->detail, "%s", detail);
    job->errors = errors;
    s_batch_destroy(&job->fill);
    for (batch_t *b = (batch_t *)zlistx_first(job->queue); b;
         b = (batch_t *)zlistx_next(job->queue))
        s_batch_destroy(&b);
    zlistx_purge(job->queue);
}

//  ---------------------------------------------------------------------
//  Rows

static void s_reject(job_t *job, size_t line, const char *field, const char *code,
                     const char *message)
{
    job->rejected_total++;
    if (json_array_size(job->rejected) < GW_IMPORT_REJECTED_MAX)
        json_array_append_new(job->rejected, json_pack("{s:I, s:[{s:s, s:s, s:s}]}", "line",
                                                       (json_int_t)line, "errors", "field", field,
                                                       "code", code, "message", message));
}

static void s_pump(job_t *job);

//  Queue the filling batch; stop reading while the queue is full.
static void s_flush(job_t *job)
{
    if (!job->fill || job->fill->count == 0)
        return;
    zlistx_add_end(job->queue, job->fill);
    job->fill = NULL;
    if (zlistx_size(job->queue) >= GW_IMPORT_QUEUE)
        job->paused = true; //  the intake stops reading (s_sink_data)
    s_pump(job);
}

//  Add {line, record} to the filling batch.
static void s_row(job_t *job, size_t line, json_t *record)
{
    if (!job->fill)
        job->fill = s_batch_new();
    msgpack_packer *pk = &job->fill->rows.pk;
    msgpack_pack_map(pk, 2);
    rp_pack_kv_u64(pk, "line", line);
    rp_pack_cstr(pk, "record");
    if (gw_json_pack(record, pk)) { //  nests too deeply: checked on parse, keep it whole
        msgpack_pack_map(pk, 0);
    }
    job->fill->count++;
    if (job->fill->count >= GW_IMPORT_BATCH || job->fill->rows.buffer.size >= GW_IMPORT_BATCH_BYTES)
        s_flush(job);
}

static void s_header(job_t *job, const char *const *fields, const size_t *lens, size_t count,
                     const char *error)
{
    json_t *errors = json_array();
    if (error || count == 0)
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "field", "", "code",
                                                error ? error : "invalid", "message",
                                                "the header row cannot be read"));
    const gw_columns_t *table = job->def->columns;
    char unknown[80];
    snprintf(unknown, sizeof unknown, "not a %s field this import accepts", table->noun);
    for (size_t i = 0; !error && i < count; i++) {
        int column = gw_columns_index(table, fields[i], lens[i]);
        for (size_t j = 0; column >= 0 && j < i; j++)
            if (job->columns[j] == column)
                column = -2;
        job->columns[i] = column;
        if (column < 0)
            json_array_append_new(errors,
                                  json_pack("{s:s%, s:s, s:s}", "field", fields[i], lens[i], "code",
                                            column == -1 ? "unknown" : "duplicate", "message",
                                            column == -1 ? unknown : "the column appears twice"));
    }
    job->column_count = count;
    job->header_done = true;
    if (json_array_size(errors))
        s_fail(job, 422, "invalid", "the CSV header names columns this import does not accept",
               errors);
    else
        json_decref(errors);
}

static bool s_csv_record(void *arg, size_t line, const char *const *fields, const size_t *lens,
                         size_t count, const char *error)
{
    job_t *job = (job_t *)arg;
    if (job->status)
        return false;
    if (!job->header_done) {
        s_header(job, fields, lens, count, error);
        return !job->status;
    }
    if (error) {
        s_reject(job, line, "", error,
                 strcmp(error, "encoding") == 0   ? "a field is not valid UTF-8"
                 : strcmp(error, "too_long") == 0 ? "the row is too long"
                                                  : "the row is not valid CSV");
        return true;
    }
    if (count != job->column_count) {
        char message[80];
        snprintf(message, sizeof message, "expected %zu fields, found %zu", job->column_count,
                 count);
        s_reject(job, line, "", "csv_syntax", message);
        return true;
    }
    json_t *record = json_object();
    const char *bad = NULL, *code = NULL;
    for (size_t i = 0; i < count && !bad; i++) {
        if (lens[i] == 0)
            continue; //  an empty cell leaves the field unset
        const gw_column_t *column = &job->def->columns->columns[job->columns[i]];
        json_t *value = gw_column_value(column, fields[i], lens[i], &code);
        if (!value)
            bad = column->name;
        else
            json_object_set_new(record, column->name, value);
    }
    if (bad)
        s_reject(job, line, bad, code, "the value cannot be read for this column");
    else
        s_row(job, line, record);
    json_decref(record);
    return !job->status;
}

static void s_ndjson_line(job_t *job, const char *text, size_t len)
{
    size_t line = ++job->line_no;
    if (len && text[len - 1] == '\r')
        len--;
    size_t blank = 0;
    while (blank < len && (text[blank] == ' ' || text[blank] == '\t'))
        blank++;
    if (blank == len)
        return;
    char err[160];
    json_t *record = gw_json_parse(text, len, err, sizeof err);
    if (!record || !json_is_object(record))
        s_reject(job, line, "", "bad_json", record ? "a line must hold one JSON object" : err);
    else
        s_row(job, line, record);
    json_decref(record);
}

static void s_ndjson_feed(job_t *job, const char *data, size_t size)
{
    while (size && !job->status) {
        const char *nl = (const char *)memchr(data, '\n', size);
        size_t n = nl ? (size_t)(nl - data) : size;
        if (evbuffer_get_length(job->line) + n > LINE_MAX_BYTES) {
            s_fail(job, 422, "invalid", "an NDJSON line is over 1 MiB", NULL);
            return;
        }
        if (!nl) {
            evbuffer_add(job->line, data, n);
            return;
        }
        if (evbuffer_get_length(job->line)) {
            evbuffer_add(job->line, data, n);
            size_t len = evbuffer_get_length(job->line);
            s_ndjson_line(job, (const char *)evbuffer_pullup(job->line, -1), len);
            evbuffer_drain(job->line, len);
        } else
            s_ndjson_line(job, data, n);
        data += n + 1;
        size -= n + 1;
    }
}

static void s_feed(job_t *job, const char *data, size_t size)
{
    if (job->status)
        return;
    job->received += size;
    if (job->received > job->importer->max_bytes) {
        char detail[120];
        snprintf(detail, sizeof detail, "an import body is at most %zu bytes",
                 job->importer->max_bytes);
        s_fail(job, 413, "too_large", detail, NULL);
        return;
    }
    if (job->ndjson)
        s_ndjson_feed(job, data, size);
    else
        gw_csv_feed(job->csv, data, size);
}

//  ---------------------------------------------------------------------
//  Batches to the writer

static void s_answer(job_t *job);

static void s_merge(job_t *job, const msgpack_object *data)
{
    uint64_t n = 0;
    if (rp_obj_u64(rp_obj_get(data, "created"), &n))
        job->created += n;
    if (rp_obj_u64(rp_obj_get(data, "updated"), &n))
        job->updated += n;
    if (rp_obj_u64(rp_obj_get(data, "skipped"), &n))
        job->skipped += n;
    const msgpack_object *rejected = rp_obj_get(data, "rejected");
    for (uint32_t i = 0; rp_obj_is_array(rejected) && i < rejected->via.array.size; i++) {
        job->rejected_total++;
        json_t *item = json_array_size(job->rejected) < GW_IMPORT_REJECTED_MAX
                           ? gw_json_from_msgpack(&rejected->via.array.ptr[i])
                           : NULL;
        if (item)
            json_array_append_new(job->rejected, item);
    }
}

static void s_on_reply(void *arg, const rp_reply_t *reply, const msgpack_object *root)
{
    (void)root;
    job_t *job = (job_t *)arg;
    job->inflight = false;
    if (reply->seq > job->last_seq)
        job->last_seq = reply->seq;
    if (reply->status == 200 && reply->data)
        s_merge(job, reply->data);
    else {
        char code[40], detail[200];
        snprintf(code, sizeof code, "%.*s", (int)(reply->error_code ? reply->error_code_len : 0),
                 reply->error_code ? reply->error_code : "");
        snprintf(detail, sizeof detail, "%s refused a batch: %.*s", job->def->service,
                 (int)(reply->error_message ? reply->error_message_len : 0),
                 reply->error_message ? reply->error_message : "");
        bool retryable = reply->status == 503 || reply->status == 504;
        s_fail(job, retryable ? reply->status : 502, *code ? code : "import_failed", detail, NULL);
    }
    if (job->paused && zlistx_size(job->queue) < GW_IMPORT_QUEUE) {
        job->paused = false;
        if (job->conn && !job->status)
            gw_intake_resume(job->conn);
    }
    s_pump(job);
    s_answer(job);
}

static void s_send(job_t *job, batch_t *batch, bool final)
{
    gw_importer_t *self = job->importer;
    uint64_t id = gw_upstream_next_id(self->upstream);
    rp_packer_t packer;
    rp_packer_init(&packer);
    //  The job's own copy of the actor: it is made before its exchange.
    gw_forward_envelope(&packer.pk, id, job->def->op, 0, NULL,
                        &(gw_actor_t){job->user, job->role, job->team});
    msgpack_pack_map(&packer.pk, 5);
    rp_pack_kv_cstr(&packer.pk, "session", job->session);
    rp_pack_kv_cstr(&packer.pk, "mode", job->upsert ? "upsert" : "create");
    rp_pack_kv_bool(&packer.pk, "dry_run", job->dry_run);
    rp_pack_kv_bool(&packer.pk, "final", final);
    rp_pack_cstr(&packer.pk, "rows");
    msgpack_pack_array(&packer.pk, batch ? batch->count : 0);
    if (batch)
        msgpack_sbuffer_write(&packer.buffer, batch->rows.buffer.data, batch->rows.buffer.size);
    if (gw_upstream_send(self->upstream, job->def->service, id, packer.buffer.data,
                         packer.buffer.size, self->timeout_ms, s_on_reply, job) == 0)
        job->inflight = true;
    else
        s_fail(job, 503, "broker_unavailable", "the import could not be sent; retry", NULL);
    rp_packer_destroy(&packer);
}

//  Send the next batch if none is in flight; the last one says final.
static void s_pump(job_t *job)
{
    if (job->inflight || job->status || job->final_sent)
        return;
    batch_t *batch = (batch_t *)zlistx_first(job->queue);
    bool last = job->body_done && zlistx_size(job->queue) <= 1;
    if (!batch && !last)
        return;
    if (batch)
        zlistx_detach_cur(job->queue);
    job->final_sent = last;
    s_send(job, batch, last);
    s_batch_destroy(&batch);
}

static int s_line_order(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "line"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "line"));
    return x < y ? -1 : x > y;
}

//  Answer once the body is complete and the last batch is back.
static void s_answer(job_t *job)
{
    if (!job->ex || job->inflight || (!job->status && !job->final_sent))
        return;
    if (job->last_seq) {
        gw_seqs_saw(job->importer->seqs, job->user, job->last_seq);
        char seq[24];
        snprintf(seq, sizeof seq, "%" PRIu64, job->last_seq);
        gw_exchange_add_header(job->ex, "X-Rapport-Seq", seq);
    }
    if (job->status)
        gw_problem_send_errors(&job->ex, job->status, job->code, job->detail,
                               json_incref(job->errors));
    else {
        size_t n = json_array_size(job->rejected);
        json_t **items = (json_t **)calloc(n ? n : 1, sizeof *items);
        assert(items);
        for (size_t i = 0; i < n; i++)
            items[i] = json_incref(json_array_get(job->rejected, i));
        qsort(items, n, sizeof *items, s_line_order);
        json_t *rejected = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(rejected, items[i]);
        free(items);
        gw_exchange_send_json(
            &job->ex, 200,
            json_pack("{s:I, s:I, s:I, s:o, s:I, s:b}", "created", (json_int_t)job->created,
                      "updated", (json_int_t)job->updated, "skipped", (json_int_t)job->skipped,
                      "rejected", rejected, "rejected_total", (json_int_t)job->rejected_total,
                      "dry_run", job->dry_run));
    }
    if (job->conn) { //  the rest of the body, if any, is dropped
        gw_intake_release(job->conn);
        job->conn = NULL;
    }
    s_job_remove(job);
}

//  ---------------------------------------------------------------------
//  Setting a job up from the request's headers

static bool s_query_flag(const char *value, bool *out)
{
    if (!value)
        return true;
    *out = strcmp(value, "true") == 0;
    return *out || strcmp(value, "false") == 0;
}

static void s_setup(job_t *job, struct evhttp_request *req)
{
    const char *type = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    size_t type_len = type ? strcspn(type, "; ") : 0;
    if (type && type_len == 8 && strncasecmp(type, "text/csv", 8) == 0)
        job->ndjson = false;
    else if (type && ((type_len == 20 && strncasecmp(type, "application/x-ndjson", 20) == 0) ||
                      (type_len == 18 && strncasecmp(type, "application/ndjson", 18) == 0)))
        job->ndjson = true;
    else {
        s_fail(job, 415, "unsupported_media_type",
               "send text/csv (with a header row) or application/x-ndjson", NULL);
        return;
    }
    if (type[type_len] && strcasestr(type + type_len, "charset") &&
        !strcasestr(type + type_len, "utf-8")) {
        s_fail(job, 415, "unsupported_media_type", "the body must be UTF-8", NULL);
        return;
    }
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    const char *raw = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    json_t *errors = json_array();
    if (raw && evhttp_parse_query_str(raw, &query) == 0) {
        for (struct evkeyval *kv = query.tqh_first; kv; kv = kv->next.tqe_next) {
            bool ok = true;
            if (strcmp(kv->key, "mode") == 0) {
                job->upsert = strcmp(kv->value, "upsert") == 0;
                ok = (job->upsert && !job->def->create_only) || strcmp(kv->value, "create") == 0;
            } else if (strcmp(kv->key, "dry_run") == 0)
                ok = s_query_flag(kv->value, &job->dry_run);
            else
                ok = false;
            if (!ok)
                json_array_append_new(
                    errors,
                    json_pack("{s:s, s:s, s:s}", "field", kv->key, "code", "invalid", "message",
                              job->def->create_only ? "mode is create (these records have no "
                                                      "key to upsert by); dry_run true or false"
                                                    : "mode is create or upsert; dry_run true or "
                                                      "false; nothing else is asked"));
        }
    } else if (raw)
        json_array_append_new(errors, json_pack("{s:s, s:s, s:s}", "field", "", "code", "invalid",
                                                "message", "the query string cannot be read"));
    evhttp_clear_headers(&query);
    if (json_array_size(errors))
        s_fail(job, 422, "invalid", "some query parameters are not valid", errors);
    else
        json_decref(errors);
}

//  ---------------------------------------------------------------------
//  The body, from the intake

//  The body is complete: the last line or record, then the last batch.
static void s_body_end(job_t *job)
{
    if (!job->status) {
        if (job->ndjson) {
            size_t len = evbuffer_get_length(job->line);
            if (len)
                s_ndjson_line(job, (const char *)evbuffer_pullup(job->line, -1), len);
        } else
            gw_csv_finish(job->csv);
        if (!job->status && !job->header_done && !job->ndjson)
            s_fail(job, 422, "invalid", "the CSV has no header row", NULL);
    }
    s_flush(job);
    job->body_done = true;
    s_pump(job);
    s_answer(job);
}

static bool s_sink_data(void *arg, const char *data, size_t size)
{
    job_t *job = (job_t *)arg;
    s_feed(job, data, size);
    if (job->status) {
        s_answer(job); //  now, or when the batch in flight is back
        return false;
    }
    return !job->paused;
}

static void s_sink_end(void *arg, bool ok)
{
    job_t *job = (job_t *)arg;
    if (!ok)
        s_fail(job, 400, "bad_request", "the body's chunked coding is malformed", NULL);
    s_body_end(job);
}

static void s_answer_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_answer((job_t *)arg);
}

//  The connection went: what was sent stays sent; the answer goes nowhere
//  (from the loop: evhttp may be freeing the request right now).
static void s_sink_closed(void *arg)
{
    job_t *job = (job_t *)arg;
    job->conn = NULL;
    if (!job->body_done) {
        s_fail(job, 400, "closed", "the connection closed before the body ended", NULL);
        job->body_done = true;
    }
    event_active(job->later, EV_TIMEOUT, 1);
}

static const gw_intake_sink_t s_sink = {s_sink_data, s_sink_end, s_sink_closed};

//  ---------------------------------------------------------------------

gw_importer_t *gw_importer_new(struct event_base *base, struct evhttp *http,
                               gw_upstream_t *upstream, gw_seqs_t *seqs, size_t max_bytes,
                               int timeout_ms)
{
    //  A body dropped after its answer is read up to max_bytes more.
    gw_intake_t *intake = gw_intake_new(base, http, max_bytes);
    if (!intake)
        return NULL;
    gw_importer_t *self = (gw_importer_t *)zmalloc(sizeof *self);
    self->base = base;
    self->intake = intake;
    self->upstream = upstream;
    self->seqs = seqs;
    self->max_bytes = max_bytes;
    self->timeout_ms = timeout_ms;
    self->jobs = zlistx_new();
    return self;
}

void gw_importer_destroy(gw_importer_t **self_p)
{
    gw_importer_t *self = *self_p;
    if (!self)
        return;
    for (job_t *j = (job_t *)zlistx_first(self->jobs); j; j = (job_t *)zlistx_next(self->jobs))
        s_job_destroy(&j);
    zlistx_destroy(&self->jobs);
    gw_intake_destroy(&self->intake);
    free(self);
    *self_p = NULL;
}

void gw_importer_add(gw_importer_t *self, const gw_import_def_t *def)
{
    gw_intake_take(self->intake, def->path, def);
}

void gw_importer_seen(gw_importer_t *self, struct evhttp_request *req)
{
    gw_intake_seen(self->intake, req);
}

void gw_import_finish(gw_importer_t *self, gw_exchange_t **ex_p)
{
    struct evhttp_request *req = gw_exchange_req(*ex_p);
    const gw_actor_t *actor = gw_exchange_actor(*ex_p);
    job_t *job = (job_t *)zmalloc(sizeof *job);
    job->importer = self;
    job->ex = *ex_p;
    *ex_p = NULL;
    job->queue = zlistx_new();
    job->rejected = json_array();
    job->line = evbuffer_new();
    job->csv = gw_csv_new(s_csv_record, job);
    job->later = event_new(self->base, -1, 0, s_answer_later, job);
    assert(job->later);
    unsigned char random[16];
    randombytes_buf(random, sizeof random);
    for (size_t i = 0; i < 16; i++)
        snprintf(job->session + 2 * i, 3, "%02x", random[i]);
    snprintf(job->user, sizeof job->user, "%s", actor->user ? actor->user : "");
    snprintf(job->role, sizeof job->role, "%s", actor->role ? actor->role : "");
    snprintf(job->team, sizeof job->team, "%s", actor->team ? actor->team : "");
    zlistx_add_end(self->jobs, job);
    job->conn = gw_intake_claim(self->intake, req, &s_sink, job);
    if (!job->conn) { //  evhttp read it: streaming is broken, say so rather than buffer
        rp_error("gateway: an import reached its route without the intake: not streamed");
        s_fail(job, 500, "import_not_streamed",
               "the import could not be streamed, so it was not read; report this", NULL);
        job->body_done = job->final_sent = true;
        s_answer(job);
        return;
    }
    job->def = (const gw_import_def_t *)gw_intake_tag(job->conn);
    const char *refused = gw_intake_refused(job->conn);
    if (refused)
        s_fail(job, 400, "bad_request", refused, NULL);
    else
        s_setup(job, req);
    if (job->status)
        s_answer(job);
    else
        gw_intake_continue(job->conn); //  a client waiting for 100 Continue sends the body now
}
