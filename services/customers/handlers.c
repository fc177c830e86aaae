/*  handlers.c — the customers ops: checks, scoping, events, replies. */
#include "handlers.h"
#include "grading.h"
#include "order.h"
#include "unmatched.h"
#include "apply.h"
#include "customer.h"
#include "dups.h"
#include <rapport/event.h>
#include <rapport/random.h>
#include "import.h"
#include <rapport/normalize.h>
#include "pending.h"
#include "query.h"
#include "relations.h"
#include "report.h"
#include "scope.h"

#include <rapport/log.h>
#include <rapport/testservice.h>

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _customers_handlers_t {
    char region[8];
    pending_t *pending;     //  writes in flight
    import_t *import;       //  customers.import sessions and batches
    relations_t *relations; //  contacts, activities, timeline, assign, merge
    grading_seed_t grading; //  the configured grading, appended when the store differs
};

//  What people read for a refusal apply recorded.
static const char *s_refusal_message(int status, const char *code, size_t code_len)
{
    if (code_len == 18 && memcmp(code, "possible_duplicate", 18) == 0)
        return "customers with the same name, phone or e-mail exist; set allow_duplicate to "
               "create it anyway";
    return status == 409   ? "another customer has the same code or tax id"
           : status == 412 ? "the customer changed since that version"
           : status == 404 ? "no such customer"
                           : "the change was refused";
}

customers_handlers_t *customers_handlers_new(const char *region)
{
    customers_handlers_t *self = calloc(1, sizeof *self);
    assert(self);
    snprintf(self->region, sizeof self->region, "%s", region);
    self->pending = pending_new(s_refusal_message);
    self->import = import_new(region);
    self->relations = relations_new(region);
    grading_default(&self->grading.configured);
    return self;
}

void customers_handlers_destroy(customers_handlers_t **self_p)
{
    customers_handlers_t *self = *self_p;
    if (!self)
        return;
    pending_destroy(&self->pending);
    import_destroy(&self->import);
    relations_destroy(&self->relations);
    free(self);
    *self_p = NULL;
}

int customers_handlers_init(rp_config_t *config, void **arg)
{
    const char *region = rp_config_get(config, "customers/phone_region", "CN");
    if (!rp_normalize_region_code(region)) {
        rp_error("customers: unsupported customers/phone_region \"%s\"", region);
        return 2;
    }
    grading_t grading;
    if (grading_from_config(&grading, config))
        return 2;
    customers_handlers_t *self = customers_handlers_new(region);
    self->grading.configured = grading;
    *arg = self;
    return 0;
}

static int s_count_unmatched(rp_store_t *store, MDB_txn *txn, void *arg)
{
    *(size_t *)arg = unmatched_count(store, txn);
    return 0;
}

void customers_handlers_gauges(void *arg, rp_service_t *service, msgpack_packer *pk)
{
    (void)arg;
    size_t unmatched = 0;
    rp_store_read(rp_service_store(service), s_count_unmatched, &unmatched);
    msgpack_pack_map(pk, 1);
    rp_pack_kv_u64(pk, "unmatched_events", unmatched);
}

void customers_handlers_tick(void *arg, rp_service_t *service)
{
    customers_handlers_t *self = (customers_handlers_t *)arg;
    grading_seed(&self->grading, service);
}

void customers_handlers_fini(void *arg)
{
    customers_handlers_t *self = (customers_handlers_t *)arg;
    customers_handlers_destroy(&self);
}

relations_t *customers_handlers_relations(void *self)
{
    return ((customers_handlers_t *)self)->relations;
}

import_t *customers_handlers_import(void *self)
{
    return ((customers_handlers_t *)self)->import;
}

//  ---------------------------------------------------------------------
//  Replies

//  A stored record as reply data, read in one snapshot.
typedef struct {
    const char *id;
    size_t id_len;
    const rp_scope_t *actor; //  NULL: no scope check (the writer's own answer)
    rp_packer_t *packer;
    const msgpack_object *reply_id;
    uint64_t seq;
    bool found;
} record_read_t;

