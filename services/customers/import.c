/*  import.c — see import.h. */
#include "import.h"
#include <rapport/import.h>
#include "apply.h"
#include "customer.h"
#include <rapport/event.h>
#include <rapport/random.h>
#include "handlers.h"
#include <rapport/normalize.h>
#include "scope.h"

#include <rapport/log.h>
#include <rapport/outcome.h>
#include <rapport/write.h>

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_MS        10000 //  a batch's append reply, then its apply
#define SESSION_ID_MAX 64
#define ROW_KEYS       6

//  ---------------------------------------------------------------------
//  A session's key set: open addressing over 64-bit hashes (0 = empty)

typedef struct {
    uint64_t hash;
    uint32_t line;
} slot_t;

typedef struct {
    char id[SESSION_ID_MAX + 1];
    unsigned char secret[crypto_shorthash_KEYBYTES];
    slot_t *slots;
    size_t size, count; //  size is a power of two
    int64_t used_ms;
} session_t;

static session_t *s_session_new(const char *id)
{
    session_t *self = (session_t *)calloc(1, sizeof *self);
    assert(self);
    snprintf(self->id, sizeof self->id, "%s", id);
    randombytes_buf(self->secret, sizeof self->secret);
    self->size = 1024;
    self->slots = (slot_t *)calloc(self->size, sizeof *self->slots);
    assert(self->slots);
    return self;
}

static void s_session_destroy(void **item)
{
    session_t *self = (session_t *)*item;
    free(self->slots);
    free(self);
    *item = NULL;
}

static uint64_t s_hash(const session_t *self, char kind, const char *value, size_t len)
{
    unsigned char in[1 + RP_NORMALIZE_NAME_MAX], out[crypto_shorthash_BYTES];
    if (len > RP_NORMALIZE_NAME_MAX)
        len = RP_NORMALIZE_NAME_MAX;
    in[0] = (unsigned char)kind;
    memcpy(in + 1, value, len);
    crypto_shorthash(out, in, len + 1, self->secret);
    uint64_t hash;
    memcpy(&hash, out, sizeof hash);
    return hash ? hash : 1;
}

static slot_t *s_slot(const session_t *self, uint64_t hash)
{
    size_t i = (size_t)hash & (self->size - 1);
    while (self->slots[i].hash && self->slots[i].hash != hash)
        i = (i + 1) & (self->size - 1);
    return &self->slots[i];
}

static void s_session_add(session_t *self, uint64_t hash, uint32_t line)
{
    if ((self->count + 1) * 2 > self->size) { //  keep it at most half full
        slot_t *old = self->slots;
        size_t old_size = self->size;
        self->size *= 2;
        self->slots = (slot_t *)calloc(self->size, sizeof *self->slots);
        assert(self->slots);
        for (size_t i = 0; i < old_size; i++)
            if (old[i].hash)
                *s_slot(self, old[i].hash) = old[i];
        free(old);
    }
    slot_t *slot = s_slot(self, hash);
    if (!slot->hash) {
        slot->hash = hash;
        slot->line = line;
        self->count++;
    }
}

//  ---------------------------------------------------------------------

struct _import_t {
    char region[8];
    zhashx_t *sessions; //  id → session_t
    zlistx_t *batches;  //  batch_t waiting for the journal, owned
};

//  One batch between its request and its reply.
typedef struct {
    import_t *import;
    rp_origin_t *origin;
    void *handle;
    rp_import_report_t report;
    rp_packer_t events; //  the events, packed one after another
    size_t event_count;
    size_t *event_ends;    //  end offset of each event in events
    uint32_t *event_lines; //  the row of each event
    bool *event_updates;   //  an update (else a create)
    uint64_t first, last;
} batch_t;

import_t *import_new(const char *region)
{
    import_t *self = (import_t *)calloc(1, sizeof *self);
    assert(self);
    snprintf(self->region, sizeof self->region, "%s", region);
    self->sessions = zhashx_new();
    zhashx_set_destructor(self->sessions, s_session_destroy);
    self->batches = zlistx_new();
    return self;
}

static void s_batch_destroy(batch_t **batch_p)
{
    batch_t *batch = *batch_p;
    rp_origin_destroy(&batch->origin);
    rp_import_report_destroy(&batch->report);
    rp_packer_destroy(&batch->events);
    free(batch->event_ends);
    free(batch->event_lines);
    free(batch->event_updates);
    free(batch);
    *batch_p = NULL;
}

