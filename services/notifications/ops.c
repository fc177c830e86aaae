/*  ops.c — see ops.h. */
#include "ops.h"
#include "apply.h"
#include "entry.h"
#include "handlers.h"

#include <rapport/event.h>
#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/write.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPS_WAIT_MS   10000 //  a write's wait for its own apply
#define OPS_LIMIT     50    //  a page's entries by default
#define OPS_LIMIT_MAX 200
#define OPS_SINCE_MAX 100 //  entries a since answers at once (more: true)

static const char *s_message(int status, const char *code, size_t len)
{
    (void)code;
    (void)len;
    return status == 404 ? "no such notification" : "the change was refused";
}

//  The caller's user id into out: false (answered 403) without one.
static bool s_user(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                   char out[ENTRY_MAX_ID + 1])
{
    rp_scope_t actor;
    rp_scope_parse(&actor, req);
    if (!actor.user || actor.user_len > ENTRY_MAX_ID) {
        rp_service_reply_error(service, origin_p, 403, "forbidden", "no user, no inbox");
        return false;
    }
    memcpy(out, actor.user, actor.user_len);
    out[actor.user_len] = 0;
    return true;
}

//  ---------------------------------------------------------------------
//  The list

typedef struct {
    const char *user;
    size_t user_len;
    bool unread_only;
    uint64_t before; //  the page starts below this seq
    uint64_t limit;
    //  out
    rp_packer_t *items;
    size_t count;
    char next[24];
    bool full; //  more follow the page
    uint64_t unread;
} list_t;

static bool s_list_entry(void *arg, const entry_t *e, const void *bytes, size_t size)
{
    list_t *list = (list_t *)arg;
    if (e->archived || (list->unread_only && e->read_at[0]))
        return true;
    if (list->count == list->limit) {
        list->full = true; //  one more exists: the page ends at the last one packed
        return false;
    }
    msgpack_sbuffer_write(&list->items->buffer, bytes, size);
    list->count++;
    snprintf(list->next, sizeof list->next, "%s", e->id);
    return true;
}

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    list->unread = notifications_apply_unread(store, txn, list->user, list->user_len);
    int rc = notifications_apply_walk(store, txn, list->user, list->user_len, list->before, true,
                                      s_list_entry, list);
    if (!list->full)
        list->next[0] = 0; //  the last page
    return rc;
}

void notifications_ops_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    (void)arg;
    char user[ENTRY_MAX_ID + 1];
    if (!s_user(service, &origin, req, user))
        return;
    list_t list = {
        .user = user, .user_len = strlen(user), .before = UINT64_MAX, .limit = OPS_LIMIT};
    rp_field_error_t errors[3];
    int count = 0;
    const msgpack_object *o = rp_obj_get(req->args, "unread");
    if (o && o->type != MSGPACK_OBJECT_NIL && !rp_obj_bool(o, &list.unread_only))
        rp_field_error_set(&errors[count++], "unread", 6, "invalid");
    o = rp_obj_get(req->args, "limit");
    if (o && o->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_u64(o, &list.limit) || list.limit < 1 || list.limit > OPS_LIMIT_MAX))
        rp_field_error_set(&errors[count++], "limit", 5, "out_of_range");
    o = rp_obj_get(req->args, "cursor");
    const char *str;
    size_t len;
    if (o && o->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_str(o, &str, &len) || !(list.before = entry_seq(str, len))))
        rp_field_error_set(&errors[count++], "cursor", 6, "invalid");
    if (count) {
        rp_service_reply_invalid(service, &origin, "the list's parameters are not valid", errors,
                                 count);
        return;
    }
    rp_packer_t items, more;
    rp_packer_init(&items);
    rp_packer_init(&more);
    list.items = &items;
    if (rp_store_read(rp_service_store(service), s_list_read, &list) == 0) {
        rp_pack_kv_u64(&more.pk, "unread_count", list.unread);
        rp_service_reply_page_more(service, &origin, &items, list.count, list.next, &more, 1);
    } else
        rp_service_reply_error(service, &origin, 500, "store_error", "the inbox could not be read");
    rp_packer_destroy(&more);
    rp_packer_destroy(&items);
}

