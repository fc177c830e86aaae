/*  query.c — see query.h. */
#include "query.h"
#include "history.h"

#include "../customers/apply.h"
#include "../customers/query.h" //  query_time: the customers' time filters' form

#include <assert.h>
#include <ctype.h>
#include <rapport/envelope.h>
#include <rapport/normalize.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_exact_names[DEALS_Q_EXACT] = {
    "customer_id", "pipeline_id", "stage", "status", "owner", "team", "source", "lost_reason"};

//  The time filters: the argument, the deal's field, lower bound (≥) or not.
static const struct {
    const char *arg;
    const char *field;
    bool lower;
} s_times[DEALS_Q_TIMES] = {
    {"expected_close_after", "expected_close", true},
    {"expected_close_before", "expected_close", false},
    {"closed_after", "closed_at", true},
    {"closed_before", "closed_at", false},
    {"created_after", "created_at", true},
    {"created_before", "created_at", false},
};

static const struct {
    char letter;
    const char *field;
    const char *name;
} s_sorts[] = {
    {'c', "created_at", "created_at"}, {'u', "updated_at", "updated_at"},
    {'a', "amount", "amount"},         {'e', "expected_close", "expected_close"},
    {'t', "title", "title"},
};
#define SORTS (sizeof s_sorts / sizeof s_sorts[0])

#define KEY_MAX    (1 + DEALS_QUERY_INDEX_VALUE + 1 + OPPORTUNITIES_MAX_ID)
#define CURSOR_RAW (2 + KEY_MAX)
#define CURSOR_B64 (sodium_base64_ENCODED_LEN(CURSOR_RAW, sodium_base64_VARIANT_URLSAFE_NO_PADDING))

//  ---------------------------------------------------------------------
//  Parsing

static int s_error(rp_field_error_t *errors, int count, int max, const char *field,
                   const char *code, const char *message)
{
    if (count < max) {
        rp_field_error_set(&errors[count], field, strlen(field), code);
        errors[count].message = message;
    }
    return count + 1;
}

static int s_text(const msgpack_object *args, const char *name, deals_query_text_t *out,
                  rp_field_error_t *errors, int count, int max)
{
    const msgpack_object *o = rp_obj_get(args, name);
    out->ptr = NULL;
    out->len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &out->ptr, &out->len) && out->len >= 1 &&
        !rp_normalize_text(out->ptr, out->len, DEALS_QUERY_MAX_TEXT, RP_TEXT_BLANK))
        return count;
    out->ptr = NULL;
    return s_error(errors, count, max, name, "invalid",
                   "must be text of 1..200 bytes without control characters");
}

//  x * 100 rounded to the nearest integer (x ≥ 0; no libm).
static int64_t s_round100(double x)
{
    return (int64_t)(x * 100 + 0.5);
}

bool deals_query_hundredths(const msgpack_object *o, int64_t *out)
{
    if (!o)
        return false;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= 10000000000000ull) {
        *out = (int64_t)o->via.u64 * 100;
        return true;
    }
    if ((o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32) &&
        o->via.f64 >= 0 && o->via.f64 <= 1e13) {
        *out = s_round100(o->via.f64);
        return true;
    }
    return false;
}

//  A money bound: a number, or its text (query parameters arrive as text).
static int s_money(const msgpack_object *args, const char *name, bool *has, int64_t *out,
                   rp_field_error_t *errors, int count, int max)
{
    const msgpack_object *o = rp_obj_get(args, name);
    *has = false;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    const char *str;
    size_t len;
    if (rp_obj_str(o, &str, &len) && len > 0 && len < 24) {
        char buf[24], *end;
        memcpy(buf, str, len);
        buf[len] = 0;
        const char *dot = strchr(buf, '.');
        double v = strtod(buf, &end);
        if (*end == 0 && isdigit((unsigned char)buf[0]) && (!dot || strlen(dot + 1) <= 2) &&
            v >= 0 && v <= 1e13) {
            *out = s_round100(v);
            *has = true;
            return count;
        }
    } else if (deals_query_hundredths(o, out)) {
        *has = true;
        return count;
    }
    return s_error(errors, count, max, name, "invalid",
                   "must be an amount >= 0 with at most 2 decimals");
}

static int s_time(const msgpack_object *args, size_t i, deals_query_t *self,
                  rp_field_error_t *errors, int count, int max)
{
    const msgpack_object *o = rp_obj_get(args, s_times[i].arg);
    const char *str;
    size_t len;
    char *out = self->times[i];
    out[0] = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &str, &len) && len <= 40 && query_time(str, len, out))
        return count;
    out[0] = 0;
    return s_error(errors, count, max, s_times[i].arg, "invalid",
                   "must be a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SS[.fff]Z");
}

static int s_sort(deals_query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                  int count, int max)
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
    return s_error(errors, count, max, "sort", "invalid",
                   "sort is one of created_at, updated_at, amount, expected_close, title, each "
                   "with an optional leading '-' for descending");
}

static int s_cursor(deals_query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                    int count, int max)
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
    return s_error(errors, count, max, "cursor", "invalid",
                   "not a cursor this list gave for this sort");
}