void import_destroy(import_t **self_p)
{
    import_t *self = *self_p;
    if (!self)
        return;
    for (batch_t *b = (batch_t *)zlistx_first(self->batches); b;
         b = (batch_t *)zlistx_next(self->batches))
        s_batch_destroy(&b);
    zlistx_destroy(&self->batches);
    zhashx_destroy(&self->sessions);
    free(self);
    *self_p = NULL;
}

static void s_batch_finish(batch_t *batch)
{
    zlistx_detach(batch->import->batches, batch->handle);
    s_batch_destroy(&batch);
}

//  ---------------------------------------------------------------------
//  Checking rows

//  What one batch request asks, and the store snapshot's answers.
typedef struct {
    import_t *import;
    const rp_request_t *req;
    rp_scope_t scope;
    session_t *session;
    bool upsert, dry_run;
    const msgpack_object *rows;
    batch_t *batch;
} run_t;

static void s_reject(batch_t *batch, uint32_t line, const rp_field_error_t *errors, int count)
{
    rp_import_reject(&batch->report, line, errors, count);
}

static void s_reject_one(batch_t *batch, uint32_t line, const char *field, const char *code,
                         const char *message)
{
    rp_import_reject_one(&batch->report, line, field, code, message);
}

//  The row's keys for the session: kind, field, value.
typedef struct {
    size_t count;
    int fields[ROW_KEYS];
    uint64_t hashes[ROW_KEYS];
} row_keys_t;

static void s_row_keys(const session_t *session, const rp_record_t *row, row_keys_t *keys)
{
    static const struct {
        int field;
        char kind;
    } plain[] = {{CUSTOMER_CODE, 'k'},
                 {CUSTOMER_TAX_ID, 't'},
                 {CUSTOMER_EMAIL, 'e'},
                 {CUSTOMER_PHONE, 'p'},
                 {CUSTOMER_MOBILE, 'p'}};
    const char *str;
    size_t len;
    keys->count = 0;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (rp_record_str(row, plain[i].field, &str, &len) && len) {
            keys->fields[keys->count] = plain[i].field;
            keys->hashes[keys->count++] = s_hash(session, plain[i].kind, str, len);
        }
    char name[RP_NORMALIZE_NAME_MAX];
    if (rp_record_str(row, CUSTOMER_NAME, &str, &len) && !rp_normalize_name(str, len, name)) {
        keys->fields[keys->count] = CUSTOMER_NAME;
        keys->hashes[keys->count++] = s_hash(session, 'n', name, strlen(name));
    }
}

//  A stored record a row matched.
typedef struct {
    bool found;
    char id[APPLY_MAX_ID + 1];
    rp_doc_t *doc;
    rp_record_t record;
    uint64_t version;
} target_t;

static bool s_target_load(rp_store_t *store, MDB_txn *txn, const char *id, size_t len,
                          target_t *target)
{
    MDB_val value;
    if (len > APPLY_MAX_ID || customers_apply_record_get(store, txn, id, len, &value))
        return false;
    target->doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!target->doc)
        return false;
    rp_record_from_map(&target->record, rp_doc_root(target->doc));
    bool archived = false;
    rp_obj_bool(&target->record.values[CUSTOMER_ARCHIVED], &archived);
    if (archived) { //  an archived record is not a match; it still holds its code
        rp_record_reset(&target->record);
        rp_doc_destroy(&target->doc);
        return false;
    }
    memcpy(target->id, id, len);
    target->id[len] = 0;
    target->version = rp_record_version(&target->record);
    target->found = true;
    return true;
}

typedef struct {
    const char *field;
    char id[APPLY_MAX_ID + 1];
    const char *skip_id; //  the row's own target
} similar_hit_t;

static void s_similar_hit(void *arg, const char *field, const char *id, size_t id_len)
{
    similar_hit_t *hit = (similar_hit_t *)arg;
    if (hit->field || id_len > APPLY_MAX_ID ||
        (hit->skip_id && strlen(hit->skip_id) == id_len && memcmp(hit->skip_id, id, id_len) == 0))
        return;
    hit->field = field;
    memcpy(hit->id, id, id_len);
    hit->id[id_len] = 0;
}

