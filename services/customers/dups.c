/*  dups.c — see dups.h. */
#include "dups.h"
#include "apply.h"
#include "customer.h"
#include <rapport/normalize.h>
#include "scope.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX    (1 + RP_NORMALIZE_NAME_MAX + 1 + APPLY_MAX_ID)
#define CURSOR_RAW (1 + APPLY_MAX_ID + KEY_MAX)
#define CURSOR_B64 (sodium_base64_ENCODED_LEN(CURSOR_RAW, sodium_base64_VARIANT_URLSAFE_NO_PADDING))
#define LIMIT_MAX  200

//  A record's similarity keys (the prefixes apply indexes, without the id).
typedef struct {
    size_t count;
    char kinds[4];
    size_t lens[4];
    char keys[4][1 + RP_NORMALIZE_NAME_MAX + 1];
} keys_t;

static void s_keys_add(keys_t *self, char kind, const char *value, size_t len)
{
    if (len == 0 || len >= RP_NORMALIZE_NAME_MAX)
        return;
    char *key = self->keys[self->count];
    key[0] = kind;
    memcpy(key + 1, value, len);
    key[1 + len] = 0;
    self->kinds[self->count] = kind;
    self->lens[self->count++] = len + 2;
}

static void s_keys(const rp_record_t *record, keys_t *self)
{
    self->count = 0;
    const char *str;
    size_t len;
    char name[RP_NORMALIZE_NAME_MAX];
    if (rp_record_str(record, CUSTOMER_NAME, &str, &len) && !rp_normalize_name(str, len, name))
        s_keys_add(self, 'n', name, strlen(name));
    if (rp_record_str(record, CUSTOMER_PHONE, &str, &len))
        s_keys_add(self, 'p', str, len);
    if (rp_record_str(record, CUSTOMER_MOBILE, &str, &len))
        s_keys_add(self, 'p', str, len);
    if (rp_record_str(record, CUSTOMER_EMAIL, &str, &len))
        s_keys_add(self, 'e', str, len);
}

//  One decoded record.
typedef struct {
    rp_doc_t *doc;
    rp_record_t record;
    keys_t keys;
    bool visible;
} entry_t;

static bool s_entry_load(entry_t *self, rp_store_t *store, MDB_txn *txn, const char *id,
                         size_t id_len, const rp_scope_t *scope)
{
    MDB_val value;
    memset(self, 0, sizeof *self);
    customer_init(&self->record);
    if (customers_apply_record_get(store, txn, id, id_len, &value))
        return false;
    self->doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!self->doc)
        return false;
    rp_record_from_map(&self->record, rp_doc_root(self->doc));
    bool archived = false;
    rp_obj_bool(&self->record.values[CUSTOMER_ARCHIVED], &archived);
    self->visible = !archived && scope_allows(scope, &self->record, false);
    s_keys(&self->record, &self->keys);
    return true;
}

static void s_entry_reset(entry_t *self)
{
    rp_record_reset(&self->record);
    rp_doc_destroy(&self->doc);
}

typedef struct {
    const rp_scope_t *scope;
    uint64_t limit;
    uint8_t cursor[CURSOR_RAW];
    size_t cursor_len;
    rp_packer_t items;
    size_t count;
    char next[CURSOR_B64];
} dups_t;

static void s_pack_party(msgpack_packer *pk, const rp_record_t *record)
{
    msgpack_pack_map(pk, 3);
    rp_pack_kv_obj(pk, "id", &record->values[CUSTOMER_ID]);
    rp_pack_kv_obj(pk, "code", &record->values[CUSTOMER_CODE]);
    rp_pack_kv_obj(pk, "name", &record->values[CUSTOMER_NAME]);
}

