/*  deals.c — see deals.h. */
#include "deals.h"
#include "apply.h"
#include "deal.h"
#include "handlers.h"
#include "opportunity.h"

#include "../customers/apply.h"
#include "../customers/customer.h"
#include "../customers/page.h"

#include <rapport/event.h>
#include <rapport/normalize.h>
#include <rapport/random.h>
#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/write.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEALS_WAIT_MS  10000 //  a write's wait for its own apply
#define DEALS_NOTE_MAX 1000

//  What people read for a refusal apply recorded.
static const rp_write_message_t s_messages[] = {
    {"unknown_customer", "no such customer (or it is archived, or outside your reach)"},
    {"unknown_pipeline", "no such pipeline"},
    {"unknown_stage", "the pipeline has no such stage"},
    {"lost_reason_required", "a move to a lost stage needs a lost_reason"},
    {"unknown_lost_reason", "not one of the pipeline's lost reasons"},
    {"version_mismatch", "the opportunity changed since that version"},
    {"not_found", "no such opportunity"},
    {"exists", "an opportunity with that id exists"},
    {"bad_event", "the change is not valid"},
    {NULL},
};

const char *deals_refusal_message(int status, const char *code, size_t len)
{
    const char *message = rp_write_message(s_messages, code, len);
    return message ? message : status == 404 ? "no such opportunity" : "the change was refused";
}

//  ---------------------------------------------------------------------
//  Reading one deal

typedef struct {
    const char *id;
    size_t id_len;
    const rp_scope_t *actor; //  NULL: no scope check (the writer's own answer)
    bool write;              //  the reach of a write (else of a read)
    rp_packer_t *packer;     //  NULL: only look
    const msgpack_object *reply_id;
    uint64_t seq;
    //  out
    bool found;
    uint64_t version;
} deal_read_t;

static bool s_allowed(const deal_read_t *read, const rp_record_t *deal)
{
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    if (!read->actor)
        return true;
    rp_record_str(deal, OPPORTUNITY_OWNER, &owner, &owner_len);
    rp_record_str(deal, OPPORTUNITY_TEAM, &team, &team_len);
    return rp_scope_allows(read->actor, owner, owner_len, team, team_len, read->write);
}

static int s_deal_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    deal_read_t *read = (deal_read_t *)arg;
    if (read->id_len == 0 || read->id_len > OPPORTUNITIES_MAX_ID)
        return 0;
    MDB_val key = {read->id_len, (void *)read->id}, value;
    if (mdb_get(txn, rp_store_dbi(store, "opportunities"), &key, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    rp_record_t deal;
    opportunity_init(&deal);
    if (doc)
        rp_record_from_map(&deal, rp_doc_root(doc));
    if (doc && s_allowed(read, &deal)) {
        read->found = true;
        read->version = rp_record_version(&deal);
        if (read->packer) {
            rp_reply_pack(&read->packer->pk, read->reply_id, 200, read->seq, 1);
            rp_pack_cstr(&read->packer->pk, "data");
            msgpack_sbuffer_write(&read->packer->buffer, value.mv_data, value.mv_size);
        }
    }
    rp_record_reset(&deal);
    rp_doc_destroy(&doc);
    return 0;
}

static void s_reply_deal(rp_service_t *service, rp_origin_t **origin_p, const rp_scope_t *actor,
                         const char *id, size_t id_len, uint64_t seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    deal_read_t read = {.id = id,
                        .id_len = id_len,
                        .actor = actor,
                        .packer = &packer,
                        .reply_id = rp_origin_id(*origin_p),
                        .seq = seq};
    rp_store_read(rp_service_store(service), s_deal_read, &read);
    if (read.found)
        rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such opportunity");
    rp_packer_destroy(&packer);
}

//  args.id of a deal the actor may read (write false) or change: its
//  version in *read. Replies 400/404 and returns false otherwise.
static bool s_target(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                     const rp_scope_t *actor, bool write, deal_read_t *read)
{
    memset(read, 0, sizeof *read);
    read->actor = actor;
    read->write = write;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &read->id, &read->id_len)) {
        rp_service_reply_error(service, origin_p, 400, "bad_args", "args.id must be a string");
        return false;
    }
    rp_store_read(rp_service_store(service), s_deal_read, read);
    if (!read->found)
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such opportunity");
    return read->found;
}

//  ---------------------------------------------------------------------
//  Writes: append, wait, answer the outcome

