/*  relations.c — see relations.h. */
#include "relations.h"
#include "order.h"
#include "unmatched.h"
#include "activity.h"
#include "apply.h"
#include "assign.h"
#include "contact.h"
#include "handlers.h"
#include <rapport/event.h>
#include <rapport/random.h>
#include "merge.h"
#include "page.h"
#include "pending.h"
#include "scope.h"
#include "timeline.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct _relations_t {
    char region[8];
    pending_t *pending;
};

//  What people read for a refusal apply recorded.
static const char *s_refusal_message(int status, const char *code, size_t code_len)
{
#define IS(text) (code_len == strlen(text) && memcmp(code, text, code_len) == 0)
    if (IS("self_merge"))
        return "a customer cannot be merged into itself";
    if (IS("archived"))
        return "the customer is archived; restore it first";
    if (IS("exists"))
        return "the id is taken";
#undef IS
    return status == 404   ? "no such customer or contact"
           : status == 412 ? "the record changed since that version"
           : status == 422 ? "the event was refused as malformed"
                           : "the change was refused";
}

relations_t *relations_new(const char *region)
{
    relations_t *self = calloc(1, sizeof *self);
    assert(self);
    snprintf(self->region, sizeof self->region, "%s", region);
    self->pending = pending_new(s_refusal_message);
    return self;
}

void relations_destroy(relations_t **self_p)
{
    relations_t *self = *self_p;
    if (!self)
        return;
    pending_destroy(&self->pending);
    free(self);
    *self_p = NULL;
}

//  One request being served.
typedef struct {
    relations_t *self;
    rp_service_t *service;
    rp_origin_t *origin; //  NULL once answered
    const rp_request_t *req;
    rp_scope_t scope;
    char idem[RP_MAX_IDEM + 1];
} call_t;

//  A call for one of the ops (arg: the customers handlers).
static call_t s_call(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    call_t call = {.self = customers_handlers_relations(arg),
                   .service = service,
                   .origin = origin,
                   .req = req};
    rp_scope_parse(&call.scope, req);
    return call;
}

//  ---------------------------------------------------------------------
//  Replies

static void s_invalid(call_t *call, const rp_field_error_t *errors, int count)
{
    rp_service_reply_invalid(call->service, &call->origin, "some fields are not valid", errors,
                             count);
}

static void s_field_error(call_t *call, const char *field, const char *code, const char *message)
{
    rp_field_error_t error;
    rp_field_error_set(&error, field, strlen(field), code);
    error.message = message;
    s_invalid(call, &error, 1);
}

static void s_error(call_t *call, int status, const char *code, const char *message)
{
    rp_service_reply_error(call->service, &call->origin, status, code, message);
}

//  ---------------------------------------------------------------------
//  The customer a call is about: args.id, in the caller's scope

typedef struct {
    const rp_scope_t *scope;
    bool write;
    const char *id;
    size_t id_len;
    bool found;
    uint64_t version;
    bool archived;
    char team[RP_MAX_ACTOR + 1];
} target_t;

static int s_target_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *target = (target_t *)arg;
    customers_apply_held_t held;
    if (customers_apply_hold(store, txn, target->id, target->id_len, &held) == 0 &&
        scope_allows(target->scope, &held.record, target->write)) {
        const char *team;
        size_t team_len;
        target->found = true;
        target->version = rp_record_version(&held.record);
        rp_obj_bool(&held.record.values[CUSTOMER_ARCHIVED], &target->archived);
        if (rp_record_str(&held.record, CUSTOMER_TEAM, &team, &team_len) &&
            team_len <= RP_MAX_ACTOR) {
            memcpy(target->team, team, team_len);
            target->team[team_len] = 0;
        }
    }
    customers_apply_release(&held);
    return 0;
}

//  Look up a customer by id; false (not found or out of scope) or true.
static bool s_lookup(call_t *call, const char *id, size_t id_len, bool write, target_t *target)
{
    memset(target, 0, sizeof *target);
    target->scope = &call->scope;
    target->write = write;
    target->id = id;
    target->id_len = id_len;
    rp_store_read(rp_service_store(call->service), s_target_read, target);
    return target->found;
}

//  args.id must name a customer in scope; else answer and return false.
static bool s_target(call_t *call, bool write, target_t *target)
{
    const char *id;
    size_t id_len;
    if (!rp_obj_str(rp_obj_get(call->req->args, "id"), &id, &id_len)) {
        s_error(call, 400, "bad_args", "args.id must be a string");
        return false;
    }
    if (!s_lookup(call, id, id_len, write, target)) {
        s_error(call, 404, "not_found", "no such customer");
        return false;
    }
    return true;
}