static bool s_record_decode(const MDB_val *value, rp_doc_t **doc, rp_record_t *record)
{
    *doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    if (*doc)
        rp_record_from_map(record, rp_doc_root(*doc));
    return *doc != NULL;
}

static int s_record_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    record_read_t *read = (record_read_t *)arg;
    MDB_val value;
    if (customers_apply_record_get(store, txn, read->id, read->id_len, &value))
        return 0;
    rp_doc_t *doc;
    rp_record_t record;
    customer_init(&record);
    if (s_record_decode(&value, &doc, &record) &&
        (!read->actor || scope_allows(read->actor, &record, false))) {
        read->found = true;
        rp_reply_pack(&read->packer->pk, read->reply_id, 200, read->seq, 1);
        rp_pack_cstr(&read->packer->pk, "data");
        order_pack_customer(store, txn, rp_doc_root(doc), order_year(), &read->packer->pk);
    }
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply_record(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor,
                           const char *id, size_t id_len, uint64_t seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    record_read_t read = {id, id_len, actor, &packer, rp_origin_id(*origin_p), seq, false};
    rp_store_read(rp_service_store(service), s_record_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such customer");
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------
//  Writes: append, wait, answer the outcome

//  After the write: the record as the writer now holds it.
static void s_write_done(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                         const char *id, const char *ref)
{
    (void)ref;
    s_reply_record(service, origin_p, NULL, id, strlen(id), seq);
}

//  Append the event and answer once it is applied (frees event).
static void s_write_append(customers_handlers_t *self, rp_service_t *service,
                           rp_origin_t **origin_p, rp_packer_t *event, const char *idem)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    pending_append(self->pending, service, origin_p, events, 1, idem, "", s_write_done);
    rp_packer_destroy(event);
}

//  Early duplicate check (apply checks again, in order, for the races).
typedef struct {
    const rp_record_t *record;
    const char *self_id;
    size_t self_id_len;
    const char *fields[2];
    char ids[2][APPLY_MAX_ID + 1];
    int count;
} dup_check_t;

static int s_dup_check(rp_store_t *store, MDB_txn *txn, void *arg)
{
    dup_check_t *check = (dup_check_t *)arg;
    static const struct {
        int field;
        const char *index;
    } indexes[] = {{CUSTOMER_CODE, "codes"}, {CUSTOMER_TAX_ID, "tax_ids"}};
    for (size_t i = 0; i < 2; i++) {
        const char *value;
        size_t len;
        MDB_val id;
        if (!rp_record_str(check->record, indexes[i].field, &value, &len) ||
            customers_apply_index_get(store, txn, indexes[i].index, value, len, &id) ||
            id.mv_size > APPLY_MAX_ID ||
            (id.mv_size == check->self_id_len &&
             memcmp(id.mv_data, check->self_id, id.mv_size) == 0))
            continue;
        check->fields[check->count] = customer_field_name(indexes[i].field);
        memcpy(check->ids[check->count], id.mv_data, id.mv_size);
        check->ids[check->count++][id.mv_size] = 0;
    }
    return 0;
}

static bool s_no_duplicates(rp_service_t *service, rp_origin_t **origin_p,
                            const rp_record_t *record, const char *self_id, size_t self_id_len)
{
    dup_check_t check = {record, self_id, self_id_len, {NULL, NULL}, {"", ""}, 0};
    rp_store_read(rp_service_store(service), s_dup_check, &check);
    if (check.count == 0)
        return true;
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack_error_details(&packer.pk, rp_origin_id(*origin_p), 409, "duplicate",
                                "another customer has the same code or tax id");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "fields");
    msgpack_pack_array(&packer.pk, (size_t)check.count);
    for (int i = 0; i < check.count; i++)
        rp_pack_cstr(&packer.pk, check.fields[i]);
    rp_pack_cstr(&packer.pk, "ids");
    msgpack_pack_array(&packer.pk, (size_t)check.count);
    for (int i = 0; i < check.count; i++)
        rp_pack_cstr(&packer.pk, check.ids[i]);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    return false;
}