static int s_bool(const msgpack_object *args, const char *name, bool *out, rp_field_error_t *errors,
                  int count, int max)
{
    const msgpack_object *o = rp_obj_get(args, name);
    if (!o || o->type == MSGPACK_OBJECT_NIL || rp_obj_bool(o, out))
        return count;
    return s_error(errors, count, max, name, "invalid", "must be a boolean");
}

static int s_as_of(deals_query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                   int count, int max)
{
    const msgpack_object *o = rp_obj_get(args, "as_of");
    const char *str;
    size_t len;
    char date[RP_NORMALIZE_DATE_MAX];
    self->as_of[0] = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return count;
    if (rp_obj_str(o, &str, &len) && len == 10 && !rp_normalize_date(str, len, date)) {
        snprintf(self->as_of, sizeof self->as_of, "%.10sT23:59:59.999Z", date);
        return count;
    }
    return s_error(errors, count, max, "as_of", "invalid", "as_of must be a date YYYY-MM-DD");
}

int deals_query_parse(deals_query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                      int max)
{
    memset(self, 0, sizeof *self);
    self->limit = DEALS_QUERY_LIMIT_DEFAULT;
    int n = 0;
    if (args && !rp_obj_is_map(args))
        return s_error(errors, n, max, "args", "type", "args must be a map");
    const msgpack_object *limit = rp_obj_get(args, "limit");
    if (limit && (!rp_obj_u64(limit, &self->limit) || self->limit < 1 ||
                  self->limit > DEALS_QUERY_LIMIT_MAX))
        n = s_error(errors, n, max, "limit", "out_of_range", "limit must be 1..200");
    n = s_bool(args, "archived", &self->archived, errors, n, max);
    n = s_bool(args, "stale", &self->stale, errors, n, max);
    for (size_t i = 0; i < DEALS_Q_EXACT; i++)
        n = s_text(args, s_exact_names[i], &self->exact[i], errors, n, max);
    n = s_text(args, "q", &self->q, errors, n, max);
    n = s_text(args, "competitor", &self->competitor, errors, n, max);
    n = s_text(args, "tag", &self->tag, errors, n, max);
    for (size_t i = 0; i < DEALS_Q_TIMES; i++)
        n = s_time(args, i, self, errors, n, max);
    n = s_money(args, "amount_min", &self->has_min, &self->amount_min, errors, n, max);
    n = s_money(args, "amount_max", &self->has_max, &self->amount_max, errors, n, max);
    n = s_as_of(self, args, errors, n, max);
    n = s_sort(self, args, errors, n, max);
    n = s_cursor(self, args, errors, n, max);
    return n < max ? n : max;
}

//  ---------------------------------------------------------------------
//  Matching