//  A string arg of 1..max bytes without NUL (for ids); else answer 400.
static bool s_id_arg(call_t *call, const char *name, size_t max, const char **str, size_t *len)
{
    if (rp_obj_str(rp_obj_get(call->req->args, name), str, len) && *len >= 1 && *len <= max &&
        !memchr(*str, 0, *len))
        return true;
    char message[96];
    snprintf(message, sizeof message, "args.%s must be a string of 1..%zu bytes", name, max);
    s_error(call, 400, "bad_args", message);
    return false;
}

//  args.version, when given: false (answered) if it is not an integer.
static bool s_version_arg(call_t *call, const msgpack_object **obj, uint64_t *version)
{
    return rp_writes_version_arg(call->service, &call->origin, call->req, obj, version);
}

//  ---------------------------------------------------------------------
//  Reads

typedef struct {
    const char *db;
    page_t page;
} list_read_t;

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_read_t *read = (list_read_t *)arg;
    return page_read(txn, rp_store_dbi(store, read->db), &read->page);
}

//  {items, next_cursor} of a customer's contacts, activities or timeline.
static void s_list(call_t *call, const char *db, bool reverse)
{
    target_t target;
    if (!s_target(call, false, &target))
        return;
    list_read_t read = {.db = db,
                        .page = {.owner = target.id,
                                 .owner_len = target.id_len,
                                 .reverse = reverse,
                                 .limit = PAGE_LIMIT_DEFAULT}};
    const msgpack_object *limit = rp_obj_get(call->req->args, "limit");
    if (limit && (!rp_obj_u64(limit, &read.page.limit) || read.page.limit < 1 ||
                  read.page.limit > PAGE_LIMIT_MAX)) {
        s_field_error(call, "limit", "out_of_range", "limit must be 1..200");
        return;
    }
    const msgpack_object *cursor = rp_obj_get(call->req->args, "cursor");
    if (cursor && cursor->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_str(cursor, &read.page.after, &read.page.after_len) || read.page.after_len == 0 ||
         read.page.after_len > PAGE_MAX_REST)) {
        s_field_error(call, "cursor", "invalid", "cursor must be a next_cursor given before");
        return;
    }
    rp_packer_t items;
    rp_packer_init(&items);
    read.page.items = &items;
    if (rp_store_read(rp_service_store(call->service), s_list_read, &read))
        s_error(call, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(call->service, &call->origin, &items, read.page.count,
                              read.page.next);
    rp_packer_destroy(&items);
}

//  A stored entry as reply data: a contact (customer id, contact id), an
//  activity (customer id, activity id, activity true) or a customer (id,
//  NULL). After a write, the ref comes from the timeline entry the event
//  left (ref_key): a retried request (same idem, so the first event's seq)
//  made up an id of its own that never reached the journal.
typedef struct {
    const char *id, *ref;
    bool activity;
    const char *ref_key; //  "contact_id" / "activity_id", or NULL
    const msgpack_object *reply_id;
    uint64_t seq;
    rp_packer_t *packer;
    bool found;
} entry_read_t;

static int s_entry_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    entry_read_t *read = (entry_read_t *)arg;
    char first[CONTACT_MAX_ID + 1];
    if (read->ref_key && timeline_data_str(store, txn, read->id, strlen(read->id), read->seq,
                                           read->ref_key, first, sizeof first))
        read->ref = first;
    MDB_val value;
    int rc = !read->ref ? customers_apply_record_get(store, txn, read->id, strlen(read->id), &value)
             : read->activity ? activity_get(store, txn, read->ref, strlen(read->ref), &value)
                              : contact_get(store, txn, read->id, strlen(read->id), read->ref,
                                            strlen(read->ref), &value);
    read->found = rc == 0;
    if (!read->found)
        return 0;
    rp_reply_pack(&read->packer->pk, read->reply_id, 200, read->seq, 1);
    rp_pack_cstr(&read->packer->pk, "data");
    rp_doc_t *doc = read->ref ? NULL : rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (doc) //  a customer: with its stats, as customers.get answers
        order_pack_customer(store, txn, rp_doc_root(doc), order_year(), &read->packer->pk);
    else
        msgpack_sbuffer_write(&read->packer->buffer, value.mv_data, value.mv_size);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply_entry(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                          const char *id, const char *ref, const char *ref_key, const char *missing)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    entry_read_t read = {id,
                         ref,
                         ref_key && strcmp(ref_key, "activity_id") == 0,
                         ref_key,
                         rp_origin_id(*origin_p),
                         seq,
                         &packer,
                         false};
    rp_store_read(rp_service_store(service), s_entry_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", missing);
    rp_packer_destroy(&packer);
}