//  Likely duplicates (same normalized name, phone or e-mail): the caller
//  may insist with args.allow_duplicate = true.
#define SIMILAR_REPORTED 20

typedef struct {
    const rp_record_t *record;
    rp_packer_t fields, ids; //  the matches, packed one after another
    size_t count;
} similar_check_t;

static void s_similar_found(void *arg, const char *field, const char *id, size_t id_len)
{
    similar_check_t *check = (similar_check_t *)arg;
    rp_pack_cstr(&check->fields.pk, field);
    rp_pack_strn(&check->ids.pk, id, id_len);
    check->count++;
}

static int s_similar_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    similar_check_t *check = (similar_check_t *)arg;
    customers_apply_similar(store, txn, check->record, SIMILAR_REPORTED, s_similar_found, check);
    return 0;
}

static bool s_no_similar(rp_service_t *service, rp_origin_t **origin_p, const rp_record_t *record)
{
    similar_check_t check = {.record = record};
    rp_packer_init(&check.fields);
    rp_packer_init(&check.ids);
    rp_store_read(rp_service_store(service), s_similar_read, &check);
    if (check.count) {
        rp_packer_t packer;
        rp_packer_init(&packer);
        rp_reply_pack_error_details(&packer.pk, rp_origin_id(*origin_p), 409, "possible_duplicate",
                                    "customers with the same name, phone or e-mail exist; "
                                    "set allow_duplicate to create it anyway");
        msgpack_pack_map(&packer.pk, 2);
        rp_pack_cstr(&packer.pk, "fields");
        msgpack_pack_array(&packer.pk, check.count);
        msgpack_sbuffer_write(&packer.buffer, check.fields.buffer.data, check.fields.buffer.size);
        rp_pack_cstr(&packer.pk, "ids");
        msgpack_pack_array(&packer.pk, check.count);
        msgpack_sbuffer_write(&packer.buffer, check.ids.buffer.data, check.ids.buffer.size);
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
        rp_packer_destroy(&packer);
    }
    rp_packer_destroy(&check.fields);
    rp_packer_destroy(&check.ids);
    return check.count == 0;
}

static bool s_validate(customers_handlers_t *self, rp_service_t *service, rp_origin_t **origin_p,
                       const rp_request_t *req, const rp_scope_t *actor, rp_record_t *changes,
                       bool create)
{
    static const char *const skip_update[] = {"id", "version", NULL};
    static const char *const skip_create[] = {"allow_duplicate", NULL};
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    int count = rp_record_validate(changes, req->args, create ? skip_create : skip_update, create,
                                   self->region, errors, CUSTOMER_MAX_ERRORS);
    const char *field = count ? NULL : scope_assign_check(actor, changes);
    if (field) {
        rp_field_error_set(&errors[count], field, strlen(field), "out_of_scope");
        errors[count++].message = "outside what this role may assign";
    }
    if (count)
        rp_service_reply_invalid(service, origin_p, "some fields are not valid", errors, count);
    return count == 0;
}

