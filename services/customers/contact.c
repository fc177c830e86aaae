/*  contact.c — see contact.h. */
#include "contact.h"
#include "apply.h"
#include "page.h"

#include <rapport/normalize.h>

#include <assert.h>
#include <string.h>

static const rp_field_t s_contact_fields[CONTACT_FIELDS] = {
    [CONTACT_ID] = {"id", RP_FIELD_SYSTEM},
    [CONTACT_CUSTOMER_ID] = {"customer_id", RP_FIELD_SYSTEM},
    [CONTACT_NAME] = {"name", RP_FIELD_TEXT, .max = 100, .flags = RP_FIELD_REQUIRED},
    [CONTACT_TITLE] = {"title", RP_FIELD_TEXT, .max = 100},
    [CONTACT_PHONES] = {"phones", RP_FIELD_PHONES, .items = 10},
    [CONTACT_EMAIL] = {"email", RP_FIELD_EMAIL},
    [CONTACT_BIRTHDAY] = {"birthday", RP_FIELD_DATE},
    [CONTACT_NOTES] = {"notes", RP_FIELD_NOTE, .max = 2000},
    [CONTACT_HOBBIES] = {"hobbies", RP_FIELD_NOTE, .max = 1000},
    [CONTACT_VERSION] = {"version", RP_FIELD_SYSTEM},
    [CONTACT_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [CONTACT_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void contact_init(rp_record_t *self)
{
    rp_record_init(self, s_contact_fields, CONTACT_FIELDS);
}

bool contact_event(const rp_event_t *event)
{
    return event->type_len > 17 && rp_event_has_prefix(event, "customer.contact_");
}

int contact_get(rp_store_t *store, MDB_txn *txn, const char *customer_id, size_t customer_id_len,
                const char *contact_id, size_t contact_id_len, MDB_val *value)
{
    char key[PAGE_MAX_KEY];
    size_t len = contact_id_len <= CONTACT_MAX_ID
                     ? page_key(key, customer_id, customer_id_len, contact_id, contact_id_len)
                     : 0;
    if (!len || contact_id_len == 0)
        return MDB_NOTFOUND;
    MDB_val k = {len, key};
    return mdb_get(txn, rp_store_dbi(store, "contacts"), &k, value);
}

//  ---------------------------------------------------------------------
//  Apply

//  One contact event being applied.
typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    const rp_event_t *event;
    const char *customer_id, *contact_id;
    size_t customer_id_len, contact_id_len;
    char key[PAGE_MAX_KEY];
    size_t key_len;
    rp_doc_t *doc; //  the stored contact, when loaded
    rp_record_t record;
} contact_apply_t;

//  Add (or remove) the contact's phones and e-mail in contact_keys:
//  kind ('p' a phone, 'e' the e-mail) + value + NUL + <customer id> NUL
//  <contact id> (its key in contacts) → "", for leads' matching
//  (reference.h).
static int s_contact_keys(MDB_txn *txn, MDB_dbi dbi, const msgpack_object *contact,
                          const MDB_val *key, bool add)
{
    const msgpack_object *phones = rp_obj_get(contact, "phones");
    const msgpack_object *email = rp_obj_get(contact, "email");
    uint32_t count = rp_obj_is_array(phones) ? phones->via.array.size : 0;
    int rc = 0;
    for (uint32_t i = 0; rc == 0 && i <= count; i++) {
        const msgpack_object *value = i < count ? &phones->via.array.ptr[i] : email;
        const char *str;
        size_t len;
        char k[1 + RP_NORMALIZE_MAX + 1 + PAGE_MAX_KEY];
        if (!rp_obj_str(value, &str, &len) || len == 0 || len > RP_NORMALIZE_MAX)
            continue;
        k[0] = i < count ? 'p' : 'e';
        memcpy(k + 1, str, len);
        k[1 + len] = 0;
        memcpy(k + 2 + len, key->mv_data, key->mv_size);
        MDB_val mk = {2 + len + key->mv_size, k}, none = {0, ""};
        rc = add ? mdb_put(txn, dbi, &mk, &none, 0) : mdb_del(txn, dbi, &mk, NULL);
        if (rc == MDB_NOTFOUND)
            rc = 0;
    }
    return rc;
}

//  Remove the keys of the contact stored under key, if any.
static int s_contact_unkey(MDB_txn *txn, rp_store_t *store, const MDB_val *key)
{
    MDB_val value;
    int rc = mdb_get(txn, rp_store_dbi(store, "contacts"), (MDB_val *)key, &value);
    if (rc)
        return rc == MDB_NOTFOUND ? 0 : rc;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!doc)
        return -1;
    rc = s_contact_keys(txn, rp_store_dbi(store, "contact_keys"), rp_doc_root(doc), key, false);
    rp_doc_destroy(&doc);
    return rc;
}

static int s_contact_put(contact_apply_t *self)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(&self->record, &packer.pk);
    MDB_val k = {self->key_len, self->key}, v = {packer.buffer.size, packer.buffer.data};
    int rc = s_contact_unkey(self->txn, self->store, &k);
    rp_doc_t *packed = rc ? NULL : rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    if (!rc)
        rc = packed ? s_contact_keys(self->txn, rp_store_dbi(self->store, "contact_keys"),
                                     rp_doc_root(packed), &k, true)
                    : -1;
    rp_doc_destroy(&packed);
    if (!rc)
        rc = mdb_put(self->txn, rp_store_dbi(self->store, "contacts"), &k, &v, 0);
    const char *name;
    size_t name_len;
    if (!rc && rp_record_str(&self->record, CONTACT_NAME, &name, &name_len)) {
        MDB_val n = {name_len, (void *)name};
        rc = mdb_put(self->txn, rp_store_dbi(self->store, "contact_names"), &k, &n, 0);
    }
    rp_packer_destroy(&packer);
    return rc;
}

