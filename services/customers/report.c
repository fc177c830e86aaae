/*  report.c — see report.h. */
#include "report.h"
#include "apply.h"
#include "customer.h"
#include "scope.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    int field;
} s_bys[] = {{"grade", CUSTOMER_GRADE},
             {"tier", CUSTOMER_TIER},
             {"region", CUSTOMER_REGION},
             {"industry", CUSTOMER_INDUSTRY},
             {"owner", CUSTOMER_OWNER}};

typedef struct {
    char *key; //  NULL: no value
    uint64_t count;
} group_t;

typedef struct {
    int field;
    const rp_scope_t *scope;
    zhashx_t *groups; //  value ("\x01" for none) → group_t
    uint64_t total;
} tally_t;

static void s_group_destroy(void **item)
{
    group_t *group = (group_t *)*item;
    free(group->key);
    free(group);
    *item = NULL;
}

static void s_tally(tally_t *tally, const rp_record_t *record)
{
    const char *str;
    size_t len;
    char none[] = "\x01"; //  cannot be a value: control characters are refused
    char *key = rp_record_str(record, tally->field, &str, &len) && len ? strndup(str, len) : NULL;
    group_t *group = (group_t *)zhashx_lookup(tally->groups, key ? key : none);
    if (!group) {
        group = (group_t *)calloc(1, sizeof *group);
        assert(group);
        group->key = key ? strdup(key) : NULL;
        zhashx_insert(tally->groups, key ? key : none, group);
    }
    group->count++;
    tally->total++;
    free(key);
}

static int s_tally_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    tally_t *tally = (tally_t *)arg;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, rp_store_dbi(store, "customers"), &cursor);
    if (rc)
        return rc;
    MDB_val k, v;
    for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT)) {
        rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
        rp_record_t record;
        customer_init(&record);
        bool archived = false;
        if (doc) {
            rp_record_from_map(&record, rp_doc_root(doc));
            rp_obj_bool(&record.values[CUSTOMER_ARCHIVED], &archived);
            if (!archived && scope_allows(tally->scope, &record, false))
                s_tally(tally, &record);
        }
        rp_record_reset(&record);
        rp_doc_destroy(&doc);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  Largest first; ties by key, no value last.
static int s_group_order(const void *a, const void *b)
{
    const group_t *x = *(const group_t *const *)a, *y = *(const group_t *const *)b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    if (!x->key || !y->key)
        return x->key ? -1 : y->key ? 1 : 0;
    return strcmp(x->key, y->key);
}

static void s_reply(rp_service_t *service, rp_origin_t **origin_p, const char *by, tally_t *tally)
{
    size_t count = zhashx_size(tally->groups), i = 0;
    group_t **groups = (group_t **)calloc(count ? count : 1, sizeof *groups);
    assert(groups);
    for (group_t *g = (group_t *)zhashx_first(tally->groups); g;
         g = (group_t *)zhashx_next(tally->groups))
        groups[i++] = g;
    qsort(groups, count, sizeof *groups, s_group_order);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 3);
    rp_pack_kv_cstr(&packer.pk, "by", by);
    rp_pack_kv_u64(&packer.pk, "total", tally->total);
    rp_pack_cstr(&packer.pk, "groups");
    msgpack_pack_array(&packer.pk, count);
    for (i = 0; i < count; i++) {
        msgpack_pack_map(&packer.pk, 3);
        rp_pack_cstr(&packer.pk, "key");
        if (groups[i]->key)
            rp_pack_cstr(&packer.pk, groups[i]->key);
        else
            msgpack_pack_nil(&packer.pk);
        rp_pack_kv_u64(&packer.pk, "count", groups[i]->count);
        rp_pack_cstr(&packer.pk, "share");
        msgpack_pack_double(&packer.pk, (double)groups[i]->count / (double)tally->total);
    }
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
    free(groups);
}

void report_composition(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req)
{
    (void)arg;
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden", "this role cannot read reports");
        return;
    }
    const msgpack_object *by = rp_obj_get(req->args, "by");
    int field = -1;
    const char *name = NULL;
    for (size_t i = 0; i < sizeof s_bys / sizeof s_bys[0]; i++)
        if (rp_obj_streq(by, s_bys[i].name)) {
            field = s_bys[i].field;
            name = s_bys[i].name;
        }
    if (field < 0) {
        rp_field_error_t error = {"by", "invalid",
                                  "by is one of grade, tier, region, industry, owner"};
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid", &error,
                                 1);
        return;
    }
    tally_t tally = {field, &scope, zhashx_new(), 0};
    zhashx_set_destructor(tally.groups, s_group_destroy);
    if (rp_store_read(rp_service_store(service), s_tally_read, &tally))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        s_reply(service, &origin, name, &tally);
    zhashx_destroy(&tally.groups);
}
