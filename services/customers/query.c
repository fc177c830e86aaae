/*  query.c — see query.h. */
#include "query.h"
#include "apply.h"
#include "contact.h"

#include <assert.h>
#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The sort orders: letter in keys and cursors, the field, its name.
static const struct {
    char letter;
    int field;
    const char *name;
} s_sorts[] = {
    {'c', CUSTOMER_CREATED_AT, "created_at"},
    {'u', CUSTOMER_UPDATED_AT, "updated_at"},
    {'n', CUSTOMER_NAME, "name"},
    {'k', CUSTOMER_CODE, "code"},
    {'g', CUSTOMER_GRADE, "grade"},
};
#define SORTS (sizeof s_sorts / sizeof s_sorts[0])

#define KEY_MAX    (1 + QUERY_INDEX_VALUE + 1 + APPLY_MAX_ID)
#define CURSOR_RAW (2 + KEY_MAX)
#define CURSOR_B64 (sodium_base64_ENCODED_LEN(CURSOR_RAW, sodium_base64_VARIANT_URLSAFE_NO_PADDING))

//  ---------------------------------------------------------------------
//  Parsing the request

static int s_query_error(rp_field_error_t *errors, int count, int max, const char *field,
                         const char *code, const char *message)
{
    if (count < max) {
        rp_field_error_set(&errors[count], field, strlen(field), code);
        errors[count].message = message;
    }
    return count + 1;
}

//  An optional text filter of 1..max bytes without control characters.
static int s_text(const msgpack_object *args, const char *name, size_t max, query_text_t *out,
                  rp_field_error_t *errors, int count, int max_errors)
{
    const msgpack_object *o = rp_obj_get(args, name);
    out->ptr = NULL;
    out->len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &out->ptr, &out->len) && out->len >= 1 &&
        !rp_normalize_text(out->ptr, out->len, max, RP_TEXT_BLANK))
        return count;
    out->ptr = NULL;
    return s_query_error(errors, count, max_errors, name, "invalid",
                         "must be text of 1..200 bytes without control characters");
}

//  A filter on an enumerated field is one of the field's values (the
//  customer record's table), else an error: the gateway passes the query
//  on unchecked.
static int s_enum(const query_text_t *value, int field, const char *message,
                  rp_field_error_t *errors, int count, int max_errors)
{
    if (!value->ptr)
        return count;
    rp_record_t record;
    customer_init(&record);
    const rp_field_t *def = &record.fields[field];
    bool found = false;
    for (size_t i = 0; def->values && def->values[i] && !found; i++)
        found = strlen(def->values[i]) == value->len &&
                memcmp(def->values[i], value->ptr, value->len) == 0;
    int n = found ? count : s_query_error(errors, count, max_errors, def->name, "invalid", message);
    rp_record_reset(&record);
    return n;
}

bool query_time(const char *in, size_t len, char out[QUERY_TIME_MAX])
{
    //  A date as it is ("2026-01-02" is a prefix of that day's stored
    //  times), or a UTC time ("…Z") normalized as stored times are.
    if (len == 10 && in[4] == '-')
        return rp_normalize_date(in, len, out) == NULL;
    return len > 10 && (in[len - 1] == 'Z' || in[len - 1] == 'z') &&
           rp_normalize_time(in, len, out) == NULL;
}

static int s_time(const msgpack_object *args, const char *name, char out[QUERY_TIME_MAX],
                  rp_field_error_t *errors, int count, int max_errors)
{
    const msgpack_object *o = rp_obj_get(args, name);
    const char *str;
    size_t len;
    out[0] = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &str, &len) && len <= 40 && query_time(str, len, out))
        return count;
    out[0] = 0;
    return s_query_error(errors, count, max_errors, name, "invalid",
                         "must be a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SS[.fff]Z");
}

static int s_sort(query_t *self, const msgpack_object *args, rp_field_error_t *errors, int count,
                  int max_errors)
{
    const msgpack_object *o = rp_obj_get(args, "sort");
    const char *str;
    size_t len;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &str, &len) && len > 0) {
        self->descending = str[0] == '-';
        if (self->descending) {
            str++;
            len--;
        }
        for (size_t i = 0; i < SORTS; i++)
            if (strlen(s_sorts[i].name) == len && memcmp(s_sorts[i].name, str, len) == 0) {
                self->sort = s_sorts[i].letter;
                return count;
            }
    }
    self->descending = false;
    return s_query_error(errors, count, max_errors, "sort", "invalid",
                         "sort is one of created_at, updated_at, name, code, grade, each with an "
                         "optional leading '-' for descending");
}