//  Load the stored contact into self->record: 0, MDB_NOTFOUND, or -1.
static int s_contact_load(contact_apply_t *self)
{
    MDB_val value;
    MDB_val k = {self->key_len, self->key};
    int rc = mdb_get(self->txn, rp_store_dbi(self->store, "contacts"), &k, &value);
    if (rc)
        return rc;
    self->doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (!self->doc)
        return -1; //  a corrupt store: stop the service
    rp_record_from_map(&self->record, rp_doc_root(self->doc));
    return 0;
}

static int s_contact_added(contact_apply_t *self, int *status, const char **code)
{
    int rc = s_contact_load(self);
    if (rc != MDB_NOTFOUND) {
        *status = rc ? *status : 409;
        *code = rc ? NULL : "exists"; //  a contact id reused: never by our writer
        return rc;
    }
    rp_record_t given;
    contact_init(&given);
    rp_field_error_t errors[4];
    if (rp_record_validate(&given, rp_obj_get(self->event->data, "contact"), NULL, true, NULL,
                           errors, 4) ||
        !rp_obj_is_map(rp_obj_get(self->event->data, "contact"))) {
        rp_record_reset(&given);
        *status = 422;
        *code = "bad_event";
        return 0;
    }
    rp_record_overlay(&self->record, &given);
    rp_record_set_str(&self->record, CONTACT_ID, self->contact_id, self->contact_id_len);
    rp_record_set_str(&self->record, CONTACT_CUSTOMER_ID, self->customer_id, self->customer_id_len);
    rp_record_stamp(&self->record, self->event); //  version 1, created now
    rc = s_contact_put(self);
    rp_record_reset(&given);
    return rc;
}

static int s_contact_updated(contact_apply_t *self, int *status, const char **code)
{
    int rc = s_contact_load(self);
    if (rc == MDB_NOTFOUND) {
        *status = 404;
        *code = "not_found";
        return 0;
    }
    if (rc)
        return rc;
    if (rp_record_stale(&self->record, self->event->data)) {
        *status = 412;
        *code = "version_mismatch";
        return 0;
    }
    const msgpack_object *data = self->event->data;
    static const char *const skip[] = {"id", "customer_id", NULL};
    rp_record_t changes;
    contact_init(&changes);
    rp_field_error_t errors[4];
    if (!rp_obj_is_map(rp_obj_get(data, "changes")) ||
        rp_record_validate(&changes, rp_obj_get(data, "changes"), skip, false, NULL, errors, 4)) {
        rp_record_reset(&changes);
        *status = 422;
        *code = "bad_event";
        return 0;
    }
    rp_record_overlay(&self->record, &changes);
    rp_record_stamp(&self->record, self->event);
    rc = s_contact_put(self);
    rp_record_reset(&changes);
    return rc;
}