static bool s_same(const char *a, size_t a_len, const char *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

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

static bool s_str(const msgpack_object *deal, const char *field, const char **str, size_t *len)
{
    *str = NULL;
    *len = 0;
    return rp_obj_str(rp_obj_get(deal, field), str, len);
}

static bool s_is(const msgpack_object *deal, const char *field, const deals_query_text_t *want)
{
    const char *str;
    size_t len;
    return !want->ptr || (s_str(deal, field, &str, &len) && s_same(str, len, want->ptr, want->len));
}

static bool s_in(const msgpack_object *deal, const char *field, const deals_query_text_t *want)
{
    const msgpack_object *list = rp_obj_get(deal, field);
    if (!want->ptr)
        return true;
    for (uint32_t i = 0; rp_obj_is_array(list) && i < list->via.array.size; i++) {
        const char *str;
        size_t len;
        if (rp_obj_str(&list->via.array.ptr[i], &str, &len) &&
            s_same(str, len, want->ptr, want->len))
            return true;
    }
    return false;
}

//  A stored time or date against a bound over the bound's length.
static bool s_time_ok(const msgpack_object *deal, const char *field, const char *bound, bool lower)
{
    const char *str;
    size_t len;
    if (!bound[0])
        return true;
    if (!s_str(deal, field, &str, &len) || len == 0)
        return false;
    size_t n = strlen(bound);
    int c = memcmp(str, bound, len < n ? len : n);
    c = c ? c : (len < n ? -1 : len > n ? 1 : 0);
    return lower ? c >= 0 : c < 0;
}

//  The last pipeline decoded, per thread: a report or a list reads the
//  same few pipelines for every deal, and decoding one (its UTF-8 check
//  above all) costs more than the deal itself. The key is the stored
//  value's address and size in this transaction (LMDB's pages do not move
//  while it reads), with the transaction's id: a later write gets another.
typedef struct {
    const MDB_txn *txn;
    size_t txn_id;
    const void *data;
    size_t size;
    rp_doc_t *doc;
} pipeline_cache_t;

static _Thread_local pipeline_cache_t s_cache;

static void s_cache_drop(void)
{
    rp_doc_destroy(&s_cache.doc);
    memset(&s_cache, 0, sizeof s_cache);
}

static const msgpack_object *s_pipeline_stages(MDB_txn *txn, const MDB_val *v)
{
    size_t id = mdb_txn_id(txn);
    if (!s_cache.doc || s_cache.txn != txn || s_cache.txn_id != id || s_cache.data != v->mv_data ||
        s_cache.size != v->mv_size) {
        s_cache_drop();
        s_cache.doc = rp_doc_new(v->mv_data, v->mv_size, NULL);
        s_cache = (pipeline_cache_t){txn, id, v->mv_data, v->mv_size, s_cache.doc};
    }
    return s_cache.doc ? rp_obj_get(rp_doc_root(s_cache.doc), "stages") : NULL;
}

//  The stage's kind (stored text) and rot_days, from the stored pipeline
//  map: false when the pipeline or the stage is not there.
static bool s_stage_find(rp_store_t *store, MDB_txn *txn, const msgpack_object *deal,
                         const char *stage, size_t stage_len, char kind[8], unsigned *rot_days)
{
    const char *pid, *str;
    size_t pid_len, len;
    MDB_val k, v;
    kind[0] = 0;
    *rot_days = 0;
    if (!s_str(deal, "pipeline_id", &pid, &pid_len))
        return false;
    k.mv_size = pid_len;
    k.mv_data = (void *)pid;
    if (mdb_get(txn, rp_store_dbi(store, "pipelines"), &k, &v))
        return false;
    const msgpack_object *stages = s_pipeline_stages(txn, &v);
    bool found = false;
    for (uint32_t i = 0; !found && rp_obj_is_array(stages) && i < stages->via.array.size; i++) {
        const msgpack_object *one = &stages->via.array.ptr[i];
        uint64_t days = 0;
        if (rp_obj_str(rp_obj_get(one, "key"), &str, &len) && s_same(str, len, stage, stage_len)) {
            found = true;
            rp_obj_u64(rp_obj_get(one, "rot_days"), &days);
            *rot_days = days > 3650 ? 3650 : (unsigned)days;
            if (rp_obj_str(rp_obj_get(one, "kind"), &str, &len) && len < 8) {
                memcpy(kind, str, len);
                kind[len] = 0;
            }
        }
    }
    return found;
}

static unsigned s_rot_days(rp_store_t *store, MDB_txn *txn, const msgpack_object *deal)
{
    const char *stage;
    size_t stage_len;
    char kind[8];
    unsigned days = 0;
    if (s_str(deal, "stage", &stage, &stage_len))
        s_stage_find(store, txn, deal, stage, stage_len, kind, &days);
    return days;
}

static bool s_stale(const deals_query_t *self, rp_store_t *store, MDB_txn *txn,
                    const msgpack_object *deal)
{
    const char *at;
    size_t at_len;
    int64_t now_ms, at_ms;
    if (!self->stale)
        return true;
    if (!rp_obj_streq(rp_obj_get(deal, "status"), "open") ||
        !s_str(deal, "stage_entered_at", &at, &at_len) || !rp_time_parse(at, at_len, &at_ms) ||
        !rp_time_parse(self->now, strlen(self->now), &now_ms))
        return false;
    unsigned days = s_rot_days(store, txn, deal);
    return days > 0 && at_ms + (int64_t)days * 86400000 < now_ms;
}

static bool s_amount_ok(const deals_query_t *self, const msgpack_object *deal)
{
    int64_t amount;
    if (!self->has_min && !self->has_max)
        return true;
    if (!deals_query_hundredths(rp_obj_get(deal, "amount"), &amount))
        return false;
    return (!self->has_min || amount >= self->amount_min) &&
           (!self->has_max || amount <= self->amount_max);
}

static bool s_q(const deals_query_t *self, rp_store_t *store, MDB_txn *txn,
                const msgpack_object *deal)
{
    const char *str;
    size_t len;
    if (!self->q.ptr)
        return true;
    if ((s_str(deal, "title", &str, &len) && s_contains(str, len, self->q.ptr, self->q.len)) ||
        (s_str(deal, "quote_no", &str, &len) && s_contains(str, len, self->q.ptr, self->q.len)))
        return true;
    MDB_val v;
    if (!store || !s_str(deal, "customer_id", &str, &len) ||
        customers_apply_record_get(store, txn, str, len, &v))
        return false;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    bool found = doc && s_str(rp_doc_root(doc), "name", &str, &len) &&
                 s_contains(str, len, self->q.ptr, self->q.len);
    rp_doc_destroy(&doc);
    return found;
}

bool deals_query_match(const deals_query_t *self, const rp_scope_t *scope, rp_store_t *store,
                       MDB_txn *txn, const msgpack_object *deal)
{
    const char *owner, *team;
    size_t owner_len, team_len;
    bool archived = false;
    if (!rp_obj_is_map(deal))
        return false;
    rp_obj_bool(rp_obj_get(deal, "archived"), &archived);
    s_str(deal, "owner", &owner, &owner_len);
    s_str(deal, "team", &team, &team_len);
    if (archived != self->archived ||
        !rp_scope_allows(scope, owner, owner_len, team, team_len, false))
        return false;
    for (size_t i = 0; i < DEALS_Q_EXACT; i++)
        if (!s_is(deal, s_exact_names[i], &self->exact[i]))
            return false;
    for (size_t i = 0; i < DEALS_Q_TIMES; i++)
        if (!s_time_ok(deal, s_times[i].field, self->times[i], s_times[i].lower))
            return false;
    return s_in(deal, "competitors", &self->competitor) && s_in(deal, "tags", &self->tag) &&
           s_amount_ok(self, deal) && s_q(self, store, txn, deal) &&
           s_stale(self, store, txn, deal);
}

//  ---------------------------------------------------------------------
//  The sort index

static size_t s_index_key(const msgpack_object *deal, size_t i, const char *id, size_t id_len,
                          uint8_t key[KEY_MAX])
{
    const char *str = "";
    size_t len = 0;
    char digits[17];
    int64_t amount;
    if (s_sorts[i].letter == 'a') {
        //  No amount sorts first; else 16 hex digits of hundredths.
        if (deals_query_hundredths(rp_obj_get(deal, "amount"), &amount)) {
            snprintf(digits, sizeof digits, "%016llx", (unsigned long long)amount);
            str = digits;
            len = 16;
        }
    } else
        s_str(deal, s_sorts[i].field, &str, &len);
    if (len > DEALS_QUERY_INDEX_VALUE)
        len = DEALS_QUERY_INDEX_VALUE;
    if (str && memchr(str, 0, len))
        len = (size_t)((const char *)memchr(str, 0, len) - str);
    key[0] = (uint8_t)s_sorts[i].letter;
    if (len)
        memcpy(key + 1, str, len);
    key[1 + len] = 0;
    memcpy(key + 2 + len, id, id_len);
    return 2 + len + id_len;
}

int deals_query_index_save(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len,
                           const msgpack_object *deal)
{
    if (id_len == 0 || id_len > OPPORTUNITIES_MAX_ID)
        return 0;
    MDB_dbi dbi = rp_store_dbi(store, DEALS_QUERY_DBNAME);
    MDB_val k = {id_len, (void *)id}, stored;
    rp_doc_t *doc = NULL;
    if (mdb_get(txn, rp_store_dbi(store, DEALS_QUERY_DEALS), &k, &stored) == 0)
        doc = rp_doc_new(stored.mv_data, stored.mv_size, NULL); //  a private copy
    const msgpack_object *old = doc ? rp_doc_root(doc) : NULL;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < SORTS; i++) {
        uint8_t was[KEY_MAX], now[KEY_MAX];
        size_t was_len = old ? s_index_key(old, i, id, id_len, was) : 0;
        size_t now_len = s_index_key(deal, i, id, id_len, now);
        if (was_len == now_len && memcmp(was, now, now_len) == 0)
            continue;
        MDB_val v = {0, (void *)""};
        if (old) {
            k.mv_size = was_len;
            k.mv_data = was;
            rc = mdb_del(txn, dbi, &k, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
        k.mv_size = now_len;
        k.mv_data = now;
        if (rc == 0)
            rc = mdb_put(txn, dbi, &k, &v, 0);
    }
    rp_doc_destroy(&doc);
    return rc;
}

//  ---------------------------------------------------------------------
//  As of a date

//  The last history entry of deal id with at <= until: its decoded map
//  (the caller's to destroy), or NULL.
static rp_doc_t *s_history_last(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len,
                                const char *until)
{
    history_entry_t entry;
    if (!history_as_of(txn, rp_store_dbi(store, "history"), id, id_len, until, &entry))
        return NULL;
    return entry.doc; //  taken over from the entry
}

static bool s_as_of_key(const msgpack_object *key)
{
    static const char *const replaced[] = {"stage",       "status",         "amount", "currency",
                                           "probability", "expected_close", NULL};
    for (size_t i = 0; replaced[i]; i++)
        if (rp_obj_streq(key, replaced[i]))
            return true;
    return false;
}

//  The entry's values packed as {stage, status, amount, currency,
//  probability, expected_close} pairs (6 of them) into pk.
static void s_pack_as_of_pairs(rp_store_t *store, MDB_txn *txn, const msgpack_object *deal,
                               const msgpack_object *entry, msgpack_packer *pk)
{
    const char *to;
    size_t to_len;
    char kind[8] = "";
    unsigned days;
    static const msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    const msgpack_object *to_obj = rp_obj_get(entry, "to");
    rp_pack_kv_obj(pk, "stage", to_obj ? to_obj : &nil);
    if (rp_obj_str(to_obj, &to, &to_len))
        s_stage_find(store, txn, deal, to, to_len, kind, &days);
    rp_pack_cstr(pk, "status");
    if (kind[0])
        rp_pack_cstr(pk, kind);
    else
        msgpack_pack_nil(pk);
    static const char *const copied[] = {"amount", "currency", "probability", "expected_close"};
    for (size_t i = 0; i < 4; i++) {
        const msgpack_object *o = rp_obj_get(entry, copied[i]);
        rp_pack_kv_obj(pk, copied[i], o ? o : &nil);
    }
}

rp_doc_t *deals_query_as_of(rp_store_t *store, MDB_txn *txn, const char *until,
                            const msgpack_object *deal)
{
    const char *id;
    size_t id_len;
    if (!rp_obj_is_map(deal) || !s_str(deal, "id", &id, &id_len))
        return NULL;
    rp_doc_t *entry = s_history_last(store, txn, id, id_len, until);
    if (!entry)
        return NULL;
    rp_packer_t p;
    rp_packer_init(&p);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < deal->via.map.size; i++)
        kept += !s_as_of_key(&deal->via.map.ptr[i].key);
    msgpack_pack_map(&p.pk, kept + 6);
    for (uint32_t i = 0; i < deal->via.map.size; i++)
        if (!s_as_of_key(&deal->via.map.ptr[i].key)) {
            msgpack_pack_object(&p.pk, deal->via.map.ptr[i].key);
            msgpack_pack_object(&p.pk, deal->via.map.ptr[i].val);
        }
    s_pack_as_of_pairs(store, txn, deal, rp_doc_root(entry), &p.pk);
    rp_doc_t *view = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    rp_packer_destroy(&p);
    rp_doc_destroy(&entry);
    return view;
}

//  ---------------------------------------------------------------------
//  Walking

static void s_cursor_encode(const deals_query_t *self, const void *key, size_t len, char *out,
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

static int s_seek(MDB_cursor *c, const deals_query_t *self, MDB_val *k, MDB_val *v)
{
    uint8_t first[1] = {(uint8_t)self->sort};
    uint8_t after[1] = {(uint8_t)(self->sort + 1)};
    bool resume = self->cursor_len > 0;
    k->mv_data = resume ? (void *)(self->cursor + 2) : self->descending ? after : first;
    k->mv_size = resume ? self->cursor_len - 2 : 1;
    size_t want_len = k->mv_size;
    const void *want = k->mv_data;
    if (!self->sort && !resume)
        return mdb_cursor_get(c, k, v, self->descending ? MDB_LAST : MDB_FIRST);
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

int deals_query_walk(rp_store_t *store, MDB_txn *txn, const deals_query_t *query,
                     const rp_scope_t *scope, size_t max_scan, deals_query_visit_fn *fn, void *arg,
                     char *next, size_t next_size)
{
    MDB_cursor *c;
    MDB_dbi deals = rp_store_dbi(store, DEALS_QUERY_DEALS);
    int rc =
        mdb_cursor_open(txn, query->sort ? rp_store_dbi(store, DEALS_QUERY_DBNAME) : deals, &c);
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
            rc = MDB_NOTFOUND;
            break;
        }
        if (stop || scanned == max_scan)
            break;
        scanned++;
        if (k.mv_size > KEY_MAX)
            continue;
        memcpy(last, k.mv_data, k.mv_size);
        last_len = k.mv_size;
        MDB_val value = v;
        if (query->sort) {
            const char *key = (const char *)k.mv_data;
            const char *nul = memchr(key + 1, 0, k.mv_size - 1);
            size_t at = nul ? (size_t)(nul - key) + 1 : 0;
            MDB_val id = {k.mv_size - at, (void *)(key + at)};
            if (!at || mdb_get(txn, deals, &id, &value))
                continue; //  a stale entry: cannot happen, tolerate it
        }
        rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
        if (doc && query->as_of[0]) {
            rp_doc_t *view = deals_query_as_of(store, txn, query->as_of, rp_doc_root(doc));
            rp_doc_destroy(&doc);
            doc = view; //  NULL: it did not exist yet
        }
        if (doc && deals_query_match(query, scope, store, txn, rp_doc_root(doc)) &&
            !fn(arg, &value, rp_doc_root(doc)))
            stop = true;
        rp_doc_destroy(&doc);
    }
    if (rc == 0 && last_len)
        s_cursor_encode(query, last, last_len, next, next_size);
    mdb_cursor_close(c);
    s_cache_drop(); //  the transaction ends with the walk
    return rc == MDB_NOTFOUND ? 0 : rc;
}

//  ---------------------------------------------------------------------
//  The op

typedef struct {
    const deals_query_t *query;
    const rp_scope_t *scope;
    rp_packer_t items;
    size_t count;
    char next[CURSOR_B64];
} list_t;

//  With as_of: the deal as stored, plus "as_of": {those values then}.
static void s_pack_with_as_of(list_t *list, const MDB_val *value, const msgpack_object *view)
{
    rp_doc_t *doc = rp_doc_new(value->mv_data, value->mv_size, NULL);
    const msgpack_object *deal = doc ? rp_doc_root(doc) : NULL;
    msgpack_packer *pk = &list->items.pk;
    uint32_t size = rp_obj_is_map(deal) ? deal->via.map.size : 0;
    msgpack_pack_map(pk, size + 1);
    for (uint32_t i = 0; i < size; i++) {
        msgpack_pack_object(pk, deal->via.map.ptr[i].key);
        msgpack_pack_object(pk, deal->via.map.ptr[i].val);
    }
    rp_pack_cstr(pk, "as_of");
    msgpack_pack_map(pk, 6);
    static const char *const keys[] = {"stage",    "status",      "amount",
                                       "currency", "probability", "expected_close"};
    static const msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
    for (size_t i = 0; i < 6; i++) {
        const msgpack_object *o = rp_obj_get(view, keys[i]);
        rp_pack_kv_obj(pk, keys[i], o ? o : &nil);
    }
    rp_doc_destroy(&doc);
}

static bool s_list_visit(void *arg, const MDB_val *value, const msgpack_object *deal)
{
    list_t *list = (list_t *)arg;
    if (list->query->as_of[0])
        s_pack_with_as_of(list, value, deal);
    else
        msgpack_sbuffer_write(&list->items.buffer, value->mv_data, value->mv_size);
    return ++list->count < list->query->limit;
}

static int s_list_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    list_t *list = (list_t *)arg;
    return deals_query_walk(store, txn, list->query, list->scope, DEALS_QUERY_MAX_SCAN,
                            s_list_visit, list, list->next, sizeof list->next);
}