static void s_create(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    customers_handlers_t *self = (customers_handlers_t *)arg;
    rp_scope_t scope, *actor = &scope;
    rp_scope_parse(actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!pending_write_allowed(service, &origin, req, actor, idem))
        return;
    rp_record_t record;
    customer_init(&record);
    bool ok = s_validate(self, service, &origin, req, actor, &record, true);
    if (ok && !record.given[CUSTOMER_OWNER])
        rp_record_set_str(&record, CUSTOMER_OWNER, actor->user, actor->user_len);
    if (ok && !record.given[CUSTOMER_TEAM] && actor->team_len)
        rp_record_set_str(&record, CUSTOMER_TEAM, actor->team, actor->team_len);
    char id[RP_ID_SIZE];
    rp_id_format(id);
    bool allow = false;
    rp_obj_bool(rp_obj_get(req->args, "allow_duplicate"), &allow);
    //  Checks against the store answer early when they can; a request with
    //  an idem key skips them, since its retry must get the first answer
    //  (apply checks again and records the outcome under the first seq).
    if (ok && (req->idem || (s_no_duplicates(service, &origin, &record, id, strlen(id)) &&
                             (allow || s_no_similar(service, &origin, &record))))) {
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "customer.created", "customers", id, strlen(id), actor);
        msgpack_pack_map(&event.pk, allow ? 3 : 2);
        rp_pack_kv_cstr(&event.pk, "id", id);
        if (allow)
            rp_pack_kv_bool(&event.pk, "allow_duplicate", true);
        rp_pack_cstr(&event.pk, "record");
        rp_record_pack_given(&record, &event.pk);
        s_write_append(self, service, &origin, &event, idem);
    }
    rp_record_reset(&record);
}

//  The target of update/archive/restore: {id} must name a record the actor
//  may change. Replies and returns false otherwise. version gets the
//  stored version.
typedef struct {
    const char *id;
    size_t id_len;
    const rp_scope_t *actor;
    bool found;
    uint64_t version;
    bool archived;
} target_t;

static int s_target_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *target = (target_t *)arg;
    MDB_val value;
    if (customers_apply_record_get(store, txn, target->id, target->id_len, &value))
        return 0;
    rp_doc_t *doc;
    rp_record_t record;
    customer_init(&record);
    if (s_record_decode(&value, &doc, &record) && scope_allows(target->actor, &record, true)) {
        target->found = true;
        target->version = rp_record_version(&record);
        rp_obj_bool(&record.values[CUSTOMER_ARCHIVED], &target->archived);
    }
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     target_t *target)
{
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &target->id, &target->id_len)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
        return false;
    }
    rp_store_read(rp_service_store(service), s_target_read, target);
    if (!target->found)
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such customer");
    return target->found;
}

//  args.version, optional (nil: absent): an unsigned integer that must be
//  the stored one. Replies and returns false otherwise.
static bool s_version(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                      const target_t *target, const msgpack_object **version_obj, uint64_t *version)
{
    if (!rp_writes_version_arg(service, origin_p, req, version_obj, version))
        return false;
    if (*version_obj && *version != target->version && !req->idem) { //  idem: see s_create
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the customer changed since that version");
        return false;
    }
    return true;
}

static void s_update(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    customers_handlers_t *self = (customers_handlers_t *)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    target_t target = {.actor = &actor};
    if (!pending_write_allowed(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &target))
        return;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_version(service, &origin, req, &target, &version_obj, &version))
        return;
    rp_record_t changes;
    customer_init(&changes);
    if (s_validate(self, service, &origin, req, &actor, &changes, false) &&
        (req->idem || s_no_duplicates(service, &origin, &changes, target.id, target.id_len))) {
        rp_packer_t event;
        rp_packer_init(&event);
        rp_event_open(&event.pk, "customer.updated", "customers", target.id, target.id_len, &actor);
        msgpack_pack_map(&event.pk, version_obj ? 3 : 2);
        rp_pack_cstr(&event.pk, "id");
        rp_pack_strn(&event.pk, target.id, target.id_len);
        if (version_obj)
            rp_pack_kv_u64(&event.pk, "expected_version", version);
        rp_pack_cstr(&event.pk, "changes");
        rp_record_pack_given(&changes, &event.pk);
        s_write_append(self, service, &origin, &event, idem);
    }
    rp_record_reset(&changes);
}