//  Pack the pair if key (the index prefix it was found under) is the
//  first key the two share; returns whether it was packed.
static bool s_pair(dups_t *self, const entry_t *a, const entry_t *b, const char *key,
                   size_t key_len)
{
    const char *reasons[3];
    size_t count = 0;
    bool first = true;
    static const struct {
        char kind;
        const char *reason;
    } kinds[] = {{'e', "email"}, {'n', "name"}, {'p', "phone"}};
    for (size_t k = 0; k < 3; k++) {
        bool shared = false;
        for (size_t i = 0; i < a->keys.count; i++)
            for (size_t j = 0; j < b->keys.count; j++)
                if (a->keys.kinds[i] == kinds[k].kind && a->keys.lens[i] == b->keys.lens[j] &&
                    memcmp(a->keys.keys[i], b->keys.keys[j], a->keys.lens[i]) == 0) {
                    shared = true;
                    size_t n = a->keys.lens[i] < key_len ? a->keys.lens[i] : key_len;
                    int c = memcmp(a->keys.keys[i], key, n);
                    if (c < 0 || (c == 0 && a->keys.lens[i] < key_len))
                        first = false; //  listed under that earlier key
                }
        if (shared)
            reasons[count++] = kinds[k].reason;
    }
    if (!first || count == 0)
        return false;
    msgpack_packer *pk = &self->items.pk;
    msgpack_pack_map(pk, 3);
    rp_pack_cstr(pk, "a");
    s_pack_party(pk, &a->record);
    rp_pack_cstr(pk, "b");
    s_pack_party(pk, &b->record);
    rp_pack_cstr(pk, "reasons");
    msgpack_pack_array(pk, count);
    for (size_t i = 0; i < count; i++)
        rp_pack_cstr(pk, reasons[i]);
    self->count++;
    return true;
}