static void s_applied(void *arg, rp_service_t *service, rp_origin_t **origin_p, uint64_t seq)
{
    (void)arg;
    rp_write_outcome_t outcome;
    rp_writes_outcome(rp_service_store(service), seq, rp_origin_id(*origin_p),
                      deals_refusal_message, &outcome);
    if (outcome.status == 200)
        s_reply_deal(service, origin_p, NULL, outcome.id, strlen(outcome.id), seq);
    else if (outcome.status)
        rp_service_reply(service, origin_p, outcome.refusal.buffer.data,
                         outcome.refusal.buffer.size);
    else
        rp_service_reply_error(service, origin_p, 500, "no_outcome", "the event left no outcome");
    rp_packer_destroy(&outcome.refusal);
}

//  Append the event (freed here) and answer once applied.
static void s_append(void *arg, rp_service_t *service, rp_origin_t **origin_p, rp_packer_t *event,
                     const char *idem)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    rp_writes_append(opportunities_handlers_writes(arg), service, origin_p, events, 1, idem,
                     DEALS_WAIT_MS, s_applied, NULL, NULL);
    rp_packer_destroy(event);
}

static bool s_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    const rp_scope_t *actor, char idem[RP_MAX_IDEM + 1])
{
    return rp_writes_admit(service, origin_p, req, rp_scope_may_write(actor),
                           "this role cannot change opportunities", idem);
}

//  args.version, optional: when given it must be the stored one (unless
//  the request has an idem key: its retry must get the first answer, and
//  apply checks the version itself).
static bool s_version(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                      const deal_read_t *target, const msgpack_object **version_obj,
                      uint64_t *version)
{
    if (!rp_writes_version_arg(service, origin_p, req, version_obj, version))
        return false;
    if (*version_obj && *version != target->version && !req->idem) {
        rp_service_reply_error(service, origin_p, 412, "version_mismatch",
                               "the opportunity changed since that version");
        return false;
    }
    return true;
}

bool deals_customer_visible(rp_store_t *store, MDB_txn *txn, const rp_scope_t *actor,
                            const rp_record_t *deal)
{
    const char *id;
    size_t len;
    if (!rp_record_str(deal, OPPORTUNITY_CUSTOMER_ID, &id, &len) ||
        !deal_customer_ok(store, txn, id, len))
        return false;
    customers_apply_held_t held;
    bool ok = false;
    if (customers_apply_hold(store, txn, id, len, &held) == 0) {
        const char *owner = NULL, *team = NULL;
        size_t owner_len = 0, team_len = 0;
        rp_record_str(&held.record, CUSTOMER_OWNER, &owner, &owner_len);
        rp_record_str(&held.record, CUSTOMER_TEAM, &team, &team_len);
        ok = rp_scope_allows(actor, owner, owner_len, team, team_len, false);
    }
    customers_apply_release(&held);
    return ok;
}

typedef struct {
    const rp_scope_t *actor;
    const rp_record_t *deal;
    bool ok;
} customer_check_t;

static int s_customer_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    customer_check_t *check = (customer_check_t *)arg;
    check->ok = deals_customer_visible(store, txn, check->actor, check->deal);
    return 0;
}

static bool s_customer_visible(rp_service_t *service, const rp_scope_t *actor,
                               const rp_record_t *deal)
{
    customer_check_t check = {actor, deal, false};
    rp_store_read(rp_service_store(service), s_customer_read, &check);
    return check.ok;
}

int deals_check(const rp_scope_t *actor, const msgpack_object *fields, bool create,
                rp_record_t *deal, rp_field_error_t *errors, int max)
{
    static const char *const skip_update[] = {"id", "version", NULL};
    int count = rp_record_validate(deal, fields, create ? NULL : skip_update, create, NULL, errors,
                                   max - 1);
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    rp_record_str(deal, OPPORTUNITY_OWNER, &owner, &owner_len);
    rp_record_str(deal, OPPORTUNITY_TEAM, &team, &team_len);
    const char *field =
        count ? NULL
              : rp_scope_assign_check(actor, deal->given[OPPORTUNITY_OWNER], owner, owner_len,
                                      deal->given[OPPORTUNITY_TEAM], team, team_len);
    if (field) {
        rp_field_error_set(&errors[count], field, strlen(field), "out_of_scope");
        errors[count++].message = "outside what this role may assign";
    }
    if (count == 0 && create && !deal->given[OPPORTUNITY_OWNER])
        rp_record_set_str(deal, OPPORTUNITY_OWNER, actor->user, actor->user_len);
    if (count == 0 && create && !deal->given[OPPORTUNITY_TEAM] && actor->team_len)
        rp_record_set_str(deal, OPPORTUNITY_TEAM, actor->team, actor->team_len);
    return count;
}