void deals_query_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req)
{
    (void)arg;
    rp_scope_t scope;
    rp_scope_parse(&scope, req);
    if (!rp_scope_may_read(&scope)) {
        rp_service_reply_error(service, &origin, 403, "forbidden",
                               "this role cannot list opportunities");
        return;
    }
    deals_query_t query;
    rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
    int count = deals_query_parse(&query, req->args, errors, DEALS_QUERY_MAX_ERRORS);
    if (count) {
        rp_service_reply_invalid(service, &origin, "some query parameters are not valid", errors,
                                 count);
        return;
    }
    rp_time_now(query.now); //  reads may use the clock (stale)
    if (query.as_of[0])     //  as of a day, the clock is its end (as the stale report's)
        snprintf(query.now, sizeof query.now, "%s", query.as_of);
    list_t list = {.query = &query, .scope = &scope};
    rp_packer_init(&list.items);
    if (rp_store_read(rp_service_store(service), s_list_read, &list))
        rp_service_reply_error(service, &origin, 500, "store_error", "the store failed");
    else
        rp_service_reply_page(service, &origin, &list.items, list.count, list.next);
    rp_packer_destroy(&list.items);
}

//  ---------------------------------------------------------------------
//  Self-test: parsing, matching and paging every sort over a real store.

#define TEST_DEALS 30