static void s_cursor_encode(dups_t *self, const MDB_val *a_key, const char *b_id, size_t b_len)
{
    uint8_t raw[CURSOR_RAW];
    if (a_key->mv_size > KEY_MAX || b_len > APPLY_MAX_ID)
        return;
    raw[0] = (uint8_t)b_len;
    memcpy(raw + 1, b_id, b_len);
    memcpy(raw + 1 + b_len, a_key->mv_data, a_key->mv_size);
    sodium_bin2base64(self->next, sizeof self->next, raw, 1 + b_len + a_key->mv_size,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

//  The prefix length of an index key (through the NUL), 0 if malformed.
static size_t s_prefix(const MDB_val *key)
{
    const char *nul =
        key->mv_size > 1 ? memchr((const char *)key->mv_data + 1, 0, key->mv_size - 1) : NULL;
    return nul ? (size_t)(nul - (const char *)key->mv_data) + 1 : 0;
}

//  Pairs of entry a (at outer's position) with those after it under its
//  key, beginning after b_id when resuming. False when the page is full
//  (the cursor is set).
static bool s_pairs_of(dups_t *self, rp_store_t *store, MDB_txn *txn, MDB_cursor *inner,
                       const MDB_val *a_key, const char *after, size_t after_len)
{
    size_t prefix = s_prefix(a_key);
    if (!prefix || prefix >= a_key->mv_size)
        return true;
    entry_t a;
    if (!s_entry_load(&a, store, txn, (const char *)a_key->mv_data + prefix,
                      a_key->mv_size - prefix, self->scope) ||
        !a.visible) {
        s_entry_reset(&a);
        return true;
    }
    uint8_t start[KEY_MAX];
    MDB_val k = *a_key, v;
    if (after) {
        memcpy(start, a_key->mv_data, prefix);
        memcpy(start + prefix, after, after_len);
        k.mv_data = start;
        k.mv_size = prefix + after_len;
    }
    int rc = mdb_cursor_get(inner, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == (after ? prefix + after_len : a_key->mv_size) &&
        memcmp(k.mv_data, after ? (const void *)start : a_key->mv_data, k.mv_size) == 0)
        rc = mdb_cursor_get(inner, &k, &v, MDB_NEXT);
    bool more = true;
    for (size_t fan = 0; rc == 0 && fan < DUPS_FANOUT && k.mv_size > prefix &&
                         memcmp(k.mv_data, a_key->mv_data, prefix) == 0;
         fan++, rc = mdb_cursor_get(inner, &k, &v, MDB_NEXT)) {
        if (self->count == self->limit) {
            more = false;
            break;
        }
        const char *b_id = (const char *)k.mv_data + prefix;
        size_t b_len = k.mv_size - prefix;
        entry_t b;
        if (s_entry_load(&b, store, txn, b_id, b_len, self->scope) && b.visible)
            s_pair(self, &a, &b, a_key->mv_data, prefix);
        s_entry_reset(&b);
        self->next[0] = 0;
        s_cursor_encode(self, a_key, b_id, b_len); //  where a full page goes on
    }
    s_entry_reset(&a);
    return more;
}

static int s_dups_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    dups_t *self = (dups_t *)arg;
    MDB_cursor *outer, *inner;
    MDB_dbi dbi = rp_store_dbi(store, "similar");
    int rc = mdb_cursor_open(txn, dbi, &outer);
    if (rc)
        return rc;
    rc = mdb_cursor_open(txn, dbi, &inner);
    if (rc) {
        mdb_cursor_close(outer);
        return rc;
    }
    MDB_val k, v;
    const char *after = NULL;
    size_t after_len = 0;
    if (self->cursor_len) {
        after_len = self->cursor[0];
        after = (const char *)self->cursor + 1;
        k.mv_data = self->cursor + 1 + after_len;
        k.mv_size = self->cursor_len - 1 - after_len;
        size_t want = k.mv_size;
        rc = mdb_cursor_get(outer, &k, &v, MDB_SET_RANGE);
        if (rc == 0 &&
            (k.mv_size != want || memcmp(k.mv_data, self->cursor + 1 + after_len, want) != 0))
            after = NULL; //  that entry went: begin the next one afresh
    } else
        rc = mdb_cursor_get(outer, &k, &v, MDB_FIRST);
    size_t scanned = 0;
    bool full = false;
    for (; rc == 0; rc = mdb_cursor_get(outer, &k, &v, MDB_NEXT), after = NULL) {
        size_t prefix = s_prefix(&k);
        if (scanned++ == DUPS_MAX_SCAN && prefix) {
            self->next[0] = 0; //  go on with this entry's pairs
            s_cursor_encode(self, &k, (const char *)k.mv_data + prefix, k.mv_size - prefix);
            break;
        }
        if (!s_pairs_of(self, store, txn, inner, &k, after, after_len)) {
            full = true;
            break;
        }
    }
    if (rc == MDB_NOTFOUND && !full)
        self->next[0] = 0;
    mdb_cursor_close(inner);
    mdb_cursor_close(outer);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void dups_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden",
                               "this role cannot list customers");
        return;
    }
    dups_t self = {.scope = &scope, .limit = 50};
    const msgpack_object *limit = rp_obj_get(req->args, "limit");
    const msgpack_object *cursor = rp_obj_get(req->args, "cursor");
    const char *str;
    size_t len;
    if (limit && (!rp_obj_u64(limit, &self.limit) || self.limit < 1 || self.limit > LIMIT_MAX)) {
        rp_field_error_t error = {"limit", "out_of_range", "limit must be 1..200"};
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid", &error,
                                 1);
        return;
    }
    if (cursor && cursor->type != MSGPACK_OBJECT_NIL &&
        !(rp_obj_str(cursor, &str, &len) && len > 0 && len < CURSOR_B64 &&
          sodium_base642bin(self.cursor, sizeof self.cursor, str, len, NULL, &self.cursor_len, NULL,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
          self.cursor_len > 1u + self.cursor[0])) {
        rp_field_error_t error = {"cursor", "invalid", "not a cursor this list gave"};
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid", &error,
                                 1);
        return;
    }
    rp_packer_init(&self.items);
    if (rp_store_read(rp_service_store(service), s_dups_read, &self))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &origin, &self.items, self.count, self.next);
    rp_packer_destroy(&self.items);
}