static int s_cursor(query_t *self, const msgpack_object *args, rp_field_error_t *errors, int count,
                    int max_errors)
{
    const msgpack_object *o = rp_obj_get(args, "cursor");
    const char *str;
    size_t len, raw_len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &str, &len) && len > 0 && len < CURSOR_B64 &&
        sodium_base642bin(self->cursor, sizeof self->cursor, str, len, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) == 0 &&
        raw_len >= 3 && raw_len <= CURSOR_RAW &&
        self->cursor[0] == (self->sort ? self->sort : 'i') &&
        self->cursor[1] == (self->descending ? '-' : '+')) {
        self->cursor_len = raw_len;
        return count;
    }
    self->cursor_len = 0;
    return s_query_error(errors, count, max_errors, "cursor", "invalid",
                         "not a cursor this list gave for this sort");
}

int query_parse(query_t *self, const msgpack_object *args, rp_field_error_t *errors, int max_errors)
{
    memset(self, 0, sizeof *self);
    self->limit = QUERY_LIMIT_DEFAULT;
    int n = 0;
    if (args && !rp_obj_is_map(args))
        return s_query_error(errors, n, max_errors, "args", "type", "args must be a map");
    const msgpack_object *limit = rp_obj_get(args, "limit");
    if (limit &&
        (!rp_obj_u64(limit, &self->limit) || self->limit < 1 || self->limit > QUERY_LIMIT_MAX))
        n = s_query_error(errors, n, max_errors, "limit", "out_of_range", "limit must be 1..200");
    const msgpack_object *archived = rp_obj_get(args, "archived");
    if (archived && archived->type != MSGPACK_OBJECT_NIL && !rp_obj_bool(archived, &self->archived))
        n = s_query_error(errors, n, max_errors, "archived", "invalid",
                          "archived must be a boolean");
    n = s_text(args, "q", QUERY_MAX_TEXT, &self->q, errors, n, max_errors);
    int before = n;
    n = s_text(args, "grade", 16, &self->grade, errors, n, max_errors);
    if (n == before)
        n = s_enum(&self->grade, CUSTOMER_GRADE, "grade is one of A, B, C, D, E", errors, n,
                   max_errors);
    before = n;
    n = s_text(args, "tier", 16, &self->tier, errors, n, max_errors);
    if (n == before)
        n = s_enum(&self->tier, CUSTOMER_TIER,
                   "tier is one of lead, prospect, transacting, key, strategic", errors, n,
                   max_errors);
    n = s_text(args, "owner", 100, &self->owner, errors, n, max_errors);
    n = s_text(args, "team", 100, &self->team, errors, n, max_errors);
    n = s_text(args, "region", 100, &self->region, errors, n, max_errors);
    n = s_text(args, "industry", 100, &self->industry, errors, n, max_errors);
    n = s_text(args, "tag", 50, &self->tag, errors, n, max_errors);
    n = s_time(args, "created_after", self->created_after, errors, n, max_errors);
    n = s_time(args, "created_before", self->created_before, errors, n, max_errors);
    n = s_time(args, "last_contacted_before", self->contacted_before, errors, n, max_errors);
    n = s_sort(self, args, errors, n, max_errors);
    n = s_cursor(self, args, errors, n, max_errors);
    return n < max_errors ? n : max_errors;
}

//  ---------------------------------------------------------------------
//  Matching