//  Pack a map of string pairs; "#name" packs the value as an integer,
//  "?name" as a boolean ("1" true).
static rp_doc_t *s_test_map(const char *const *kv)
{
    rp_packer_t p;
    rp_packer_init(&p);
    size_t pairs = 0;
    while (kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&p.pk, pairs);
    for (size_t i = 0; i < pairs; i++) {
        const char *key = kv[i * 2], *value = kv[i * 2 + 1];
        if (key[0] == '#') {
            rp_pack_cstr(&p.pk, key + 1);
            msgpack_pack_uint64(&p.pk, strtoull(value, NULL, 10));
        } else if (key[0] == '?') {
            rp_pack_cstr(&p.pk, key + 1);
            if (value[0] == '1')
                msgpack_pack_true(&p.pk);
            else
                msgpack_pack_false(&p.pk);
        } else
            rp_pack_kv_cstr(&p.pk, key, value);
    }
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&p);
    return doc;
}

static void s_test_put(rp_store_t *store, MDB_txn *txn, const char *db, const char *id,
                       const char *const *kv)
{
    size_t id_len = strlen(id);
    if (strcmp(db, "history") == 0)
        id_len += 1 + strlen(id + id_len + 1); //  "<deal id> NUL <seq>"
    rp_doc_t *doc = s_test_map(kv);
    const msgpack_object *root = rp_doc_root(doc);
    if (strcmp(db, DEALS_QUERY_DEALS) == 0)
        assert(deals_query_index_save(store, txn, id, strlen(id), root) == 0);
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_object(&p.pk, *root);
    MDB_val k = {id_len, (void *)id}, v = {p.buffer.size, p.buffer.data};
    assert(mdb_put(txn, rp_store_dbi(store, db), &k, &v, 0) == 0);
    rp_packer_destroy(&p);
    rp_doc_destroy(&doc);
}