//  Upsert: the stored record with the row's code, else tax id, else e-mail.
static void s_find(rp_store_t *store, MDB_txn *txn, const rp_record_t *row, target_t *target)
{
    static const struct {
        int field;
        const char *index;
    } unique[] = {{CUSTOMER_CODE, "codes"}, {CUSTOMER_TAX_ID, "tax_ids"}};
    const char *str;
    size_t len;
    for (size_t i = 0; i < 2 && !target->found; i++) {
        MDB_val id;
        if (rp_record_str(row, unique[i].field, &str, &len) &&
            customers_apply_index_get(store, txn, unique[i].index, str, len, &id) == 0)
            s_target_load(store, txn, id.mv_data, id.mv_size, target);
    }
    if (!target->found && rp_record_str(row, CUSTOMER_EMAIL, &str, &len)) {
        rp_record_t probe;
        customer_init(&probe);
        rp_record_set_str(&probe, CUSTOMER_EMAIL, str, len);
        similar_hit_t hit = {NULL, "", NULL};
        customers_apply_similar(store, txn, &probe, 1, s_similar_hit, &hit);
        rp_record_reset(&probe);
        if (hit.field)
            s_target_load(store, txn, hit.id, strlen(hit.id), target);
    }
}

//  The code of a stored record, for messages.
static void s_code_of(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, char *out,
                      size_t size)
{
    target_t other = {0};
    customer_init(&other.record);
    const char *code = NULL;
    size_t code_len = 0;
    snprintf(out, size, "%.*s", (int)len, id);
    if (s_target_load(store, txn, id, len, &other) &&
        rp_record_str(&other.record, CUSTOMER_CODE, &code, &code_len))
        snprintf(out, size, "%.*s", (int)code_len, code);
    rp_record_reset(&other.record);
    rp_doc_destroy(&other.doc);
}

//  A stored-record clash for the row: a unique value another record has,
//  or (for a create) a likely duplicate. Writes the message; NULL if none.
static const char *s_store_clash(rp_store_t *store, MDB_txn *txn, const rp_record_t *row,
                                 const target_t *target, char *message, size_t size)
{
    static const struct {
        int field;
        const char *index;
    } unique[] = {{CUSTOMER_CODE, "codes"}, {CUSTOMER_TAX_ID, "tax_ids"}};
    const char *str;
    size_t len;
    char code[40];
    for (size_t i = 0; i < 2; i++) {
        MDB_val id;
        if (rp_record_str(row, unique[i].field, &str, &len) &&
            customers_apply_index_get(store, txn, unique[i].index, str, len, &id) == 0 &&
            !(target->found && strlen(target->id) == id.mv_size &&
              memcmp(target->id, id.mv_data, id.mv_size) == 0)) {
            s_code_of(store, txn, id.mv_data, id.mv_size, code, sizeof code);
            snprintf(message, size, "customer %s has the same %s", code,
                     customer_field_name(unique[i].field));
            return customer_field_name(unique[i].field);
        }
    }
    if (target->found)
        return NULL; //  an update: likely duplicates are not refused (as PATCH)
    similar_hit_t hit = {NULL, "", NULL};
    customers_apply_similar(store, txn, row, 1, s_similar_hit, &hit);
    if (!hit.field)
        return NULL;
    s_code_of(store, txn, hit.id, strlen(hit.id), code, sizeof code);
    snprintf(message, size, "customer %s has the same %s", code, hit.field);
    return hit.field;
}

static bool s_obj_equal(const msgpack_object *a, const msgpack_object *b)
{
    rp_packer_t x, y;
    rp_packer_init(&x);
    rp_packer_init(&y);
    msgpack_pack_object(&x.pk, *a);
    msgpack_pack_object(&y.pk, *b);
    bool equal =
        x.buffer.size == y.buffer.size && memcmp(x.buffer.data, y.buffer.data, x.buffer.size) == 0;
    rp_packer_destroy(&x);
    rp_packer_destroy(&y);
    return equal;
}

static void s_event_open(run_t *run, const char *type, const char *subject)
{
    rp_event_open(&run->batch->events.pk, type, "customers", subject, strlen(subject), &run->scope);
}