//  ---------------------------------------------------------------------
//  What follows a seq (the gateway's stream)

typedef struct {
    const char *user;
    size_t user_len;
    uint64_t after;
    //  out
    rp_packer_t *items;
    size_t count;
    uint64_t last;
    bool more;
} since_t;

static bool s_since_entry(void *arg, const entry_t *e, const void *bytes, size_t size)
{
    since_t *since = (since_t *)arg;
    if (since->count == OPS_SINCE_MAX) {
        since->more = true;
        return false;
    }
    since->last = e->seq;
    if (!e->archived) {
        msgpack_sbuffer_write(&since->items->buffer, bytes, size);
        since->count++;
    }
    return true;
}

static int s_since_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    since_t *since = (since_t *)arg;
    return notifications_apply_walk(store, txn, since->user, since->user_len, since->after + 1,
                                    false, s_since_entry, since);
}

void notifications_ops_since(void *arg, rp_service_t *service, rp_origin_t *origin,
                             const rp_request_t *req)
{
    (void)arg;
    char user[ENTRY_MAX_ID + 1];
    if (!s_user(service, &origin, req, user))
        return;
    since_t since = {.user = user, .user_len = strlen(user)};
    const msgpack_object *o = rp_obj_get(req->args, "after");
    if (o && o->type != MSGPACK_OBJECT_NIL &&
        (!rp_obj_u64(o, &since.after) || since.after == UINT64_MAX)) {
        rp_field_error_t error;
        rp_field_error_set(&error, "after", 5, "invalid");
        rp_service_reply_invalid(service, &origin, "after must be a seq", &error, 1);
        return;
    }
    rp_packer_t items, packer;
    rp_packer_init(&items);
    rp_packer_init(&packer);
    since.items = &items;
    since.last = since.after;
    if (rp_store_read(rp_service_store(service), s_since_read, &since) == 0) {
        rp_reply_pack(&packer.pk, rp_origin_id(origin), 200, 0, 1);
        rp_pack_cstr(&packer.pk, "data");
        msgpack_pack_map(&packer.pk, 3);
        rp_pack_cstr(&packer.pk, "items");
        msgpack_pack_array(&packer.pk, since.count);
        msgpack_sbuffer_write(&packer.buffer, items.buffer.data, items.buffer.size);
        rp_pack_kv_u64(&packer.pk, "next_after", since.last);
        rp_pack_kv_bool(&packer.pk, "more", since.more);
        rp_service_reply(service, &origin, packer.buffer.data, packer.buffer.size);
    } else
        rp_service_reply_error(service, &origin, 500, "store_error", "the inbox could not be read");
    rp_packer_destroy(&packer);
    rp_packer_destroy(&items);
}

//  ---------------------------------------------------------------------
//  Writes

typedef struct {
    const char *id;
    size_t id_len;
    const char *user; //  NULL: anyone's (the writer's own answer)
    size_t user_len;
    bool found;
    entry_t entry;
} target_t;