static int s_test_fill(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    s_test_put(store, txn, "customers", "c1", (const char *[]){"id", "c1", "name", "甲公司", NULL});
    //  A pipeline whose stage "lead" rots after 30 days.
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 2);
    rp_pack_kv_cstr(&p.pk, "id", "default");
    rp_pack_cstr(&p.pk, "stages");
    msgpack_pack_array(&p.pk, 2);
    msgpack_pack_map(&p.pk, 3);
    rp_pack_kv_cstr(&p.pk, "key", "lead");
    rp_pack_kv_cstr(&p.pk, "kind", "open");
    rp_pack_kv_u64(&p.pk, "rot_days", 30);
    msgpack_pack_map(&p.pk, 3);
    rp_pack_kv_cstr(&p.pk, "key", "won");
    rp_pack_kv_cstr(&p.pk, "kind", "won");
    rp_pack_kv_u64(&p.pk, "rot_days", 0);
    MDB_val k = {7, (void *)"default"}, v = {p.buffer.size, p.buffer.data};
    assert(mdb_put(txn, rp_store_dbi(store, "pipelines"), &k, &v, 0) == 0);
    rp_packer_destroy(&p);
    for (unsigned i = 0; i < TEST_DEALS; i++) {
        char id[16], title[32], created[40], amount[24], close[24];
        snprintf(id, sizeof id, "d%02u", i);
        snprintf(title, sizeof title, "商机%02u", (i * 7) % TEST_DEALS);
        snprintf(created, sizeof created, "2026-01-%02uT00:00:00.000Z", 1 + (i * 11) % 28);
        snprintf(amount, sizeof amount, "%u", (i * 13) % 17 * 1000);
        snprintf(close, sizeof close, "2026-%02u-15", 1 + (i * 5) % 12);
        s_test_put(store, txn, DEALS_QUERY_DEALS, id,
                   (const char *[]){"id",
                                    id,
                                    "customer_id",
                                    i % 2 ? "c1" : "c2",
                                    "title",
                                    title,
                                    "pipeline_id",
                                    "default",
                                    "stage",
                                    "lead",
                                    "status",
                                    i % 3 ? "open" : "won",
                                    "#amount",
                                    amount,
                                    "expected_close",
                                    close,
                                    "owner",
                                    i % 2 ? "ann" : "bob",
                                    "team",
                                    "east",
                                    "stage_entered_at",
                                    created,
                                    "created_at",
                                    created,
                                    "updated_at",
                                    created,
                                    "?archived",
                                    "0",
                                    NULL});
    }
    //  History: d01 entered lead with 100 on 5 January, won with 500 on 10
    //  February; d03 appeared on 1 March.
    s_test_put(store, txn, "history",
               "d01\0"
               "0000000000000001",
               (const char *[]){"at", "2026-01-05T08:00:00.000Z", "to", "lead", "#amount", "100",
                                "currency", "CNY", "#probability", "10", NULL});
    s_test_put(store, txn, "history",
               "d01\0"
               "0000000000000007",
               (const char *[]){"at", "2026-02-10T08:00:00.000Z", "to", "won", "#amount", "500",
                                "currency", "CNY", "#probability", "100", "expected_close",
                                "2026-02-10", NULL});
    s_test_put(store, txn, "history",
               "d03\0"
               "0000000000000009",
               (const char *[]){"at", "2026-03-01T00:00:00.000Z", "to", "lead", NULL});
    //  Retitle one: its old title key goes, the new one sorts first.
    s_test_put(store, txn, DEALS_QUERY_DEALS, "d00",
               (const char *[]){"id",
                                "d00",
                                "customer_id",
                                "c2",
                                "title",
                                "一",
                                "stage",
                                "lead",
                                "status",
                                "won",
                                "#amount",
                                "0",
                                "expected_close",
                                "2026-01-15",
                                "owner",
                                "bob",
                                "team",
                                "east",
                                "created_at",
                                "2026-01-01T00:00:00.000Z",
                                "updated_at",
                                "2026-01-01T00:00:00.000Z",
                                "?archived",
                                "0",
                                NULL});
    return 0;
}