void relations_contacts_get(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    target_t target;
    const char *contact_id;
    size_t contact_id_len;
    if (!s_target(call, false, &target) ||
        !s_id_arg(call, "contact_id", CONTACT_MAX_ID, &contact_id, &contact_id_len))
        return;
    char id[APPLY_MAX_ID + 1], ref[CONTACT_MAX_ID + 1];
    snprintf(id, sizeof id, "%.*s", (int)target.id_len, target.id);
    snprintf(ref, sizeof ref, "%.*s", (int)contact_id_len, contact_id);
    s_reply_entry(call->service, &call->origin, 0, id, ref, NULL, "no such contact");
}

//  ---------------------------------------------------------------------
//  Writes

static void s_done_customer(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                            const char *id, const char *ref)
{
    (void)ref;
    s_reply_entry(service, origin_p, seq, id, NULL, NULL, "no such customer any more");
}

static void s_done_contact(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                           const char *id, const char *ref)
{
    s_reply_entry(service, origin_p, seq, id, ref, "contact_id",
                  "no such contact any more"); //  removed since
}

static void s_done_activity(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                            const char *id, const char *ref)
{
    s_reply_entry(service, origin_p, seq, id, ref, "activity_id", "no such activity any more");
}

static void s_done_removed(rp_service_t *service, rp_origin_t **origin_p, uint64_t seq,
                           const char *id, const char *ref)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "id", ref);
    rp_pack_kv_cstr(&packer.pk, "customer_id", id);
    rp_pack_kv_bool(&packer.pk, "deleted", true);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  Checks common to every write (pending.h); on failure answers and
//  returns false.
static bool s_write_allowed(call_t *call)
{
    return pending_write_allowed(call->service, &call->origin, call->req, &call->scope, call->idem);
}

//  Open an event map for the target customer; the caller packs data's
//  value (a map whose first pair is {id: customer id}, already packed
//  here: data_pairs counts the others).
static void s_event_open(call_t *call, rp_packer_t *event, const char *type, const target_t *target,
                         size_t data_pairs)
{
    rp_event_open(&event->pk, type, "customers", target->id, target->id_len, &call->scope);
    msgpack_pack_map(&event->pk, 1 + data_pairs);
    rp_pack_cstr(&event->pk, "id");
    rp_pack_strn(&event->pk, target->id, target->id_len);
}

static void s_append(call_t *call, rp_packer_t *event, const char *ref, pending_done_fn *done)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    pending_append(call->self->pending, call->service, &call->origin, events, 1, call->idem, ref,
                   done);
}

//  Validate the request's fields as a new record or changes; answers 422.
static bool s_fields(call_t *call, rp_record_t *record, const char *const *skip, bool create)
{
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    int count = rp_record_validate(record, call->req->args, skip, create, call->self->region,
                                   errors, CUSTOMER_MAX_ERRORS);
    if (count)
        s_invalid(call, errors, count);
    return count == 0;
}

void relations_contacts_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    static const char *const skip[] = {"id", NULL};
    target_t target;
    if (!s_write_allowed(call) || !s_target(call, true, &target))
        return;
    rp_record_t contact;
    contact_init(&contact);
    if (s_fields(call, &contact, skip, true)) {
        char contact_id[RP_ID_SIZE];
        rp_id_format(contact_id);
        rp_packer_t event;
        rp_packer_init(&event);
        s_event_open(call, &event, "customer.contact_added", &target, 2);
        rp_pack_kv_cstr(&event.pk, "contact_id", contact_id);
        rp_pack_cstr(&event.pk, "contact");
        rp_record_pack_given(&contact, &event.pk);
        s_append(call, &event, contact_id, s_done_contact);
        rp_packer_destroy(&event);
    }
    rp_record_reset(&contact);
}

//  The stored contact's version, if it exists.
typedef struct {
    const char *id, *contact_id;
    size_t id_len, contact_id_len;
    bool found;
    uint64_t version;
} contact_read_t;