static void s_archive(customers_handlers_t *self, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req, bool archive)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    target_t target = {.actor = &actor};
    if (!pending_write_allowed(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &target))
        return;
    //  An optional version, checked like customers.update's (atomically in
    //  apply: the gateway's If-Match needs no read before the write).
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_version(service, &origin, req, &target, &version_obj, &version))
        return;
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, archive ? "customer.archived" : "customer.restored", "customers",
                  target.id, target.id_len, &actor);
    msgpack_pack_map(&event.pk, version_obj ? 2 : 1);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, target.id, target.id_len);
    if (version_obj)
        rp_pack_kv_u64(&event.pk, "expected_version", version);
    s_write_append(self, service, &origin, &event, idem);
}

static void s_archive_op(void *arg, rp_service_t *service, rp_origin_t *origin,
                         const rp_request_t *req)
{
    s_archive((customers_handlers_t *)arg, service, origin, req, true);
}

static void s_restore_op(void *arg, rp_service_t *service, rp_origin_t *origin,
                         const rp_request_t *req)
{
    s_archive((customers_handlers_t *)arg, service, origin, req, false);
}

//  ---------------------------------------------------------------------
//  Reads

static void s_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply_record(service, &origin, &actor, id, len, 0);
}

//  customers.list lives in query.c (filters, sort orders, cursors).

//  ---------------------------------------------------------------------

const rp_service_op_t customers_handlers_ops[] = {
    {"customers.get", RP_OP_READ, s_get},
    {"customers.list", RP_OP_READ, query_list},
    {"customers.duplicates", RP_OP_READ, dups_list},
    {"customers.composition", RP_OP_READ, report_composition},
    {"customers.report.top", RP_OP_READ, report_top},
    {"customers.report.products", RP_OP_READ, report_products},
    {"customers.contacts.list", RP_OP_READ, relations_contacts_list},
    {"customers.contacts.get", RP_OP_READ, relations_contacts_get},
    {"customers.activities.list", RP_OP_READ, relations_activities_list},
    {"customers.timeline", RP_OP_READ, relations_timeline},
    {"customers.orders", RP_OP_READ, relations_orders_list},
    {"customers.unmatched.list", RP_OP_READ, relations_unmatched_list},
    {"customers.create", RP_OP_WRITE, s_create},
    {"customers.update", RP_OP_WRITE, s_update},
    {"customers.archive", RP_OP_WRITE, s_archive_op},
    {"customers.restore", RP_OP_WRITE, s_restore_op},
    {"customers.import", RP_OP_WRITE, import_request},
    {"customers.contacts.create", RP_OP_WRITE, relations_contacts_create},
    {"customers.contacts.update", RP_OP_WRITE, relations_contacts_update},
    {"customers.contacts.delete", RP_OP_WRITE, relations_contacts_delete},
    {"customers.activities.create", RP_OP_WRITE, relations_activities_create},
    {"customers.assign", RP_OP_WRITE, relations_assign},
    {"customers.merge", RP_OP_WRITE, relations_merge},
    {"customers.unmatched.match", RP_OP_WRITE, relations_unmatched_match},
    {NULL},
};

//  ---------------------------------------------------------------------
//  Self-test: requests through the runtime and the test broker, and the
//  replies the system tests (tests/system/test_customers.py) expect (the
//  test broker keeps no idem keys: retries are the system tests').