static void s_event_close(run_t *run, uint32_t line, bool update)
{
    batch_t *batch = run->batch;
    size_t i = batch->event_count++;
    batch->event_ends[i] = batch->events.buffer.size;
    batch->event_lines[i] = line;
    batch->event_updates[i] = update;
}

static void s_accept_create(run_t *run, uint32_t line, rp_record_t *row)
{
    if (!row->given[CUSTOMER_OWNER])
        rp_record_set_str(row, CUSTOMER_OWNER, run->scope.user, run->scope.user_len);
    if (!row->given[CUSTOMER_TEAM] && run->scope.team_len)
        rp_record_set_str(row, CUSTOMER_TEAM, run->scope.team, run->scope.team_len);
    run->batch->report.created++;
    if (run->dry_run)
        return;
    char id[RP_ID_SIZE];
    rp_id_format(id);
    s_event_open(run, "customer.created", id);
    msgpack_packer *pk = &run->batch->events.pk;
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_bool(pk, "allow_duplicate", true);
    rp_pack_cstr(pk, "record");
    rp_record_pack_given(row, pk);
    s_event_close(run, line, false);
}

//  An upsert onto target: the fields that differ, or a skip.
static void s_accept_update(run_t *run, uint32_t line, const rp_record_t *row,
                            const target_t *target)
{
    rp_record_t changes;
    customer_init(&changes);
    bool changed = false;
    for (int field = 0; field < CUSTOMER_FIELDS; field++)
        if (row->given[field] && !s_obj_equal(&row->values[field], &target->record.values[field])) {
            rp_record_set_obj(&changes, field, &row->values[field]); //  borrows row's value
            changed = true;
        }
    if (!changed)
        run->batch->report.skipped++;
    else
        run->batch->report.updated++;
    if (changed && !run->dry_run) {
        s_event_open(run, "customer.updated", target->id);
        msgpack_packer *pk = &run->batch->events.pk;
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "id", target->id);
        rp_pack_kv_u64(pk, "expected_version", target->version);
        rp_pack_cstr(pk, "changes");
        rp_record_pack_given(&changes, pk);
        s_event_close(run, line, true);
    }
    customer_init(&changes); //  it owns nothing: its values borrow row's
}

//  Check one row; accept it (counts, event, session keys) or reject it.
static void s_row(run_t *run, rp_store_t *store, MDB_txn *txn, uint32_t line,
                  const msgpack_object *record)
{
    batch_t *batch = run->batch;
    if (!rp_obj_is_map(record)) {
        s_reject_one(batch, line, "record", "type", "a row must be an object");
        return;
    }
    rp_record_t row;
    customer_init(&row);
    target_t target = {0};
    customer_init(&target.record);
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    int count = rp_record_validate(&row, record, NULL, false, run->import->region, errors,
                                   CUSTOMER_MAX_ERRORS);
    const char *field = count ? NULL : scope_assign_check(&run->scope, &row);
    char message[160];
    row_keys_t keys;
    if (count)
        s_reject(batch, line, errors, count);
    else if (field)
        s_reject_one(batch, line, field, "out_of_scope", "outside what this role may assign");
    else {
        if (run->upsert)
            s_find(store, txn, &row, &target);
        s_row_keys(run->session, &row, &keys);
        const slot_t *seen = NULL;
        size_t k = 0;
        for (; k < keys.count && !seen; k++)
            if (s_slot(run->session, keys.hashes[k])->hash)
                seen = s_slot(run->session, keys.hashes[k]);
        const char *clash = NULL;
        if (target.found && !scope_allows(&run->scope, &target.record, true))
            s_reject_one(batch, line, customer_field_name(CUSTOMER_CODE), "out_of_scope",
                         "matches a customer outside your scope");
        else if (!target.found && (!row.given[CUSTOMER_NAME] ||
                                   row.values[CUSTOMER_NAME].type == MSGPACK_OBJECT_NIL))
            s_reject_one(batch, line, "name", "required", "a value is required");
        else if (seen) {
            snprintf(message, sizeof message, "same %s as line %" PRIu32,
                     customer_field_name(keys.fields[k - 1]), seen->line);
            s_reject_one(batch, line, customer_field_name(keys.fields[k - 1]), "duplicate",
                         message);
        } else if ((clash = s_store_clash(store, txn, &row, &target, message, sizeof message)))
            s_reject_one(batch, line, clash, "duplicate", message);
        else {
            for (k = 0; k < keys.count; k++)
                s_session_add(run->session, keys.hashes[k], line);
            if (target.found)
                s_accept_update(run, line, &row, &target);
            else
                s_accept_create(run, line, &row);
        }
    }
    rp_record_reset(&row);
    rp_record_reset(&target.record);
    rp_doc_destroy(&target.doc);
}