static int s_contact_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    contact_read_t *read = (contact_read_t *)arg;
    MDB_val value;
    rp_doc_t *doc = NULL;
    if (contact_get(store, txn, read->id, read->id_len, read->contact_id, read->contact_id_len,
                    &value) == 0)
        doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    read->found = doc != NULL;
    rp_obj_u64(rp_obj_get(doc ? rp_doc_root(doc) : NULL, "version"), &read->version);
    rp_doc_destroy(&doc);
    return 0;
}

//  update (remove false) or delete (remove true) a contact.
static void s_contacts_change(call_t *call, bool remove)
{
    static const char *const skip[] = {"id", "contact_id", "version", NULL};
    target_t target;
    contact_read_t read = {0};
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_write_allowed(call) || !s_target(call, true, &target) ||
        !s_id_arg(call, "contact_id", CONTACT_MAX_ID, &read.contact_id, &read.contact_id_len) ||
        !s_version_arg(call, &version_obj, &version))
        return;
    read.id = target.id;
    read.id_len = target.id_len;
    rp_store_read(rp_service_store(call->service), s_contact_read, &read);
    if (!read.found) {
        s_error(call, 404, "not_found", "no such contact");
        return;
    }
    //  With idem, apply decides (a retry must get the first answer).
    if (version_obj && version != read.version && !call->req->idem) {
        s_error(call, 412, "version_mismatch", "the contact changed since that version");
        return;
    }
    rp_record_t changes;
    contact_init(&changes);
    if (remove || s_fields(call, &changes, skip, false)) {
        char ref[CONTACT_MAX_ID + 1];
        snprintf(ref, sizeof ref, "%.*s", (int)read.contact_id_len, read.contact_id);
        rp_packer_t event;
        rp_packer_init(&event);
        s_event_open(call, &event, remove ? "customer.contact_removed" : "customer.contact_updated",
                     &target, (remove ? 1 : 2) + (version_obj != NULL));
        rp_pack_kv_cstr(&event.pk, "contact_id", ref);
        if (version_obj)
            rp_pack_kv_u64(&event.pk, "expected_version", version);
        if (!remove) {
            rp_pack_cstr(&event.pk, "changes");
            rp_record_pack_given(&changes, &event.pk);
        }
        s_append(call, &event, ref, remove ? s_done_removed : s_done_contact);
        rp_packer_destroy(&event);
    }
    rp_record_reset(&changes);
}

void relations_activities_create(void *arg, rp_service_t *service, rp_origin_t *origin,
                                 const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    static const char *const skip[] = {"id", NULL};
    target_t target;
    if (!s_write_allowed(call) || !s_target(call, true, &target))
        return;
    rp_record_t activity;
    activity_init(&activity);
    if (s_fields(call, &activity, skip, true)) {
        char activity_id[RP_ID_SIZE];
        rp_id_format(activity_id);
        rp_packer_t event;
        rp_packer_init(&event);
        s_event_open(call, &event, "customer.activity_logged", &target, 2);
        rp_pack_kv_cstr(&event.pk, "activity_id", activity_id);
        rp_pack_cstr(&event.pk, "activity");
        rp_record_pack_given(&activity, &event.pk);
        s_append(call, &event, activity_id, s_done_activity);
        rp_packer_destroy(&event);
    }
    rp_record_reset(&activity);
}

//  owner / team of an assignment: a name of 1..100 bytes, no control
//  characters. NULL or an error code.
static const char *s_name_check(const msgpack_object *o, const char **str, size_t *len)
{
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return "required";
    if (!rp_obj_str(o, str, len))
        return "type";
    return *len == 0 ? "required" : rp_normalize_text(*str, *len, ASSIGN_MAX_NAME, RP_TEXT_BLANK);
}