static int s_target_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    target_t *t = (target_t *)arg;
    int rc = notifications_apply_get(store, txn, t->id, t->id_len, t->user, t->user_len, &t->entry);
    t->found = rc == 0;
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  The entry as stored, answered (404 when gone: purged meanwhile).
static void s_reply_stored(rp_service_t *service, rp_origin_t **origin_p, const char *id,
                           uint64_t seq)
{
    target_t t = {.id = id, .id_len = strlen(id)};
    rp_store_read(rp_service_store(service), s_target_read, &t);
    if (!t.found) {
        rp_service_reply_error(service, origin_p, 404, "not_found", "no such notification");
        return;
    }
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    entry_pack(&t.entry, &packer.pk);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  The caller's unread count after read_all (id: the caller).
static void s_reply_count(rp_service_t *service, rp_origin_t **origin_p, const char *id,
                          uint64_t seq)
{
    list_t list = {.user = id, .user_len = strlen(id), .before = 0, .limit = 0};
    rp_packer_t items;
    rp_packer_init(&items);
    list.items = &items;
    rp_store_read(rp_service_store(service), s_list_read, &list);
    rp_packer_destroy(&items);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "user", id);
    rp_pack_kv_u64(&packer.pk, "unread_count", list.unread);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

static bool s_admit(rp_service_t *service, rp_origin_t **origin_p, const rp_request_t *req,
                    rp_scope_t *actor, char user[ENTRY_MAX_ID + 1], char idem[RP_MAX_IDEM + 1])
{
    rp_scope_parse(actor, req);
    //  Reading one's own inbox is no change of the CRM's records: every
    //  role with a user may (readonly users too).
    bool allowed = actor->user && actor->user_len <= ENTRY_MAX_ID;
    if (!rp_writes_admit(service, origin_p, req, allowed, "no user, no inbox", idem))
        return false;
    memcpy(user, actor->user, actor->user_len);
    user[actor->user_len] = 0;
    return true;
}

//  read / archive: {id, version?} of one of the caller's entries.
static void s_mark(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req,
                   const char *type)
{
    rp_scope_t actor;
    char user[ENTRY_MAX_ID + 1], idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, user, idem))
        return;
    target_t t = {.user = user, .user_len = strlen(user)};
    if (!rp_obj_str(rp_obj_get(req->args, "id"), &t.id, &t.id_len)) {
        rp_service_reply_error(service, &origin, 400, "bad_args", "args.id must be a string");
        return;
    }
    rp_store_read(rp_service_store(service), s_target_read, &t);
    if (!t.found) {
        rp_service_reply_error(service, &origin, 404, "not_found", "no such notification");
        return;
    }
    const msgpack_object *version_obj;
    uint64_t version;
    if (!rp_writes_version_arg(service, &origin, req, &version_obj, &version))
        return;
    if (version_obj && version != t.entry.version && !req->idem) {
        rp_service_reply_error(service, &origin, 412, "version_mismatch",
                               "the notification changed since that version");
        return;
    }
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, type, "notifications", t.id, t.id_len, &actor);
    msgpack_pack_map(&event.pk, 2);
    rp_pack_cstr(&event.pk, "id");
    rp_pack_strn(&event.pk, t.id, t.id_len);
    rp_pack_kv_cstr(&event.pk, "user", user);
    static const rp_write_answer_t how = {s_message, s_reply_stored, false};
    rp_writes_append_one(notifications_handlers_writes(arg), service, &origin, &event, idem,
                         OPS_WAIT_MS, &how);
}

void notifications_ops_read(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req)
{
    s_mark(arg, service, origin, req, "notification.read");
}

void notifications_ops_archive(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req)
{
    s_mark(arg, service, origin, req, "notification.archived");
}

void notifications_ops_read_all(void *arg, rp_service_t *service, rp_origin_t *origin,
                                const rp_request_t *req)
{
    rp_scope_t actor;
    char user[ENTRY_MAX_ID + 1], idem[RP_MAX_IDEM + 1];
    if (!s_admit(service, &origin, req, &actor, user, idem))
        return;
    //  Through what this writer has applied: what the caller can have
    //  seen; an entry derived later stays unread.
    rp_packer_t event;
    rp_packer_init(&event);
    rp_event_open(&event.pk, "notification.read_all", "notifications", user, strlen(user), &actor);
    msgpack_pack_map(&event.pk, 3);
    rp_pack_kv_cstr(&event.pk, "id", user);
    rp_pack_kv_cstr(&event.pk, "user", user);
    rp_pack_kv_u64(&event.pk, "through_seq", rp_service_cursor(service));
    static const rp_write_answer_t how = {s_message, s_reply_count, false};
    rp_writes_append_one(notifications_handlers_writes(arg), service, &origin, &event, idem,
                         OPS_WAIT_MS, &how);
}