static int s_contact_removed(contact_apply_t *self, int *status, const char **code)
{
    int rc = s_contact_load(self);
    if (rc == MDB_NOTFOUND) {
        *status = 404;
        *code = "not_found";
        return 0;
    }
    if (rc)
        return rc;
    if (rp_record_stale(&self->record, self->event->data)) {
        *status = 412;
        *code = "version_mismatch";
        return 0;
    }
    MDB_val k = {self->key_len, self->key};
    rc = s_contact_unkey(self->txn, self->store, &k);
    if (!rc)
        rc = mdb_del(self->txn, rp_store_dbi(self->store, "contacts"), &k, NULL);
    if (!rc)
        rc = mdb_del(self->txn, rp_store_dbi(self->store, "contact_names"), &k, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int contact_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                  const char **code)
{
    contact_apply_t self = {.store = store, .txn = txn, .event = event};
    contact_init(&self.record);
    *status = 200;
    *code = NULL;
    MDB_val customer;
    rp_obj_str(rp_obj_get(event->data, "id"), &self.customer_id, &self.customer_id_len);
    if (!rp_obj_str(rp_obj_get(event->data, "contact_id"), &self.contact_id,
                    &self.contact_id_len) ||
        self.contact_id_len == 0 || self.contact_id_len > CONTACT_MAX_ID ||
        memchr(self.contact_id, 0, self.contact_id_len)) {
        *status = 422;
        *code = "bad_event";
        return 0;
    }
    if (customers_apply_record_get(store, txn, self.customer_id, self.customer_id_len, &customer)) {
        *status = 404;
        *code = "not_found";
        return 0;
    }
    self.key_len = page_key(self.key, self.customer_id, self.customer_id_len, self.contact_id,
                            self.contact_id_len);
    int rc;
    if (rp_event_is(event, "customer.contact_added"))
        rc = s_contact_added(&self, status, code);
    else if (rp_event_is(event, "customer.contact_updated"))
        rc = s_contact_updated(&self, status, code);
    else if (rp_event_is(event, "customer.contact_removed"))
        rc = s_contact_removed(&self, status, code);
    else {
        *status = 422;
        *code = "unknown_type";
        rc = 0;
    }
    rp_record_reset(&self.record);
    rp_doc_destroy(&self.doc);
    return rc;
}

//  ---------------------------------------------------------------------

bool contact_name_any(rp_store_t *store, MDB_txn *txn, const char *customer_id, size_t len,
                      contact_name_fn *fn, void *arg)
{
    char prefix[PAGE_MAX_KEY];
    size_t prefix_len = page_key(prefix, customer_id, len, NULL, 0);
    MDB_cursor *cursor;
    if (!prefix_len || mdb_cursor_open(txn, rp_store_dbi(store, "contact_names"), &cursor))
        return false;
    bool found = false;
    MDB_val key = {prefix_len, prefix}, value;
    for (int rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
         rc == 0 && !found && key.mv_size > prefix_len &&
         memcmp(key.mv_data, prefix, prefix_len) == 0;
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT))
        found = fn(arg, value.mv_data, value.mv_size);
    mdb_cursor_close(cursor);
    return found;
}