void relations_assign(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    const rp_scope_t *scope = &call->scope;
    target_t target;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_write_allowed(call))
        return;
    if (scope->role != RP_ROLE_ADMIN && scope->role != RP_ROLE_MANAGER) {
        s_error(call, 403, "forbidden", "only managers and admins assign customers");
        return;
    }
    if (!s_target(call, true, &target) || !s_version_arg(call, &version_obj, &version))
        return;
    rp_field_error_t errors[5];
    int count = 0;
    const char *owner = NULL, *team = NULL, *err;
    size_t owner_len = 0, team_len = 0;
    const msgpack_object *team_obj = rp_obj_get(call->req->args, "team");
    if ((err = s_name_check(rp_obj_get(call->req->args, "owner"), &owner, &owner_len)) != NULL)
        rp_field_error_set(&errors[count++], "owner", 5, err);
    if (team_obj && team_obj->type != MSGPACK_OBJECT_NIL &&
        (err = s_name_check(team_obj, &team, &team_len)) != NULL)
        rp_field_error_set(&errors[count++], "team", 4, err);
    else if (team && scope->role == RP_ROLE_MANAGER &&
             !(team_len == scope->team_len && memcmp(team, scope->team, team_len) == 0)) {
        rp_field_error_set(&errors[count], "team", 4, "out_of_scope");
        errors[count++].message = "a manager assigns within their own team";
    }
    //  with_opportunities: the opportunities service gives the customer's
    //  open deals the new owner too (customers' apply ignores it).
    const msgpack_object *with_obj = rp_obj_get(call->req->args, "with_opportunities");
    bool with_opportunities = false;
    if (with_obj && with_obj->type != MSGPACK_OBJECT_NIL) {
        if (with_obj->type != MSGPACK_OBJECT_BOOLEAN)
            rp_field_error_set(&errors[count++], "with_opportunities", 18, "type");
        else
            with_opportunities = with_obj->via.boolean;
    }
    for (uint32_t i = 0; i < call->req->args->via.map.size && count < 5; i++) {
        const msgpack_object *key = &call->req->args->via.map.ptr[i].key;
        if (!rp_obj_streq(key, "id") && !rp_obj_streq(key, "owner") && !rp_obj_streq(key, "team") &&
            !rp_obj_streq(key, "version") && !rp_obj_streq(key, "with_opportunities"))
            rp_field_error_set(&errors[count++],
                               key->type == MSGPACK_OBJECT_STR ? key->via.str.ptr : "?",
                               key->type == MSGPACK_OBJECT_STR ? key->via.str.size : 1, "unknown");
    }
    if (count) {
        s_invalid(call, errors, count);
        return;
    }
    if (version_obj && version != target.version && !call->req->idem) {
        s_error(call, 412, "version_mismatch", "the customer changed since that version");
        return;
    }
    rp_packer_t event;
    rp_packer_init(&event);
    s_event_open(call, &event, "customer.assigned", &target,
                 1 + (team != NULL) + (version_obj != NULL) + with_opportunities);
    rp_pack_cstr(&event.pk, "owner");
    rp_pack_strn(&event.pk, owner, owner_len);
    if (team) {
        rp_pack_cstr(&event.pk, "team");
        rp_pack_strn(&event.pk, team, team_len);
    }
    if (with_opportunities) {
        rp_pack_cstr(&event.pk, "with_opportunities");
        msgpack_pack_true(&event.pk);
    }
    if (version_obj)
        rp_pack_kv_u64(&event.pk, "expected_version", version);
    s_append(call, &event, NULL, s_done_customer);
    rp_packer_destroy(&event);
}

void relations_merge(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    target_t target, source;
    if (!s_write_allowed(call) || !s_target(call, true, &target))
        return;
    const msgpack_object *from = rp_obj_get(call->req->args, "from");
    if (!rp_obj_is_array(from) || from->via.array.size == 0 ||
        from->via.array.size > MERGE_MAX_FROM) {
        s_field_error(call, "from", from && !rp_obj_is_array(from) ? "type" : "invalid",
                      "from must list 1..50 customer ids");
        return;
    }
    for (uint32_t i = 0; i < from->via.array.size; i++) {
        const char *id;
        size_t id_len;
        if (!rp_obj_str(&from->via.array.ptr[i], &id, &id_len)) {
            s_field_error(call, "from", "type", "from must list customer ids (strings)");
            return;
        }
        if (id_len == target.id_len && memcmp(id, target.id, id_len) == 0) {
            s_field_error(call, "from", "invalid", "a customer cannot be merged into itself");
            return;
        }
        for (uint32_t j = 0; j < i; j++)
            if (from->via.array.ptr[j].via.str.size == id_len &&
                memcmp(from->via.array.ptr[j].via.str.ptr, id, id_len) == 0) {
                s_field_error(call, "from", "invalid", "from lists a customer twice");
                return;
            }
        if (!s_lookup(call, id, id_len, true, &source)) {
            char message[128];
            snprintf(message, sizeof message, "no such customer: %.*s",
                     (int)rp_normalize_cut(id, id_len, 64), id);
            s_error(call, 404, "not_found", message);
            return;
        }
    }
    if (target.archived) {
        s_error(call, 422, "archived", "the customer merged into is archived; restore it first");
        return;
    }
    rp_packer_t event;
    rp_packer_init(&event);
    s_event_open(call, &event, "customer.merged", &target, 1);
    rp_pack_kv_obj(&event.pk, "from", from);
    s_append(call, &event, NULL, s_done_customer);
    rp_packer_destroy(&event);
}

