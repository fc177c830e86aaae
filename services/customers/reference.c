/*  reference.c — see reference.h. */
#include "reference.h"
#include "apply.h"
#include "grading.h"

#include <rapport/integrator.h>
#include <rapport/normalize.h>

#include <assert.h>
#include <string.h>

size_t reference_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *data, char *out)
{
    const char *key, *value;
    size_t len;
    if (!rp_integrator_customer(data, &key, &value, &len))
        return 0;
    MDB_val id = {len, (void *)value}, record;
    if (strcmp(key, "id") != 0 &&
        customers_apply_index_get(store, txn, strcmp(key, "code") == 0 ? "codes" : "tax_ids", value,
                                  len, &id))
        return 0;
    if (id.mv_size == 0 || id.mv_size > APPLY_MAX_ID ||
        customers_apply_record_get(store, txn, id.mv_data, id.mv_size, &record))
        return 0;
    memcpy(out, id.mv_data, id.mv_size);
    out[id.mv_size] = 0;
    return id.mv_size;
}

//  The first id under kind + value + NUL in db (the likely-duplicates
//  index, or contact_keys, whose ids are <customer id> NUL <contact id>).
static size_t s_similar_in(rp_store_t *store, MDB_txn *txn, const char *db, char kind,
                           const char *value, size_t len, char *out)
{
    char prefix[RP_NORMALIZE_MAX + 2];
    if (len == 0 || len > RP_NORMALIZE_MAX)
        return 0;
    prefix[0] = kind;
    memcpy(prefix + 1, value, len);
    prefix[len + 1] = 0;
    size_t prefix_len = len + 2, found = 0;
    MDB_cursor *cursor;
    if (mdb_cursor_open(txn, rp_store_dbi(store, db), &cursor))
        return 0;
    MDB_val k = {prefix_len, prefix}, v;
    if (mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE) == 0 && k.mv_size > prefix_len &&
        memcmp(k.mv_data, prefix, prefix_len) == 0) {
        const char *id = (const char *)k.mv_data + prefix_len;
        const char *end = memchr(id, 0, k.mv_size - prefix_len); //  a contact's key
        found = end ? (size_t)(end - id) : k.mv_size - prefix_len;
        if (found > APPLY_MAX_ID)
            found = 0;
        memcpy(out, id, found);
        out[found] = 0;
    }
    mdb_cursor_close(cursor);
    return found;
}

//  A customer's own value first, then one of its contacts'.
static size_t s_similar(rp_store_t *store, MDB_txn *txn, char kind, const char *value, size_t len,
                        char *out)
{
    size_t found = s_similar_in(store, txn, "similar", kind, value, len, out);
    if (!found && kind != 'n')
        found = s_similar_in(store, txn, "contact_keys", kind, value, len, out);
    return found;
}

size_t reference_phone(rp_store_t *store, MDB_txn *txn, const char *phone, size_t len, char *out)
{
    grading_t grading;
    grading_load(&grading, store, txn);
    char e164[RP_NORMALIZE_PHONE_MAX];
    if (rp_normalize_phone(phone, len, grading.region, e164))
        return 0;
    return s_similar(store, txn, 'p', e164, strlen(e164), out);
}

size_t reference_email(rp_store_t *store, MDB_txn *txn, const char *email, size_t len, char *out)
{
    char normal[RP_NORMALIZE_EMAIL_MAX];
    if (rp_normalize_email(email, len, normal))
        return 0;
    return s_similar(store, txn, 'e', normal, strlen(normal), out);
}

size_t reference_name(rp_store_t *store, MDB_txn *txn, const char *name, size_t len, char *out)
{
    char normal[RP_NORMALIZE_NAME_MAX];
    if (rp_normalize_name(name, len, normal))
        return 0;
    return s_similar(store, txn, 'n', normal, strlen(normal), out);
}

void reference_test(void)
{
    //  Tested through the folds that use it (order_test, activity_test).
    char out[APPLY_MAX_ID + 1];
    msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    assert(reference_customer(NULL, NULL, &nil, out) == 0);
}