static bool s_same(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

//  Case-insensitive for ASCII, byte-exact otherwise (so Chinese matches as
//  itself: UTF-8 sequences never contain ASCII bytes).
static bool s_contains(const char *hay, size_t hay_len, const char *needle, size_t needle_len)
{
    for (size_t i = 0; i + needle_len <= hay_len; i++) {
        size_t j = 0;
        while (j < needle_len) {
            unsigned char a = (unsigned char)hay[i + j], b = (unsigned char)needle[j];
            if (a == b || (a < 0x80 && b < 0x80 && tolower(a) == tolower(b)))
                j++;
            else
                break;
        }
        if (j == needle_len)
            return true;
    }
    return false;
}

static bool s_field_is(const rp_record_t *record, int field, const query_text_t *want)
{
    const char *str;
    size_t len;
    return !want->ptr ||
           (rp_record_str(record, field, &str, &len) && s_same(str, len, want->ptr, want->len));
}

static bool s_has_tag(const rp_record_t *record, const query_text_t *tag)
{
    const msgpack_object *tags = &record->values[CUSTOMER_TAGS];
    if (!tag->ptr)
        return true;
    for (uint32_t i = 0; rp_obj_is_array(tags) && i < tags->via.array.size; i++) {
        const char *str;
        size_t len;
        if (rp_obj_str(&tags->via.array.ptr[i], &str, &len) && s_same(str, len, tag->ptr, tag->len))
            return true;
    }
    return false;
}

//  Compare a stored time field with a bound: -1, 0, 1 by bytes over the
//  bound's length (a date bound compares with the date part). A missing
//  value is NULL-like: *present false.
static int s_time_cmp(const rp_record_t *record, int field, const char *bound, bool *present)
{
    const char *str;
    size_t len;
    *present = rp_record_str(record, field, &str, &len) && len > 0;
    if (!*present)
        return 0;
    size_t n = strlen(bound);
    int c = memcmp(str, bound, len < n ? len : n);
    return c ? c : (len < n ? -1 : len > n ? 1 : 0);
}

static bool s_times_match(const query_t *self, const rp_record_t *record)
{
    bool present;
    if (self->created_after[0] &&
        (s_time_cmp(record, CUSTOMER_CREATED_AT, self->created_after, &present) < 0 || !present))
        return false;
    if (self->created_before[0] &&
        (s_time_cmp(record, CUSTOMER_CREATED_AT, self->created_before, &present) >= 0 || !present))
        return false;
    if (self->contacted_before[0]) {
        int c = s_time_cmp(record, CUSTOMER_LAST_CONTACTED_AT, self->contacted_before, &present);
        if (present && c >= 0)
            return false; //  contacted since: never-contacted records match
    }
    return true;
}

bool query_match(const query_t *self, const rp_scope_t *scope, const rp_record_t *record)
{
    bool archived = false;
    rp_obj_bool(&record->values[CUSTOMER_ARCHIVED], &archived);
    if (archived != self->archived || !scope_allows(scope, record, false) ||
        !s_field_is(record, CUSTOMER_GRADE, &self->grade) ||
        !s_field_is(record, CUSTOMER_TIER, &self->tier) ||
        !s_field_is(record, CUSTOMER_OWNER, &self->owner) ||
        !s_field_is(record, CUSTOMER_TEAM, &self->team) ||
        !s_field_is(record, CUSTOMER_REGION, &self->region) ||
        !s_field_is(record, CUSTOMER_INDUSTRY, &self->industry) || !s_has_tag(record, &self->tag) ||
        !s_times_match(self, record))
        return false;
    if (!self->q.ptr)
        return true;
    static const int searched[] = {CUSTOMER_NAME, CUSTOMER_SHORT_NAME, CUSTOMER_CODE};
    for (size_t i = 0; i < sizeof searched / sizeof searched[0]; i++) {
        const char *str;
        size_t len;
        if (rp_record_str(record, searched[i], &str, &len) &&
            s_contains(str, len, self->q.ptr, self->q.len))
            return true;
    }
    return false;
}

//  ---------------------------------------------------------------------
//  The sort index

//  The index key of record for sort i; its length.
static size_t s_index_key(const rp_record_t *record, size_t i, const char *id, size_t id_len,
                          uint8_t key[KEY_MAX])
{
    const char *str = "";
    size_t len = 0;
    rp_record_str(record, s_sorts[i].field, &str, &len);
    if (len > QUERY_INDEX_VALUE)
        len = QUERY_INDEX_VALUE;
    if (memchr(str, 0, len)) //  never for checked text; keep the key parseable
        len = (size_t)((const char *)memchr(str, 0, len) - str);
    key[0] = (uint8_t)s_sorts[i].letter;
    memcpy(key + 1, str, len);
    key[1 + len] = 0;
    memcpy(key + 2 + len, id, id_len);
    return 2 + len + id_len;
}

int query_index_save(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len,
                     const rp_record_t *record)
{
    if (id_len == 0 || id_len > APPLY_MAX_ID)
        return 0;
    MDB_dbi dbi = rp_store_dbi(store, QUERY_DBNAME);
    MDB_val stored;
    rp_doc_t *doc = NULL;
    rp_record_t old;
    customer_init(&old);
    bool had = customers_apply_record_get(store, txn, id, id_len, &stored) == 0;
    if (had) {
        //  LMDB pages move on put: decode a private copy.
        doc = rp_doc_new(stored.mv_data, stored.mv_size, NULL);
        had = doc != NULL;
        if (had)
            rp_record_from_map(&old, rp_doc_root(doc));
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < SORTS; i++) {
        uint8_t was[KEY_MAX], now[KEY_MAX];
        size_t was_len = had ? s_index_key(&old, i, id, id_len, was) : 0;
        size_t now_len = s_index_key(record, i, id, id_len, now);
        if (was_len == now_len && memcmp(was, now, now_len) == 0)
            continue;
        MDB_val k = {was_len, was}, v = {0, (void *)""};
        if (had) {
            rc = mdb_del(txn, dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
        k.mv_size = now_len;
        k.mv_data = now;
        if (rc == 0)
            rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    rp_record_reset(&old);
    rp_doc_destroy(&doc);
    return rc;
}

//  ---------------------------------------------------------------------
//  Walking

static void s_cursor_encode(const query_t *self, const void *key, size_t len, char *out,
                            size_t size)
{
    uint8_t raw[CURSOR_RAW];
    if (len > KEY_MAX || size < CURSOR_B64) {
        out[0] = 0;
        return;
    }
    raw[0] = (uint8_t)(self->sort ? self->sort : 'i');
    raw[1] = self->descending ? '-' : '+';
    memcpy(raw + 2, key, len);
    sodium_bin2base64(out, size, raw, len + 2, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

//  Position c at the first key to look at.
static int s_seek(MDB_cursor *c, const query_t *self, MDB_val *k, MDB_val *v)
{
    uint8_t first[1] = {(uint8_t)self->sort};
    uint8_t after[1] = {(uint8_t)(self->sort + 1)};
    bool resume = self->cursor_len > 0;
    k->mv_data = resume ? (void *)(self->cursor + 2) : self->descending ? after : first;
    k->mv_size = resume ? self->cursor_len - 2 : 1;
    size_t want_len = k->mv_size;
    const void *want = k->mv_data;
    if (!self->sort && !resume)
        return mdb_cursor_get(c, k, v, MDB_FIRST);
    int rc = mdb_cursor_get(c, k, v, MDB_SET_RANGE);
    if (!self->descending) {
        if (rc == 0 && resume && k->mv_size == want_len && memcmp(k->mv_data, want, want_len) == 0)
            rc = mdb_cursor_get(c, k, v, MDB_NEXT);
        return rc;
    }
    return rc == 0              ? mdb_cursor_get(c, k, v, MDB_PREV)
           : rc == MDB_NOTFOUND ? mdb_cursor_get(c, k, v, MDB_LAST)
                                : rc;
}

//  q also matches the names of the record's contacts (contact.h keeps them
//  in their own database, so this costs one cursor seek per record that
//  passed every other filter).
static bool s_q_in_name(void *arg, const char *name, size_t len)
{
    const query_text_t *q = (const query_text_t *)arg;
    return s_contains(name, len, q->ptr, q->len);
}

static bool s_match_with_contacts(rp_store_t *store, MDB_txn *txn, const query_t *query,
                                  const rp_scope_t *scope, const rp_record_t *record)
{
    if (query_match(query, scope, record))
        return true;
    if (!query->q.ptr)
        return false;
    query_t others = *query; //  every filter but q
    others.q.ptr = NULL;
    const char *id;
    size_t id_len;
    return query_match(&others, scope, record) &&
           rp_record_str(record, CUSTOMER_ID, &id, &id_len) &&
           contact_name_any(store, txn, id, id_len, s_q_in_name, (void *)&query->q);
}

int query_walk(rp_store_t *store, MDB_txn *txn, const query_t *query, const rp_scope_t *scope,
               size_t max_scan, query_visit_fn *fn, void *arg, char *next, size_t next_size)
{
    MDB_cursor *c;
    int rc =
        mdb_cursor_open(txn, rp_store_dbi(store, query->sort ? QUERY_DBNAME : "customers"), &c);
    if (rc)
        return rc;
    MDB_val k, v;
    uint8_t last[KEY_MAX];
    size_t last_len = 0, scanned = 0;
    bool stop = false;
    next[0] = 0;
    for (rc = s_seek(c, query, &k, &v); rc == 0;
         rc = mdb_cursor_get(c, &k, &v, query->descending ? MDB_PREV : MDB_NEXT)) {
        if (query->sort && (k.mv_size < 2 || ((uint8_t *)k.mv_data)[0] != (uint8_t)query->sort)) {
            rc = MDB_NOTFOUND; //  past this sort's keys
            break;
        }
        if (stop || scanned == max_scan)
            break; //  more remain: go on after the last key looked at
        scanned++;
        if (k.mv_size > KEY_MAX)
            continue;
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        MDB_val record_value = v;
        if (query->sort) {
            const char *key = (const char *)k.mv_data;
            const char *nul = memchr(key + 1, 0, k.mv_size - 1);
            size_t at = nul ? (size_t)(nul - key) + 1 : 0; //  where the id begins
            if (!at ||
                customers_apply_record_get(store, txn, key + at, k.mv_size - at, &record_value))
                continue; //  a stale entry: cannot happen, tolerate it
        }
        rp_doc_t *doc = rp_doc_new(record_value.mv_data, record_value.mv_size, NULL);
        rp_record_t record;
        customer_init(&record);
        if (doc) {
            rp_record_from_map(&record, rp_doc_root(doc));
            if (s_match_with_contacts(store, txn, query, scope, &record) &&
                !fn(arg, &record_value, &record))
                stop = true;
        }
        rp_record_reset(&record);
        rp_doc_destroy(&doc);
    }
    if (rc == 0 && last_len)
        s_cursor_encode(query, last, last_len, next, next_size);
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  The op

typedef struct {
    const query_t *query;
    const rp_scope_t *scope;
    rp_packer_t items;
    size_t count;
    char next[CURSOR_B64];
} list_t;

static bool s_list_visit(void *arg, const MDB_val *value, const rp_record_t *record)
{
    (void)record;
    list_t *list = (list_t *)arg;
    msgpack_sbuffer_write(&list->items.buffer, value->mv_data, value->mv_size);
    return ++list->count < list->query->limit;
}

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    return query_walk(store, txn, list->query, list->scope, QUERY_MAX_SCAN, s_list_visit, list,
                      list->next, sizeof list->next);
}

void query_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req)
{
    (void)arg;
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden",
                               "this role cannot list customers");
        return;
    }
    query_t query;
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    int count = query_parse(&query, req->args, errors, CUSTOMER_MAX_ERRORS);
    if (count) {
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid", errors,
                                 count);
        return;
    }
    list_t list = {.query = &query, .scope = &scope};
    rp_packer_init(&list.items);
    if (rp_store_read(rp_service_store(service), s_list_read, &list))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &origin, &list.items, list.count, list.next);
    rp_packer_destroy(&list.items);
}

//  ---------------------------------------------------------------------
//  Self-test: parsing, matching, and paging every sort over a real store.

static rp_doc_t *s_test_args(const char *const *kv)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    size_t pairs = 0;
    while (kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&packer.pk, pairs);
    for (size_t i = 0; i < pairs; i++)
        rp_pack_kv_cstr(&packer.pk, kv[i * 2], kv[i * 2 + 1]);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&packer);
    return doc;
}

