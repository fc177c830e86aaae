/*  timeline.c — see timeline.h. */
#include "timeline.h"
#include "activity.h"
#include "apply.h"
#include "contact.h"
#include "page.h"
#include <rapport/record.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define TIMELINE_TEXT 512 //  a summary before it is cut

//  One entry being written.
typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    rp_packer_t data; //  the data map
    char summary[TIMELINE_TEXT];
} timeline_entry_t;

void timeline_rest(char out[17], uint64_t seq)
{
    snprintf(out, 17, "%016" PRIx64, seq);
}

//  A str of data, or "" (len 0).
static const char *s_timeline_str(const msgpack_object *map, const char *key, size_t *len)
{
    const char *str = "";
    *len = 0;
    rp_obj_str(rp_obj_get(map, key), &str, len);
    return str;
}

//  At most max bytes of str, cut on a character boundary (for "%.*s").
static int s_timeline_cut(const char *str, size_t len, size_t max)
{
    return (int)rp_normalize_cut(str, len, max);
}

static int s_timeline_put(timeline_entry_t *self, const char *customer_id, size_t len)
{
    const rp_event_t *event = self->event;
    char rest[17], key[PAGE_MAX_KEY];
    timeline_rest(rest, self->seq);
    size_t key_len = page_key(key, customer_id, len, rest, 16);
    if (!key_len)
        return 0; //  no customer id: nothing to file it under
    rp_packer_t entry;
    rp_packer_init(&entry);
    msgpack_pack_map(&entry.pk, 6);
    rp_pack_kv_u64(&entry.pk, "seq", self->seq);
    rp_pack_cstr(&entry.pk, "type");
    rp_pack_strn(&entry.pk, event->type, event->type_len);
    rp_pack_cstr(&entry.pk, "time");
    if (event->time)
        rp_pack_strn(&entry.pk, event->time, event->time_len);
    else
        msgpack_pack_nil(&entry.pk);
    rp_pack_kv_obj(&entry.pk, "actor", rp_obj_get(event->actor, "user"));
    rp_pack_cstr(&entry.pk, "summary");
    size_t summary_len = strlen(self->summary);
    rp_pack_strn(&entry.pk, self->summary,
                 rp_normalize_cut(self->summary, summary_len, TIMELINE_SUMMARY_MAX));
    rp_pack_cstr(&entry.pk, "data");
    msgpack_sbuffer_write(&entry.buffer, self->data.buffer.data, self->data.buffer.size);
    MDB_val k = {key_len, key}, v = {entry.buffer.size, entry.buffer.data};
    int rc = mdb_put(self->txn, rp_store_dbi(self->store, "timeline"), &k, &v, 0);
    rp_packer_destroy(&entry);
    return rc;
}

//  The keys of a map as an array (packed into data), and joined with ", "
//  at the end of the summary.
static void s_timeline_keys(timeline_entry_t *self, const msgpack_object *map)
{
    uint32_t count = rp_obj_is_map(map) ? map->via.map.size : 0;
    msgpack_pack_array(&self->data.pk, count);
    for (uint32_t i = 0; i < count; i++) {
        const char *key;
        size_t len;
        if (!rp_obj_str(&map->via.map.ptr[i].key, &key, &len)) {
            msgpack_pack_nil(&self->data.pk);
            continue;
        }
        rp_pack_strn(&self->data.pk, key, len);
        size_t used = strlen(self->summary);
        snprintf(self->summary + used, sizeof self->summary - used, "%s%.*s", i ? ", " : "",
                 s_timeline_cut(key, len, 64), key);
    }
}

//  The name and code of the stored customer (after a create).
static void s_timeline_created(timeline_entry_t *self, const char *id, size_t id_len)
{
    MDB_val value;
    rp_doc_t *doc = NULL;
    const msgpack_object *record = NULL;
    if (customers_apply_record_get(self->store, self->txn, id, id_len, &value) == 0 &&
        (doc = rp_doc_new(value.mv_data, value.mv_size, NULL)) != NULL)
        record = rp_doc_root(doc);
    size_t name_len;
    const char *name = s_timeline_str(record, "name", &name_len);
    msgpack_pack_map(&self->data.pk, 2);
    rp_pack_kv_obj(&self->data.pk, "name", rp_obj_get(record, "name"));
    rp_pack_kv_obj(&self->data.pk, "code", rp_obj_get(record, "code"));
    snprintf(self->summary, sizeof self->summary, "created %.*s",
             s_timeline_cut(name, name_len, 200), name);
    rp_doc_destroy(&doc);
}