typedef struct {
    deals_query_t *query;
    rp_scope_t *scope;
    char ids[TEST_DEALS * 2][8];
    char values[TEST_DEALS * 2][40];
    size_t count;
    char next[CURSOR_B64];
} test_walk_t;

static bool s_test_visit(void *arg, const MDB_val *value, const msgpack_object *deal)
{
    (void)value;
    test_walk_t *w = (test_walk_t *)arg;
    const char *str;
    size_t len;
    s_str(deal, "id", &str, &len);
    snprintf(w->ids[w->count], 8, "%.*s", (int)len, str ? str : "");
    uint8_t key[KEY_MAX];
    len = 0;
    for (size_t i = 0; i < SORTS; i++)
        if (s_sorts[i].letter == w->query->sort)
            len = s_index_key(deal, i, "", 0, key) - 2;
    snprintf(w->values[w->count++], 40, "%.*s", (int)len, (const char *)key + 1);
    return w->count % w->query->limit != 0;
}

static int s_test_walk_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_walk_t *w = (test_walk_t *)arg;
    return deals_query_walk(store, txn, w->query, w->scope, DEALS_QUERY_MAX_SCAN, s_test_visit, w,
                            w->next, sizeof w->next);
}

//  Page through with limit 7 in sort order; the count seen.
static size_t s_test_sort(rp_store_t *store, const rp_scope_t *scope, const char *sort,
                          const char *filter_key, const char *filter_value)
{
    test_walk_t w = {.scope = (rp_scope_t *)scope};
    char cursor[CURSOR_B64] = "";
    do {
        const char *kv[] = {
            "#limit", "7", "sort", sort, filter_key, filter_value, cursor[0] ? "cursor" : NULL,
            cursor,   NULL};
        if (!sort[0])
            kv[2] = "sort_", kv[3] = ""; //  no sort: an ignored key
        rp_doc_t *doc = s_test_map(kv);
        deals_query_t query;
        rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
        const msgpack_object *args = rp_doc_root(doc);
        int n = deals_query_parse(&query, args, errors, DEALS_QUERY_MAX_ERRORS);
        assert(n == 0);
        rp_time_now(query.now);
        w.query = &query;
        assert(rp_store_read(store, s_test_walk_read, &w) == 0);
        snprintf(cursor, sizeof cursor, "%s", w.next);
        rp_doc_destroy(&doc);
        assert(w.count <= TEST_DEALS);
    } while (cursor[0]);
    bool descending = sort[0] == '-';
    for (size_t i = 1; i < w.count; i++) {
        int c = sort[0] ? strcmp(w.values[i - 1], w.values[i]) : 0;
        if (c == 0)
            c = strcmp(w.ids[i - 1], w.ids[i]);
        assert(descending ? c > 0 : c < 0);
    }
    return w.count;
}