//  The query borrows from the args: they stay until the next call (NULL
//  frees them).
static int s_test_parse(query_t *query, const char *const *kv, rp_field_error_t *errors)
{
    static rp_doc_t *doc = NULL;
    rp_doc_destroy(&doc);
    if (!kv)
        return 0;
    doc = s_test_args(kv);
    return query_parse(query, rp_doc_root(doc), errors, CUSTOMER_MAX_ERRORS);
}

static void s_test_record(rp_record_t *r, const char *id, const char *name, const char *created,
                          const char *grade, const char *contacted)
{
    customer_init(r);
    rp_record_set_str(r, CUSTOMER_ID, id, strlen(id));
    rp_record_set_str(r, CUSTOMER_NAME, name, strlen(name));
    rp_record_set_str(r, CUSTOMER_CODE, id, strlen(id));
    rp_record_set_str(r, CUSTOMER_CREATED_AT, created, strlen(created));
    rp_record_set_str(r, CUSTOMER_UPDATED_AT, created, strlen(created));
    rp_record_set_str(r, CUSTOMER_REGION, "华东", strlen("华东"));
    rp_record_set_bool(r, CUSTOMER_ARCHIVED, false);
    if (grade)
        rp_record_set_str(r, CUSTOMER_GRADE, grade, 1);
    if (contacted)
        rp_record_set_str(r, CUSTOMER_LAST_CONTACTED_AT, contacted, strlen(contacted));
}