static void s_timeline_contact(timeline_entry_t *self, const char *id, size_t id_len)
{
    const msgpack_object *data = self->event->data;
    const char *type = self->event->type + 17; //  after "customer.contact_"
    size_t contact_id_len, name_len = 0;
    const char *contact_id = s_timeline_str(data, "contact_id", &contact_id_len), *name = "";
    MDB_val value;
    rp_doc_t *doc = NULL;
    if (contact_get(self->store, self->txn, id, id_len, contact_id, contact_id_len, &value) == 0 &&
        (doc = rp_doc_new(value.mv_data, value.mv_size, NULL)) != NULL)
        name = s_timeline_str(rp_doc_root(doc), "name", &name_len);
    bool removed = strncmp(type, "removed", 7) == 0, updated = strncmp(type, "updated", 7) == 0;
    msgpack_pack_map(&self->data.pk, removed ? 1 : updated ? 3 : 2);
    rp_pack_cstr(&self->data.pk, "contact_id");
    rp_pack_strn(&self->data.pk, contact_id, contact_id_len);
    if (!removed) {
        rp_pack_cstr(&self->data.pk, "name");
        rp_pack_strn(&self->data.pk, name, name_len);
    }
    snprintf(self->summary, sizeof self->summary, "contact %s%s%.*s%s",
             removed   ? "removed"
             : updated ? "updated"
                       : "added",
             removed ? "" : ": ", s_timeline_cut(name, name_len, 100), name, updated ? " (" : "");
    if (updated) {
        rp_pack_cstr(&self->data.pk, "fields");
        s_timeline_keys(self, rp_obj_get(data, "changes"));
        size_t used = strlen(self->summary);
        snprintf(self->summary + used, sizeof self->summary - used, ")");
    }
    rp_doc_destroy(&doc);
}