static int s_rows_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    run_t *run = (run_t *)arg;
    for (uint32_t i = 0; i < run->rows->via.array.size; i++) {
        const msgpack_object *row = &run->rows->via.array.ptr[i];
        uint64_t line = 0;
        rp_obj_u64(rp_obj_get(row, "line"), &line);
        s_row(run, store, txn, (uint32_t)(line > UINT32_MAX ? UINT32_MAX : line),
              rp_obj_get(row, "record"));
    }
    return 0;
}

//  ---------------------------------------------------------------------
//  Replies

static void s_reply(rp_service_t *service, batch_t *batch, uint64_t seq)
{
    rp_import_report_reply(&batch->report, service, &batch->origin, seq);
}

//  Rows whose event apply refused (a race): rejected with the outcome.
static int s_outcomes_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    batch_t *batch = (batch_t *)arg;
    for (size_t i = 0; i < batch->event_count; i++) {
        char code[40];
        int status = rp_outcome_status(store, txn, batch->first + i, code, sizeof code);
        if (status && status != 200) {
            if (batch->event_updates[i])
                batch->report.updated--;
            else
                batch->report.created--;
            s_reject_one(batch, batch->event_lines[i], "", code[0] ? code : "conflict",
                         "refused when written: another change got there first");
        }
    }
    return 0;
}

static void s_applied(void *arg, rp_service_t *service, bool applied)
{
    batch_t *batch = (batch_t *)arg;
    if (!applied)
        rp_service_reply_error(service, &batch->origin, 504, "apply_timeout",
                               "the batch was appended but not applied in time");
    else {
        rp_store_read(rp_service_store(service), s_outcomes_read, batch);
        s_reply(service, batch, batch->last);
    }
    s_batch_finish(batch);
}

static void s_appended(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                       uint64_t last)
{
    batch_t *batch = (batch_t *)arg;
    batch->first = first;
    batch->last = last;
    if (reply->status == 200 && last - first + 1 == batch->event_count) {
        rp_service_wait(service, batch->last, WAIT_MS, s_applied, batch);
        return;
    }
    //  A 200 whose seqs do not cover the batch is the journal's error.
    rp_writes_refused(service, &batch->origin, reply->status == 200 ? 500 : reply->status);
    s_batch_finish(batch);
}

static void s_append(rp_service_t *service, batch_t *batch)
{
    rp_journal_event_t events[IMPORT_BATCH_MAX];
    size_t start = 0;
    for (size_t i = 0; i < batch->event_count; i++) {
        events[i].data = batch->events.buffer.data + start;
        events[i].size = batch->event_ends[i] - start;
        start = batch->event_ends[i];
    }
    if (rp_service_append(service, events, batch->event_count, NULL, WAIT_MS, s_appended, batch)) {
        rp_service_reply_error(service, &batch->origin, 500, "journal_error",
                               "the batch could not be appended");
        s_batch_finish(batch);
    }
}

//  ---------------------------------------------------------------------
//  The op

static void s_sessions_expire(import_t *self)
{
    int64_t now = zclock_mono();
    zlistx_t *old = zlistx_new();
    for (session_t *s = (session_t *)zhashx_first(self->sessions); s;
         s = (session_t *)zhashx_next(self->sessions))
        if (now - s->used_ms > IMPORT_SESSION_IDLE_S * 1000)
            zlistx_add_end(old, s->id);
    for (char *id = (char *)zlistx_first(old); id; id = (char *)zlistx_next(old))
        zhashx_delete(self->sessions, id);
    zlistx_destroy(&old);
}