#define TEST_RECORDS 30

static void s_test_put(rp_store_t *store, MDB_txn *txn, const char *id, const rp_record_t *r)
{
    assert(query_index_save(store, txn, id, strlen(id), r) == 0);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_record_pack(r, &packer.pk);
    MDB_val k = {strlen(id), (void *)id}, v = {packer.buffer.size, packer.buffer.data};
    assert(mdb_put(txn, rp_store_dbi(store, "customers"), &k, &v, 0) == 0);
    rp_packer_destroy(&packer);
}

static int s_test_fill(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    for (int i = 0; i < TEST_RECORDS; i++) {
        char id[16], name[32], created[40];
        snprintf(id, sizeof id, "r%02d", i);
        //  names and times in orders unlike the ids
        snprintf(name, sizeof name, "客户%02d", (i * 7) % TEST_RECORDS);
        snprintf(created, sizeof created, "2026-01-%02dT00:00:00.000Z", 1 + (i * 11) % 28);
        rp_record_t r;
        s_test_record(&r, id, name, created, i % 3 ? "B" : NULL,
                      i % 2 ? "2026-03-01T00:00:00.000Z" : NULL);
        s_test_put(store, txn, id, &r);
        rp_record_reset(&r);
    }
    //  Rename one: its old name key goes, the new one sorts first.
    rp_record_t r;
    s_test_record(&r, "r00", "甲", "2026-01-01T00:00:00.000Z", NULL, NULL);
    s_test_put(store, txn, "r00", &r);
    rp_record_reset(&r);
    return 0;
}