static void s_timeline_activity(timeline_entry_t *self)
{
    const msgpack_object *data = self->event->data;
    size_t id_len, kind_len, summary_len;
    const msgpack_object *activity = rp_obj_get(data, "activity");
    const char *id = s_timeline_str(data, "activity_id", &id_len);
    const char *kind = s_timeline_str(activity, "kind", &kind_len);
    const char *summary = s_timeline_str(activity, "summary", &summary_len);
    //  The stored at (normalized, or the default) rather than the given one.
    MDB_val value;
    rp_doc_t *doc = NULL;
    if (activity_get(self->store, self->txn, id, id_len, &value) == 0)
        doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    msgpack_pack_map(&self->data.pk, 3);
    rp_pack_cstr(&self->data.pk, "activity_id");
    rp_pack_strn(&self->data.pk, id, id_len);
    rp_pack_cstr(&self->data.pk, "kind");
    rp_pack_strn(&self->data.pk, kind, kind_len);
    rp_pack_kv_obj(&self->data.pk, "at", rp_obj_get(doc ? rp_doc_root(doc) : NULL, "at"));
    snprintf(self->summary, sizeof self->summary, "%.*s: %.*s", (int)kind_len, kind,
             s_timeline_cut(summary, summary_len, 300), summary);
    for (char *c = self->summary; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' '; //  one line
    rp_doc_destroy(&doc);
}

static void s_timeline_assigned(timeline_entry_t *self)
{
    const msgpack_object *data = self->event->data;
    size_t owner_len, team_len;
    const char *owner = s_timeline_str(data, "owner", &owner_len);
    const char *team = s_timeline_str(data, "team", &team_len);
    msgpack_pack_map(&self->data.pk, 2);
    rp_pack_kv_obj(&self->data.pk, "owner", rp_obj_get(data, "owner"));
    rp_pack_kv_obj(&self->data.pk, "team", rp_obj_get(data, "team"));
    snprintf(self->summary, sizeof self->summary, "assigned to %.*s%s%.*s%s",
             s_timeline_cut(owner, owner_len, 100), owner, team_len ? " (team " : "",
             s_timeline_cut(team, team_len, 100), team, team_len ? ")" : "");
}

//  customer.merged: one entry on the target, one on each source.
static int s_timeline_merged(timeline_entry_t *self, const char *id, size_t id_len)
{
    const msgpack_object *from = rp_obj_get(self->event->data, "from");
    uint32_t count = rp_obj_is_array(from) ? from->via.array.size : 0;
    msgpack_pack_map(&self->data.pk, 1);
    rp_pack_kv_obj(&self->data.pk, "from", from);
    snprintf(self->summary, sizeof self->summary, "merged %" PRIu32 " customer%s into this one",
             count, count == 1 ? "" : "s");
    int rc = s_timeline_put(self, id, id_len);
    for (uint32_t i = 0; rc == 0 && i < count; i++) {
        const char *source;
        size_t source_len;
        if (!rp_obj_str(&from->via.array.ptr[i], &source, &source_len))
            continue;
        rp_packer_reset(&self->data);
        msgpack_pack_map(&self->data.pk, 1);
        rp_pack_cstr(&self->data.pk, "into");
        rp_pack_strn(&self->data.pk, id, id_len);
        snprintf(self->summary, sizeof self->summary, "merged into %.*s",
                 s_timeline_cut(id, id_len, 64), id);
        rc = s_timeline_put(self, source, source_len);
    }
    return rc;
}

int timeline_apply(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    const char *id;
    size_t id_len;
    if (!rp_obj_str(rp_obj_get(event->data, "id"), &id, &id_len))
        return 0;
    timeline_entry_t self = {.store = store, .txn = txn, .seq = seq, .event = event};
    rp_packer_init(&self.data);
    int rc = 0;
    bool put = true;
    if (rp_event_is(event, "customer.created"))
        s_timeline_created(&self, id, id_len);
    else if (rp_event_is(event, "customer.updated")) {
        msgpack_pack_map(&self.data.pk, 1);
        rp_pack_cstr(&self.data.pk, "fields");
        snprintf(self.summary, sizeof self.summary, "updated ");
        s_timeline_keys(&self, rp_obj_get(event->data, "changes"));
    } else if (contact_event(event))
        s_timeline_contact(&self, id, id_len);
    else if (activity_event(event))
        s_timeline_activity(&self);
    else if (rp_event_is(event, "customer.assigned"))
        s_timeline_assigned(&self);
    else if (rp_event_is(event, "customer.merged")) {
        rc = s_timeline_merged(&self, id, id_len);
        put = false;
    } else { //  archived, restored, and types to come: the type says it
        msgpack_pack_map(&self.data.pk, 0);
        snprintf(self.summary, sizeof self.summary, "%.*s", (int)event->type_len - 9,
                 event->type + 9);
    }
    if (put)
        rc = s_timeline_put(&self, id, id_len);
    rp_packer_destroy(&self.data);
    return rc;
}

int timeline_add(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event,
                 const char *id, size_t id_len, const char *summary, const rp_packer_t *data)
{
    timeline_entry_t self = {.store = store, .txn = txn, .seq = seq, .event = event};
    snprintf(self.summary, sizeof self.summary, "%s", summary);
    self.data = *data; //  borrowed: s_timeline_put only reads it
    return s_timeline_put(&self, id, id_len);
}

bool timeline_data_str(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len, uint64_t seq,
                       const char *key, char *out, size_t size)
{
    char rest[17], k[PAGE_MAX_KEY];
    timeline_rest(rest, seq);
    MDB_val mk = {page_key(k, id, id_len, rest, 16), k}, value;
    if (!mk.mv_size || mdb_get(txn, rp_store_dbi(store, "timeline"), &mk, &value))
        return false;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    const char *str;
    size_t len;
    bool found = doc &&
                 rp_obj_str(rp_obj_get(rp_obj_get(rp_doc_root(doc), "data"), key), &str, &len) &&
                 len < size;
    if (found) {
        memcpy(out, str, len);
        out[len] = 0;
    }
    rp_doc_destroy(&doc);
    return found;
}

void timeline_test(void)
{
    char rest[17];
    timeline_rest(rest, 0x1234);
    assert(strcmp(rest, "0000000000001234") == 0);
    timeline_rest(rest, UINT64_MAX);
    assert(strcmp(rest, "ffffffffffffffff") == 0);
    //  The entries themselves are tested with the events in merge_test.
}