void customers_handlers_test(void)
{
    static const rp_service_def_t def = {.name = "customers",
                                         .writer = true,
                                         .dbnames = customers_apply_dbnames,
                                         .apply = customers_apply_event,
                                         .ops = customers_handlers_ops,
                                         .init = customers_handlers_init,
                                         .fini = customers_handlers_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    const rp_testservice_actor_t ann = {"ann", "sales", "east"}, bob = {"bob", "sales", "east"},
                                 rex = {"rex", "readonly", "east"},
                                 erp = {"erp", "integrator", NULL}, none = {NULL, NULL, NULL};
    rp_packer_t args;
    rp_packer_init(&args);
    rp_reply_t reply;

    //  Created with the actor as owner and team.
    rp_testservice_args(&args,
                        (const char *[]){"name", "杭州云帆科技", "phone", "0571 8888 6666", NULL});
    rp_doc_t *doc =
        rp_testservice_call(service, true, "customers.create", &ann, "c-1", &args, &reply);
    assert(reply.status == 200 && reply.seq > 0);
    assert(rp_obj_streq(rp_obj_get(reply.data, "owner"), "ann"));
    assert(rp_obj_streq(rp_obj_get(reply.data, "team"), "east"));
    assert(rp_obj_streq(rp_obj_get(reply.data, "phone"), "+8657188886666"));
    char id[APPLY_MAX_ID + 1];
    const char *str;
    size_t len;
    assert(rp_obj_str(rp_obj_get(reply.data, "id"), &str, &len) && len <= APPLY_MAX_ID);
    memcpy(id, str, len);
    id[len] = 0;
    rp_doc_destroy(&doc);

    //  Reads in scope; out of scope, or without an actor, nothing.
    rp_testservice_args(&args, (const char *[]){"id", id, NULL});
    doc = rp_testservice_call(service, false, "customers.get", &ann, NULL, &args, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "id"), id));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "customers.get", &rex, NULL, &args, &reply);
    assert(reply.status == 200);
    rp_doc_destroy(&doc);
    const rp_testservice_actor_t *unseen[] = {&bob, &erp, &none};
    for (size_t i = 0; i < 3; i++) {
        doc = rp_testservice_call(service, false, "customers.get", unseen[i], NULL, &args, &reply);
        assert(rp_testservice_error_is(&reply, 404, "not_found"));
        rp_doc_destroy(&doc);
        doc = rp_testservice_call(service, false, "customers.contacts.list", unseen[i], NULL, &args,
                                  &reply);
        assert(rp_testservice_error_is(&reply, 404, "not_found"));
        rp_doc_destroy(&doc);
    }
    doc = rp_testservice_call(service, false, "customers.list", &none, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "customers.list", &erp, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "customers.list", &ann, NULL, NULL, &reply);
    assert(reply.status == 200 && rp_obj_get(reply.data, "items")->via.array.size == 1);
    rp_doc_destroy(&doc);

    //  Updates: a nil version is absent, a mistyped one 400, a stale one 412.
    rp_testservice_args(&args, (const char *[]){"id", id, "version", "~", "grade", "B", NULL});
    doc = rp_testservice_call(service, true, "customers.update", &ann, NULL, &args, &reply);
    uint64_t version = 0;
    assert(reply.status == 200 && rp_obj_u64(rp_obj_get(reply.data, "version"), &version) &&
           version == 2);
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"id", id, "version", "two", NULL});
    doc = rp_testservice_call(service, true, "customers.update", &ann, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "bad_args"));
    rp_doc_destroy(&doc);
    rp_testservice_args(&args, (const char *[]){"id", id, "version", "#1", "grade", "C", NULL});
    doc = rp_testservice_call(service, true, "customers.archive", &ann, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 412, "version_mismatch"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "customers.update", &bob, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 404, "not_found"));
    rp_doc_destroy(&doc);

    //  The runtime's refusals and the writes' checks, alike for every op.
    rp_testservice_args(&args, (const char *[]){"name", "x", NULL});
    doc = rp_testservice_call(service, true, "customers.nope", &ann, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "unknown_op"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "customers.create", &ann, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "writer_only"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "customers.import", &ann, NULL, NULL, &reply);
    assert(rp_testservice_error_is(&reply, 400, "bad_args"));
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "customers.create", &rex, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);
    doc =
        rp_testservice_call(service, true, "customers.contacts.create", &none, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 403, "forbidden"));
    rp_doc_destroy(&doc);

    rp_packer_destroy(&args);
    rp_testservice_destroy(&service);
}