typedef struct {
    query_t *query;
    rp_scope_t *scope;
    char ids[TEST_RECORDS * 2][8];
    char values[TEST_RECORDS * 2][40];
    size_t count, page;
    char next[CURSOR_B64];
} test_walk_t;

static bool s_test_visit(void *arg, const MDB_val *value, const rp_record_t *record)
{
    (void)value;
    test_walk_t *w = (test_walk_t *)arg;
    const char *str = "";
    size_t len = 0;
    rp_record_str(record, CUSTOMER_ID, &str, &len);
    snprintf(w->ids[w->count], 8, "%.*s", (int)len, str);
    str = "";
    len = 0;
    for (size_t i = 0; i < SORTS; i++)
        if (s_sorts[i].letter == w->query->sort)
            rp_record_str(record, s_sorts[i].field, &str, &len);
    snprintf(w->values[w->count++], 40, "%.*s", (int)len, str);
    return ++w->page < w->query->limit;
}

static int s_test_walk_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_walk_t *w = (test_walk_t *)arg;
    w->page = 0;
    return query_walk(store, txn, w->query, w->scope, 1000, s_test_visit, w, w->next,
                      sizeof w->next);
}

//  Page through a sort 7 at a time: every record once, in order.
static void s_test_sort(rp_store_t *store, const char *sort, const char *filter_key,
                        const char *filter_value, size_t expected)
{
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    test_walk_t w = {.scope = &admin};
    char cursor[CURSOR_B64] = "";
    do {
        const char *kv[] = {
            "sort", sort, "limit", "7", filter_key, filter_value, cursor[0] ? "cursor" : NULL,
            cursor, NULL};
        query_t query;
        rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
        rp_packer_t packer;
        rp_packer_init(&packer);
        size_t pairs = 0;
        while (kv[pairs * 2])
            pairs++;
        msgpack_pack_map(&packer.pk, pairs);
        for (size_t i = 0; i < pairs; i++) {
            rp_pack_cstr(&packer.pk, kv[i * 2]);
            if (strcmp(kv[i * 2], "limit") == 0)
                msgpack_pack_uint64(&packer.pk, 7);
            else
                rp_pack_cstr(&packer.pk, kv[i * 2 + 1]);
        }
        rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
        assert(query_parse(&query, rp_doc_root(doc), errors, CUSTOMER_MAX_ERRORS) == 0);
        w.query = &query;
        assert(rp_store_read(store, s_test_walk_read, &w) == 0);
        snprintf(cursor, sizeof cursor, "%s", w.next);
        rp_doc_destroy(&doc);
        rp_packer_destroy(&packer);
        assert(w.count <= TEST_RECORDS);
    } while (cursor[0]);
    assert(w.count == expected);
    bool descending = sort[0] == '-';
    for (size_t i = 1; i < w.count; i++) {
        int c = strcmp(w.values[i - 1], w.values[i]);
        if (c == 0)
            c = strcmp(w.ids[i - 1], w.ids[i]);
        assert(descending ? c > 0 : c < 0);
    }
}