//  ---------------------------------------------------------------------
//  The ops that share a body

void relations_contacts_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                             const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_list(&call, "contacts", false);
}

void relations_activities_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_list(&call, "activities", true);
}

void relations_timeline(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_list(&call, "timeline", true);
}

void relations_orders_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                           const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_list(&call, "customer_orders", true);
}

//  ---------------------------------------------------------------------
//  The unmatched queue (admins)

static bool s_admin(call_t *call)
{
    if (call->scope.role == RP_ROLE_ADMIN)
        return true;
    s_error(call, 403, "forbidden", "only admins see and match unmatched orders");
    return false;
}

typedef struct {
    const char *after;
    size_t after_len, limit, count;
    rp_packer_t *items;
    char next[17];
} unmatched_read_t;

static int s_unmatched_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    unmatched_read_t *read = (unmatched_read_t *)arg;
    return unmatched_page(store, txn, read->after, read->after_len, read->limit, read->items,
                          &read->count, read->next);
}

void relations_unmatched_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                              const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    if (!s_admin(call))
        return;
    unmatched_read_t read = {.limit = PAGE_LIMIT_DEFAULT};
    const msgpack_object *limit = rp_obj_get(req->args, "limit");
    if (limit && (!rp_obj_u64(limit, &read.limit) || read.limit < 1 || read.limit > PAGE_LIMIT_MAX))
        return s_field_error(call, "limit", "out_of_range", "limit must be 1..200");
    const msgpack_object *cursor = rp_obj_get(req->args, "cursor");
    uint64_t seq;
    if (cursor && cursor->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_str(cursor, &read.after, &read.after_len) ||
         !unmatched_id_seq(read.after, read.after_len, &seq)))
        return s_field_error(call, "cursor", "invalid",
                             "cursor must be a next_cursor given before");
    rp_packer_t items;
    rp_packer_init(&items);
    read.items = &items;
    if (rp_store_read(rp_service_store(service), s_unmatched_read, &read))
        s_error(call, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &call->origin, &items, read.count, read.next);
    rp_packer_destroy(&items);
}

typedef struct {
    uint64_t seq;
    bool found;
} queued_read_t;

static int s_queued_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    queued_read_t *read = (queued_read_t *)arg;
    char id[17];
    unmatched_id(id, read->seq);
    MDB_val key = {16, id}, value;
    read->found = mdb_get(txn, rp_store_dbi(store, "unmatched"), &key, &value) == 0;
    return 0;
}

void relations_unmatched_match(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    call_t one = s_call(arg, service, origin, req), *call = &one;
    const char *id, *customer_id;
    size_t id_len, customer_id_len;
    target_t target;
    queued_read_t queued = {0, false};
    if (!s_write_allowed(call) || !s_admin(call) || !s_id_arg(call, "id", 16, &id, &id_len) ||
        !s_id_arg(call, "customer_id", APPLY_MAX_ID, &customer_id, &customer_id_len))
        return;
    if (!unmatched_id_seq(id, id_len, &queued.seq))
        return s_error(call, 404, "not_found", "no such unmatched entry");
    rp_store_read(rp_service_store(service), s_queued_read, &queued);
    if (!queued.found && !call->req->idem)
        return s_error(call, 404, "not_found", "no such unmatched entry");
    if (!s_lookup(call, customer_id, customer_id_len, true, &target))
        return s_field_error(call, "customer_id", "unknown_customer", "no such customer");
    if (target.archived)
        return s_field_error(call, "customer_id", "archived", "the customer is archived");
    rp_packer_t event;
    rp_packer_init(&event);
    s_event_open(call, &event, "customer.event_matched", &target, 1);
    rp_pack_kv_u64(&event.pk, "unmatched", queued.seq);
    s_append(call, &event, NULL, s_done_customer);
    rp_packer_destroy(&event);
}

void relations_contacts_update(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_contacts_change(&call, false);
}

void relations_contacts_delete(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    call_t call = s_call(arg, service, origin, req);
    s_contacts_change(&call, true);
}