//  The client's fields into deal; replies 422 and returns false when some
//  are not valid.
static bool s_validate(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                       const rp_scope_t *actor, rp_record_t *deal, bool create)
{
    rp_field_error_t errors[OPPORTUNITY_MAX_ERRORS];
    int count = deals_check(actor, req->args, create, deal, errors, OPPORTUNITY_MAX_ERRORS);
    if (count)
        rp_service_reply_invalid(service, origin_p, "some fields are not valid", errors, count);
    return count == 0;
}

static void s_refuse_customer(rp_service_t *service, rp_origin_t **origin_p)
{
    rp_service_reply_error(service, origin_p, 422, "unknown_customer",
                           deals_refusal_message(422, "unknown_customer", 16));
}

void deals_create(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, idem))
        return;
    rp_record_t deal;
    opportunity_init(&deal);
    if (s_validate(service, &origin, req, &actor, &deal, true)) {
        if (!s_customer_visible(service, &actor, &deal))
            s_refuse_customer(service, &origin);
        else {
            char id[RP_ID_SIZE];
            rp_id_format(id);
            rp_packer_t event;
            rp_packer_init(&event);
            rp_event_open(&event.pk, "opportunity.created", "opportunities", id, strlen(id),
                          &actor);
            msgpack_pack_map(&event.pk, 2);
            rp_pack_kv_cstr(&event.pk, "id", id);
            rp_pack_cstr(&event.pk, "record");
            rp_record_pack_given(&deal, &event.pk);
            s_append(arg, service, &origin, &event, idem);
        }
    }
    rp_record_reset(&deal);
}

void deals_update(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    deal_read_t target;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_admit(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &actor, true, &target) ||
        !s_version(service, &origin, req, &target, &version_obj, &version))
        return;
    rp_record_t changes;
    opportunity_init(&changes);
    if (s_validate(service, &origin, req, &actor, &changes, false)) {
        if (changes.given[OPPORTUNITY_CUSTOMER_ID] &&
            !s_customer_visible(service, &actor, &changes))
            s_refuse_customer(service, &origin);
        else {
            rp_packer_t event;
            rp_packer_init(&event);
            rp_event_open(&event.pk, "opportunity.updated", "opportunities", target.id,
                          target.id_len, &actor);
            msgpack_pack_map(&event.pk, version_obj ? 3 : 2);
            rp_pack_cstr(&event.pk, "id");
            rp_pack_strn(&event.pk, target.id, target.id_len);
            if (version_obj)
                rp_pack_kv_u64(&event.pk, "expected_version", version);
            rp_pack_cstr(&event.pk, "changes");
            rp_record_pack_given(&changes, &event.pk);
            s_append(arg, service, &origin, &event, idem);
        }
    }
    rp_record_reset(&changes);
}

//  An optional text arg of 1..max bytes (note: newlines allowed): 0 or 1
//  error written.
static int s_text_arg(const rp_request_t *req, const char *name, size_t max, int flags,
                      rp_field_error_t *error)
{
    const msgpack_object *o = rp_obj_get(req->args, name);
    const char *str;
    size_t len;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return 0;
    const char *code =
        !rp_obj_str(o, &str, &len) ? "type" : rp_normalize_text(str, len, max, flags);
    if (code)
        rp_field_error_set(error, name, strlen(name), code);
    return code != NULL;
}

void deals_stage(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    deal_read_t target;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_admit(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &actor, true, &target) ||
        !s_version(service, &origin, req, &target, &version_obj, &version))
        return;
    rp_field_error_t errors[3];
    int count = 0;
    const char *stage;
    size_t stage_len;
    const msgpack_object *stage_obj = rp_obj_get(req->args, "stage");
    if (!rp_obj_str(stage_obj, &stage, &stage_len) || stage_len == 0)
        rp_field_error_set(&errors[count++], "stage", 5,
                           stage_obj && stage_obj->type != MSGPACK_OBJECT_NIL ? "type"
                                                                              : "required");
    else if (rp_normalize_code(stage, stage_len, 64))
        rp_field_error_set(&errors[count++], "stage", 5, "invalid");
    count += s_text_arg(req, "lost_reason", 100, 0, &errors[count]);
    count += s_text_arg(req, "note", DEALS_NOTE_MAX, RP_TEXT_NOTE, &errors[count]);
    static const char *const known[] = {"id", "version", "stage", "lost_reason", "note", NULL};
    for (uint32_t i = 0; count < 3 && rp_obj_is_map(req->args) && i < req->args->via.map.size;
         i++) {
        const msgpack_object *key = &req->args->via.map.ptr[i].key;
        bool ok = false;
        for (size_t k = 0; known[k] && !ok; k++)
            ok = rp_obj_streq(key, known[k]);
        if (!ok) {
            const char *name = "";
            size_t len = 0;
            rp_obj_str(key, &name, &len);
            rp_field_error_set(&errors[count++], name, len, "unknown");
        }
    }
    if (count) {
        rp_service_reply_invalid(service, &origin, "some fields are not valid", errors, count);
        return;
    }
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, "opportunity.stage_changed", "opportunities", target.id, target.id_len,
                  &actor);
    const msgpack_object *reason = rp_obj_get(req->args, "lost_reason");
    const msgpack_object *note = rp_obj_get(req->args, "note");
    bool has_reason = reason && reason->type == MSGPACK_OBJECT_STR;
    bool has_note = note && note->type == MSGPACK_OBJECT_STR;
    msgpack_pack_map(&event.pk, 2 + (version_obj != NULL) + has_reason + has_note);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, target.id, target.id_len);
    rp_pack_cstr(&event.pk, "stage");
    rp_pack_strn(&event.pk, stage, stage_len);
    if (version_obj)
        rp_pack_kv_u64(&event.pk, "expected_version", version);
    if (has_reason)
        rp_pack_kv_obj(&event.pk, "lost_reason", reason);
    if (has_note)
        rp_pack_kv_obj(&event.pk, "note", note);
    s_append(arg, service, &origin, &event, idem);
}