void query_test(void)
{
    char t[QUERY_TIME_MAX];
    assert(query_time("2026-01-02", 10, t) && strcmp(t, "2026-01-02") == 0);
    assert(query_time("2026-01-02T03:04:05Z", 20, t) && strcmp(t, "2026-01-02T03:04:05.000Z") == 0);
    assert(query_time("2026-01-02T03:04:05.1234Z", 25, t) &&
           strcmp(t, "2026-01-02T03:04:05.123Z") == 0);
    assert(!query_time("2026-13-02", 10, t));
    assert(!query_time("2026-01-02T03:04:05+08:00", 25, t));
    assert(!query_time("yesterday", 9, t));
    assert(!query_time("2026-02-30", 10, t) && !query_time("2026-02-28T24:00:00Z", 20, t));
    assert(!query_time("2026/01/02", 10, t));

    query_t query;
    rp_field_error_t errors[CUSTOMER_MAX_ERRORS];
    assert(s_test_parse(&query, (const char *[]){"sort", "-name", "region", "华东", NULL},
                        errors) == 0);
    assert(query.sort == 'n' && query.descending && query.region.len == strlen("华东"));
    assert(s_test_parse(
               &query,
               (const char *[]){"sort", "size", "created_after", "soon", "cursor", "!!", NULL},
               errors) == 3);
    assert(strcmp(errors[0].field, "created_after") == 0);
    assert(strcmp(errors[1].field, "sort") == 0);
    assert(strcmp(errors[2].field, "cursor") == 0);
    assert(s_test_parse(&query, (const char *[]){"grade", "Z", "tier", "vip", NULL}, errors) == 2);
    assert(strcmp(errors[0].field, "grade") == 0 && strcmp(errors[1].field, "tier") == 0);
    assert(s_test_parse(&query, (const char *[]){"grade", "E", "tier", "key", NULL}, errors) == 0);

    //  Matching: scope, archived, filters, never contacted.
    rp_record_t r;
    s_test_record(&r, "x1", "上海华联", "2026-02-10T08:00:00.000Z", "A", NULL);
    rp_record_set_str(&r, CUSTOMER_OWNER, "ann", 3);
    rp_scope_t ann = {RP_ROLE_SALES, "ann", 3, NULL, 0}, bob = {RP_ROLE_SALES, "bob", 3, NULL, 0};
    assert(
        s_test_parse(&query,
                     (const char *[]){"q", "华联", "created_after", "2026-02-10", "created_before",
                                      "2026-02-11", "last_contacted_before", "2026-01-01", NULL},
                     errors) == 0);
    assert(query_match(&query, &ann, &r) && !query_match(&query, &bob, &r));
    assert(s_test_parse(&query, (const char *[]){"created_after", "2026-02-10T08:00:00.001Z", NULL},
                        errors) == 0);
    assert(!query_match(&query, &ann, &r));
    assert(s_test_parse(&query, (const char *[]){"tag", "vip", NULL}, errors) == 0);
    assert(!query_match(&query, &ann, &r));
    rp_record_reset(&r);
    s_test_parse(&query, NULL, errors);

    //  Every sort pages through all records in order over a store.
    char dir[] = "/tmp/rp-query-XXXXXX";
    assert(mkdtemp(dir));
    const char *dbnames[] = {"customers", QUERY_DBNAME, NULL};
    rp_store_t *store = rp_store_new(dir, dbnames);
    assert(store);
    assert(rp_store_write(store, s_test_fill, NULL) == 0);
    const char *sorts[] = {"created_at", "-created_at", "name",   "-name",     "code",
                           "-code",      "grade",       "-grade", "updated_at"};
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
        s_test_sort(store, sorts[i], "region", "华东", TEST_RECORDS);
    //  Filtered: grade B is 20 of 30; never contacted before March: 15.
    s_test_sort(store, "-name", "grade", "B", 20);
    s_test_sort(store, "code", "last_contacted_before", "2026-03-01", 15);
    rp_store_destroy(&store);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
