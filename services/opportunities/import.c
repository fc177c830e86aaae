/*  import.c — see import.h. */
#include "import.h"
#include "deals.h"
#include "handlers.h"
#include "opportunity.h"

#include <rapport/event.h>
#include <rapport/import.h>
#include <rapport/outcome.h>
#include <rapport/random.h>
#include <rapport/write.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMPORT_WAIT_MS 30000

//  One batch between its request and its reply.
typedef struct {
    rp_scope_t actor;
    bool dry_run;
    rp_import_report_t report;
    rp_packer_t events; //  the accepted rows' events, one after another
    size_t event_count;
    size_t event_ends[DEALS_IMPORT_MAX];
    uint32_t event_lines[DEALS_IMPORT_MAX];
    const msgpack_object *rows;
} batch_t;

static batch_t *s_batch_new(void)
{
    batch_t *self = calloc(1, sizeof *self);
    assert(self);
    rp_import_report_init(&self->report);
    rp_packer_init(&self->events);
    return self;
}

static void s_batch_free(void *arg)
{
    batch_t *self = (batch_t *)arg;
    rp_import_report_destroy(&self->report);
    rp_packer_destroy(&self->events);
    free(self);
}

//  One row: checked as a create; accepted, its event packed.
static void s_row(batch_t *batch, rp_store_t *store, MDB_txn *txn, const msgpack_object *row)
{
    uint64_t line = 0;
    rp_obj_u64(rp_obj_get(row, "line"), &line);
    const msgpack_object *fields = rp_obj_get(row, "record");
    rp_field_error_t errors[OPPORTUNITY_MAX_ERRORS];
    rp_record_t deal;
    opportunity_init(&deal);
    int count = rp_obj_is_map(fields) ? deals_check(&batch->actor, fields, true, &deal, errors,
                                                    OPPORTUNITY_MAX_ERRORS)
                                      : -1;
    if (count < 0)
        rp_import_reject_one(&batch->report, (uint32_t)line, "record", "type",
                             "a row is an object of fields");
    else if (count)
        rp_import_reject(&batch->report, (uint32_t)line, errors, count);
    else if (!deals_customer_visible(store, txn, &batch->actor, &deal))
        rp_import_reject_one(&batch->report, (uint32_t)line, "customer_id", "unknown_customer",
                             deals_refusal_message(422, "unknown_customer", 16));
    else {
        char id[RP_ID_SIZE];
        rp_id_format(id);
        msgpack_packer *pk = &batch->events.pk;
        rp_event_open(pk, "opportunity.created", "opportunities", id, strlen(id), &batch->actor);
        msgpack_pack_map(pk, 2);
        rp_pack_kv_cstr(pk, "id", id);
        rp_pack_cstr(pk, "record");
        rp_record_pack_given(&deal, pk);
        batch->event_lines[batch->event_count] = (uint32_t)line;
        batch->event_ends[batch->event_count++] = batch->events.buffer.size;
        batch->report.created++;
    }
    rp_record_reset(&deal);
}

static int s_rows_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    for (uint32_t i = 0; i < batch->rows->via.array.size; i++)
        s_row(batch, store, txn, &batch->rows->via.array.ptr[i]);
    return 0;
}

//  Rows whose event apply refused: rejected with the outcome's code.
typedef struct {
    batch_t *batch;
    uint64_t first;
} outcomes_t;

static const char *s_code_field(const char *code)
{
    static const char *const fields[][2] = {{"unknown_customer", "customer_id"},
                                            {"unknown_pipeline", "pipeline_id"},
                                            {"unknown_stage", "stage"},
                                            {"lost_reason_required", "lost_reason"},
                                            {"unknown_lost_reason", "lost_reason"}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i][0], code) == 0)
            return fields[i][1];
    return "";
}

static int s_outcomes_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    outcomes_t *read = (outcomes_t *)arg;
    batch_t *batch = read->batch;
    for (size_t i = 0; i < batch->event_count; i++) {
        char code[40];
        int status = rp_outcome_status(store, txn, read->first + i, code, sizeof code);
        if (status == 200)
            continue;
        if (!status) //  cannot happen: the write waited until applied
            snprintf(code, sizeof code, "no_outcome");
        batch->report.created--;
        rp_import_reject_one(&batch->report, batch->event_lines[i], s_code_field(code), code,
                             deals_refusal_message(status, code, strlen(code)));
    }
    return 0;
}

static void s_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    batch_t *batch = (batch_t *)arg;
    outcomes_t read = {batch, seq + 1 - batch->event_count};
    rp_store_read(rp_service_store(service), s_outcomes_read, &read);
    rp_import_report_reply(&batch->report, service, origin_p, seq);
}

//  args: mode "create", rows an array of at most DEALS_IMPORT_MAX.
static bool s_args_check(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                         batch_t *batch)
{
    const msgpack_object *mode = rp_obj_get(req->args, "mode");
    const msgpack_object *dry = rp_obj_get(req->args, "dry_run");
    batch->rows = rp_obj_get(req->args, "rows");
    if (!rp_obj_is_array(batch->rows) || batch->rows->via.array.size > DEALS_IMPORT_MAX ||
        (dry && dry->type != MSGPACK_OBJECT_NIL && !rp_obj_bool(dry, &batch->dry_run))) {
        rp_service_reply_error(service, origin_p, 400, "bad_args",
                               "args: {mode, dry_run?, rows: [{line, record}] (at most 500)}");
        return false;
    }
    if (mode && !rp_obj_streq(mode, "create")) {
        rp_field_error_t error;
        rp_field_error_set(&error, "mode", 4, "invalid");
        error.message = "opportunities import in mode create only (a deal has no natural key)";
        rp_service_reply_invalid(service, origin_p, "the import's mode is not available", &error,
                                 1);
        return false;
    }
    return true;
}

void deals_import_request(void *arg, rp_service_t *service, rp_origin_t *origin,
                          const rp_request_t *req)
{
    batch_t *batch = s_batch_new();
    rp_scope_parse(&batch->actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!rp_writes_admit(service, &origin, req, rp_scope_may_write(&batch->actor),
                         "this role cannot change opportunities", idem) ||
        !s_args_check(service, &origin, req, batch)) {
        s_batch_free(batch);
        return;
    }
    rp_store_read(rp_service_store(service), s_rows_read, batch);
    if (batch->dry_run || batch->event_count == 0) {
        rp_import_report_reply(&batch->report, service, &origin, 0);
        s_batch_free(batch);
        return;
    }
    rp_journal_event_t events[DEALS_IMPORT_MAX];
    size_t start = 0;
    for (size_t i = 0; i < batch->event_count; i++) {
        events[i].data = batch->events.buffer.data + start;
        events[i].size = batch->event_ends[i] - start;
        start = batch->event_ends[i];
    }
    //  The batch's events borrow from batch->events until the append is
    //  sent (rp_writes_append copies them into its message).
    rp_writes_append(opportunities_handlers_writes(arg), service, &origin, events,
                     batch->event_count, idem, IMPORT_WAIT_MS, s_applied, batch, s_batch_free);
}