static void s_archive(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req, bool archive)
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    char idem[RP_MAX_IDEM + 1];
    deal_read_t target;
    const msgpack_object *version_obj;
    uint64_t version;
    if (!s_admit(service, &origin, req, &actor, idem) ||
        !s_target(service, &origin, req, &actor, true, &target) ||
        !s_version(service, &origin, req, &target, &version_obj, &version))
        return;
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, archive ? "opportunity.archived" : "opportunity.restored",
                  "opportunities", target.id, target.id_len, &actor);
    msgpack_pack_map(&event.pk, version_obj ? 2 : 1);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, target.id, target.id_len);
    if (version_obj)
        rp_pack_kv_u64(&event.pk, "expected_version", version);
    s_append(arg, service, &origin, &event, idem);
}

void deals_archive(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    s_archive(arg, service, origin, req, true);
}

void deals_restore(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    s_archive(arg, service, origin, req, false);
}

//  ---------------------------------------------------------------------
//  Reads

void deals_get(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    const char *id;
    size_t len;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &id, &len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else
        s_reply_deal(service, &origin, &actor, id, len, 0);
}

//  A deal's history, oldest first: {items, next_cursor} (the cursor: the
//  last entry's seq as 16 hex digits).
typedef struct {
    deal_read_t target;
    page_t page;
} history_read_t;

static int s_history_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    history_read_t *read = (history_read_t *)arg;
    s_deal_read(store, txn, &read->target);
    if (!read->target.found)
        return 0;
    read->page.owner = read->target.id;
    read->page.owner_len = read->target.id_len;
    return page_read(txn, rp_store_dbi(store, "history"), &read->page);
}

void deals_history(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    rp_packer_t items;
    rp_packer_init(&items);
    history_read_t read;
    memset(&read, 0, sizeof read);
    read.target.actor = &actor;
    read.page.items = &items;
    read.page.limit = PAGE_LIMIT_DEFAULT;
    uint64_t limit;
    const msgpack_object *limit_obj = rp_obj_get(req->args, "limit");
    const msgpack_object *cursor = rp_obj_get(req->args, "cursor");
    rp_field_error_t error;
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &read.target.id, &read.target.id_len))
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
    else if (limit_obj && limit_obj->type != MSGPACK_OBJECT_NIL &&
             (!rp_obj_u64(limit_obj, &limit) || limit < 1 || limit > PAGE_LIMIT_MAX)) {
        rp_field_error_set(&error, "limit", 5, "out_of_range");
        error.message = "limit must be 1..200";
        rp_service_reply_invalid(service, &origin, "some fields are not valid", &error, 1);
    } else if (cursor && cursor->type != MSGPACK_OBJECT_NIL &&
               (!rp_obj_str(cursor, &read.page.after, &read.page.after_len) ||
                read.page.after_len != 16 || strspn(read.page.after, "0123456789abcdef") < 16)) {
        rp_field_error_set(&error, "cursor", 6, "invalid");
        error.message = "cursor must be a next_cursor given before";
        rp_service_reply_invalid(service, &origin, "some fields are not valid", &error, 1);
    } else {
        if (limit_obj && limit_obj->type != MSGPACK_OBJECT_NIL)
            read.page.limit = limit;
        rp_store_read(rp_service_store(service), s_history_read, &read);
        if (read.target.found)
            rp_service_reply_page(service, &origin, &items, read.page.count, read.page.next);
        else
            rp_service_reply_error(service, &origin, 404, "not_found", "no such opportunity");
    }
    rp_packer_destroy(&items);
}