int contact_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len, const char *to,
                 size_t to_len, const char *time, size_t time_len)
{
    page_keys_t keys;
    int rc = page_keys(txn, rp_store_dbi(store, "contacts"), from, from_len, &keys);
    for (size_t i = 0; rc == 0 && i < keys.count; i++) {
        MDB_val value;
        rc = mdb_get(txn, rp_store_dbi(store, "contacts"), &keys.keys[i], &value);
        rp_doc_t *doc = rc ? NULL : rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (!rc && !doc)
            rc = -1;
        if (rc)
            break;
        contact_apply_t moved = {.store = store, .txn = txn};
        contact_init(&moved.record);
        rp_record_from_map(&moved.record, rp_doc_root(doc));
        rp_record_set_u64(&moved.record, CONTACT_VERSION, rp_record_version(&moved.record) + 1);
        rp_record_set_str(&moved.record, CONTACT_UPDATED_AT, time, time_len);
        rp_record_set_str(&moved.record, CONTACT_CUSTOMER_ID, to, to_len);
        const char *contact_id = (const char *)keys.keys[i].mv_data + from_len + 1;
        moved.key_len =
            page_key(moved.key, to, to_len, contact_id, keys.keys[i].mv_size - from_len - 1);
        rc = moved.key_len ? s_contact_unkey(txn, store, &keys.keys[i]) : -1;
        if (!rc)
            rc = s_contact_put(&moved);
        if (!rc)
            rc = mdb_del(txn, rp_store_dbi(store, "contacts"), &keys.keys[i], NULL);
        if (!rc)
            rc = mdb_del(txn, rp_store_dbi(store, "contact_names"), &keys.keys[i], NULL);
        rp_record_reset(&moved.record);
        rp_doc_destroy(&doc);
    }
    page_keys_free(&keys);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  Self-test: the whole event flow is in relations_test (merge.c), where
//  apply.c is at hand; here the record's own rules.

void contact_test(void)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 6);
    rp_pack_kv_cstr(&packer.pk, "name", "张伟");
    rp_pack_kv_cstr(&packer.pk, "title", "采购经理");
    rp_pack_cstr(&packer.pk, "phones");
    msgpack_pack_array(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "138-0013-8000");
    rp_pack_cstr(&packer.pk, "(021) 5888 1234");
    rp_pack_kv_cstr(&packer.pk, "email", "Zhang.Wei@XingChen.CN");
    rp_pack_kv_cstr(&packer.pk, "birthday", "1985/03/08");
    rp_pack_kv_cstr(&packer.pk, "notes", "直爽，重视交期。\n喜欢喝茶");
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_record_t contact;
    contact_init(&contact);
    rp_field_error_t errors[CONTACT_FIELDS];
    assert(rp_record_validate(&contact, rp_doc_root(doc), NULL, true, "CN", errors,
                              CONTACT_FIELDS) == 0);
    const msgpack_object *phones = &contact.values[CONTACT_PHONES];
    assert(rp_obj_streq(&phones->via.array.ptr[0], "+8613800138000"));
    assert(rp_obj_streq(&phones->via.array.ptr[1], "+862158881234"));
    assert(rp_obj_streq(&contact.values[CONTACT_EMAIL], "zhang.wei@xingchen.cn"));
    assert(rp_obj_streq(&contact.values[CONTACT_BIRTHDAY], "1985-03-08"));
    assert(!contact.given[CONTACT_ID] && !contact.given[CONTACT_HOBBIES]);
    rp_record_reset(&contact);
    rp_doc_destroy(&doc);

    //  The service's fields are not the client's; the name is required.
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_u64(&packer.pk, "version", 3);
    rp_pack_kv_cstr(&packer.pk, "customer_id", "x");
    rp_pack_kv_cstr(&packer.pk, "birthday", "1985-02-30");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(rp_record_validate(&contact, rp_doc_root(doc), NULL, true, "CN", errors,
                              CONTACT_FIELDS) == 4);
    assert(strcmp(errors[0].code, "read_only") == 0 && strcmp(errors[1].code, "read_only") == 0);
    assert(strcmp(errors[2].field, "birthday") == 0 && strcmp(errors[3].field, "name") == 0);
    rp_record_reset(&contact);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);

    rp_event_t event = {.type = "customer.contact_added", .type_len = 22};
    assert(contact_event(&event));
    event.type = "customer.created";
    event.type_len = 16;
    assert(!contact_event(&event));
}