//  One page of up to 200 deals for these args; the count.
static size_t s_test_count(rp_store_t *store, const char *const *kv)
{
    rp_doc_t *doc = s_test_map(kv);
    deals_query_t query;
    rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
    assert(deals_query_parse(&query, rp_doc_root(doc), errors, DEALS_QUERY_MAX_ERRORS) == 0);
    query.limit = DEALS_QUERY_LIMIT_MAX;
    rp_time_now(query.now);
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    test_walk_t w = {.query = &query, .scope = &admin};
    assert(rp_store_read(store, s_test_walk_read, &w) == 0);
    rp_doc_destroy(&doc);
    return w.count;
}

//  d01 as of the end of 10 February: won, 500.
static int s_test_as_of_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    MDB_val k = {3, (void *)"d01"}, v;
    assert(mdb_get(txn, rp_store_dbi(store, DEALS_QUERY_DEALS), &k, &v) == 0);
    rp_doc_t *deal = rp_doc_new(v.mv_data, v.mv_size, NULL);
    rp_doc_t *view = deals_query_as_of(store, txn, "2026-02-10T23:59:59.999Z", rp_doc_root(deal));
    assert(view);
    const msgpack_object *o = rp_doc_root(view);
    uint64_t amount = 0;
    assert(rp_obj_streq(rp_obj_get(o, "stage"), "won"));
    assert(rp_obj_streq(rp_obj_get(o, "status"), "won"));
    assert(rp_obj_u64(rp_obj_get(o, "amount"), &amount) && amount == 500);
    assert(rp_obj_streq(rp_obj_get(o, "expected_close"), "2026-02-10"));
    assert(rp_obj_streq(rp_obj_get(o, "title"), "商机07"));
    rp_doc_destroy(&view);
    assert(!deals_query_as_of(store, txn, "2026-01-04T23:59:59.999Z", rp_doc_root(deal)));
    rp_doc_destroy(&deal);
    return 0;
}

static int s_test_errors(const char *const *kv, const char *field)
{
    rp_doc_t *doc = s_test_map(kv);
    deals_query_t query;
    rp_field_error_t errors[DEALS_QUERY_MAX_ERRORS];
    int n = deals_query_parse(&query, rp_doc_root(doc), errors, DEALS_QUERY_MAX_ERRORS);
    if (n)
        assert(strcmp(errors[0].field, field) == 0);
    rp_doc_destroy(&doc);
    return n;
}

void deals_query_test(void)
{
    assert(s_test_errors((const char *[]){"#limit", "500", NULL}, "limit") == 1);
    assert(s_test_errors((const char *[]){"sort", "colour", NULL}, "sort") == 1);
    assert(s_test_errors((const char *[]){"amount_min", "1.234", NULL}, "amount_min") == 1);
    assert(s_test_errors((const char *[]){"amount_max", "12.5", NULL}, "") == 0);
    assert(s_test_errors((const char *[]){"created_after", "yesterday", NULL}, "created_after") ==
           1);
    assert(s_test_errors((const char *[]){"sort", "title", "cursor", "AAAA", NULL}, "cursor") == 1);
    assert(s_test_errors((const char *[]){"stale", "yes", NULL}, "stale") == 1);

    char dir[] = "/tmp/rp-deals-query-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, opportunities_apply_dbnames);
    assert(store);
    assert(rp_store_write(store, s_test_fill, NULL) == 0);
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    rp_scope_t ann = {RP_ROLE_SALES, "ann", 3, "east", 4};
    const char *sorts[] = {
        "",        "created_at", "-created_at", "updated_at",     "amount",
        "-amount", "title",      "-title",      "expected_close", "-expected_close"};
    for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
        assert(s_test_sort(store, &admin, sorts[i], "team", "east") == TEST_DEALS);
    //  Scope: sales see their own (the odd ones).
    assert(s_test_sort(store, &ann, "-amount", "team", "east") == TEST_DEALS / 2);
    //  Filters: status won is every third (d00 stays won); q on the
    //  customer's name; amount bounds; stale (lead rots after 30 days, all
    //  entered in January 2026, d00 without stage_entered_at).
    assert(s_test_sort(store, &admin, "title", "status", "won") == 10);
    assert(s_test_sort(store, &admin, "", "q", "甲公司") == 15);
    assert(s_test_sort(store, &admin, "", "q", "商机0") == 9);
    assert(s_test_sort(store, &admin, "amount", "amount_min", "16000") == 1);
    assert(s_test_sort(store, &admin, "", "amount_max", "0") == 2);
    assert(s_test_sort(store, &admin, "", "expected_close_before", "2026-02-01") == 3);
    char now[32];
    rp_time_now(now);
    if (strcmp(now, "2026-03-01") > 0)
        assert(s_test_sort(store, &admin, "", "?stale", "1") == 20);
    //  as_of: only deals with history by then, filtered on the values then.
    assert(s_test_errors((const char *[]){"as_of", "2026-02-30", NULL}, "as_of") == 1);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-01-04", NULL}) == 0);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-01-31", NULL}) == 1);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-01-31", "status", "open", NULL}) ==
           1);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-02-10", "status", "open", NULL}) ==
           0);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-02-10", "stage", "won", "amount_min",
                                                "200", NULL}) == 1);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-03-01", NULL}) == 2);
    assert(s_test_count(store, (const char *[]){"as_of", "2026-03-01", "sort", "-amount", NULL}) ==
           2);
    assert(rp_store_read(store, s_test_as_of_read, NULL) == 0);
    rp_store_destroy(&store);
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