//  The session named in args (created on first use); NULL with a reply.
static session_t *s_session(import_t *self, rp_service_t *service, rp_origin_t **origin_p,
                            const rp_request_t *req)
{
    const msgpack_object *o = rp_obj_get(req->args, "session");
    char *id = rp_obj_strdup(o);
    if (!id || !*id || strlen(id) > SESSION_ID_MAX) {
        free(id);
        rp_service_reply_error(service, origin_p, 400, "bad_args",
                               "args.session must be a string of 1..64 bytes");
        return NULL;
    }
    s_sessions_expire(self);
    session_t *session = (session_t *)zhashx_lookup(self->sessions, id);
    if (!session && zhashx_size(self->sessions) >= IMPORT_SESSIONS_MAX)
        rp_service_reply_error(service, origin_p, 503, "too_many_imports",
                               "too many imports at once; retry later");
    else if (!session) {
        session = s_session_new(id);
        zhashx_insert(self->sessions, id, session);
    }
    free(id);
    if (session)
        session->used_ms = zclock_mono();
    return session;
}

static bool s_args_check(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                         run_t *run)
{
    const char *problem = NULL;
    const msgpack_object *mode = rp_obj_get(req->args, "mode");
    const msgpack_object *dry = rp_obj_get(req->args, "dry_run");
    if (!rp_obj_streq(mode, "create") && !rp_obj_streq(mode, "upsert"))
        problem = "args.mode must be create or upsert";
    else if (dry && !rp_obj_bool(dry, &run->dry_run))
        problem = "args.dry_run must be a boolean";
    else if (!rp_obj_is_array(run->rows = rp_obj_get(req->args, "rows")) ||
             run->rows->via.array.size > IMPORT_BATCH_MAX)
        problem = "args.rows must be an array of at most 500 rows";
    if (problem) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", problem);
        return false;
    }
    run->upsert = rp_obj_streq(mode, "upsert");
    if (!rp_scope_may_write(&run->scope)) {
        rp_service_reply_error(service, origin_p, 403, "forbidden",
                               "this role cannot change customers");
        return false;
    }
    if (!run->dry_run && rp_service_epoch(service) == 0) {
        rp_service_reply_error(service, origin_p, 503, "not_writer", "no lease; retry");
        return false;
    }
    return true;
}

void import_request(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    import_t *self = customers_handlers_import(arg);
    run_t run = {.import = self, .req = req};
    rp_scope_parse(&run.scope, req);
    if (!s_args_check(service, &origin, req, &run) ||
        !(run.session = s_session(self, service, &origin, req)))
        return;
    batch_t *batch = (batch_t *)calloc(1, sizeof *batch);
    assert(batch);
    batch->import = self;
    batch->origin = origin;
    rp_import_report_init(&batch->report);
    rp_packer_init(&batch->events);
    size_t rows = run.rows->via.array.size;
    batch->event_ends = (size_t *)calloc(rows, sizeof *batch->event_ends);
    batch->event_lines = (uint32_t *)calloc(rows, sizeof *batch->event_lines);
    batch->event_updates = (bool *)calloc(rows, sizeof *batch->event_updates);
    assert(batch->event_ends && batch->event_lines && batch->event_updates);
    batch->handle = zlistx_add_end(self->batches, batch);
    run.batch = batch;
    rp_store_read(rp_service_store(service), s_rows_read, &run);
    bool final = false;
    rp_obj_bool(rp_obj_get(req->args, "final"), &final);
    if (final) //  its rows are checked: the keys are not needed any more
        zhashx_delete(self->sessions, run.session->id);
    if (batch->event_count == 0) {
        s_reply(service, batch, 0);
        s_batch_finish(batch);
    } else
        s_append(service, batch);
}

//  ---------------------------------------------------------------------

void import_test(void)
{
    session_t *session = s_session_new("t");
    for (uint32_t i = 1; i <= 5000; i++) {
        char value[16];
        snprintf(value, sizeof value, "v%u", i);
        s_session_add(session, s_hash(session, 'k', value, strlen(value)), i);
    }
    assert(session->count == 5000 && session->size >= 10000);
    const slot_t *slot = s_slot(session, s_hash(session, 'k', "v4242", 5));
    assert(slot->hash && slot->line == 4242);
    assert(!s_slot(session, s_hash(session, 'e', "v4242", 5))->hash); //  kinds differ
    assert(!s_slot(session, s_hash(session, 'k', "v5001", 5))->hash);
    void *item = session;
    s_session_destroy(&item);
}
