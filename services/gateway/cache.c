/*  cache.c — see cache.h. */
#include "cache.h"

#include <czmq.h>
#include <inttypes.h>
#include <rapport/pack.h>

#define CACHE_ID_MAX  256                 //  a record id longer than a path parameter is not kept
#define CACHE_KEY_MAX (CACHE_ID_MAX + 64) //  kind, separator, id

//  One caller's answer for one record.
typedef struct {
    char *caller; //  NULL: the slot is free
    uint64_t cursor;
    char etag[24];
    char *body;
    size_t size;
} answer_t;

//  Everything kept for one record.
typedef struct {
    gw_cache_t *cache; //  whose byte count its answers are in
    char *id;          //  its key: kind, \x1f, the record's id
    void *handle;      //  in cache->order
    answer_t answers[GW_CACHE_CALLERS];
    size_t next; //  the slot a new caller takes when all are used
} record_t;

struct _gw_cache_t {
    zhashx_t *records; //  key (s_key) → record_t
    const char *kinds[GW_CACHE_KINDS];
    size_t kinds_count;
    const char *also[GW_CACHE_KINDS][2]; //  {prefix, kind}
    size_t also_count;
    zlistx_t *order; //  the same record_t, least recently used first
    size_t max_records;
    size_t max_bytes, bytes; //  bodies kept: the bound, and now
    uint64_t cursor;         //  the last seq the feed brought
    bool synced;
    gw_cache_answer_t found; //  what gw_cache_find returns
    uint64_t hits, misses;
};

//  What an answer costs, counted against max_bytes.
static size_t s_answer_bytes(const answer_t *answer)
{
    return answer->caller ? answer->size + strlen(answer->caller) + sizeof *answer : 0;
}

static void s_answer_clear(gw_cache_t *self, answer_t *answer)
{
    self->bytes -= s_answer_bytes(answer);
    free(answer->caller);
    free(answer->body);
    memset(answer, 0, sizeof *answer);
}

static void s_record_destroy(void **item)
{
    record_t *record = (record_t *)*item;
    for (size_t i = 0; i < GW_CACHE_CALLERS; i++)
        s_answer_clear(record->cache, &record->answers[i]);
    zlistx_delete(record->cache->order, record->handle);
    free(record->id);
    free(record);
    *item = NULL;
}

gw_cache_t *gw_cache_new(size_t max_records, size_t max_bytes)
{
    gw_cache_t *self = (gw_cache_t *)zmalloc(sizeof *self);
    self->records = zhashx_new();
    zhashx_set_destructor(self->records, s_record_destroy);
    self->order = zlistx_new();
    self->max_records = max_records;
    self->max_bytes = max_bytes;
    return self;
}

void gw_cache_watch(gw_cache_t *self, const char *kind)
{
    for (size_t i = 0; i < self->kinds_count; i++)
        if (streq(self->kinds[i], kind))
            return;
    assert(self->kinds_count < GW_CACHE_KINDS && strlen(kind) < CACHE_KEY_MAX - CACHE_ID_MAX - 1);
    self->kinds[self->kinds_count++] = kind;
}

void gw_cache_also(gw_cache_t *self, const char *kind, const char *prefix)
{
    for (size_t i = 0; i < self->also_count; i++)
        if (streq(self->also[i][0], prefix) && streq(self->also[i][1], kind))
            return;
    assert(self->also_count < GW_CACHE_KINDS);
    self->also[self->also_count][0] = prefix;
    self->also[self->also_count++][1] = kind;
}

//  The table's key of a record: false if it cannot be one (too long, or
//  a kind not watched).
static bool s_key(gw_cache_t *self, const char *kind, const char *id, size_t id_len,
                  char key[CACHE_KEY_MAX + 1])
{
    bool watched = false;
    for (size_t i = 0; i < self->kinds_count; i++)
        watched = watched || streq(self->kinds[i], kind);
    if (!watched || id_len == 0 || id_len > CACHE_ID_MAX)
        return false;
    snprintf(key, CACHE_KEY_MAX + 1, "%s\x1f%.*s", kind, (int)id_len, id);
    return true;
}

void gw_cache_destroy(gw_cache_t **self_p)
{
    gw_cache_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->records); //  its destructor unlinks each from order
    zlistx_destroy(&self->order);
    free(self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The feed

//  Drop the answers for record id (a msgpack string) of kind older than seq.
static void s_drop(gw_cache_t *self, const char *kind, const msgpack_object *id, uint64_t seq)
{
    const char *str;
    size_t len;
    char key[CACHE_KEY_MAX + 1];
    if (!rp_obj_str(id, &str, &len) || !s_key(self, kind, str, len, key))
        return; //  not an id we could have kept
    record_t *record = (record_t *)zhashx_lookup(self->records, key);
    if (!record)
        return;
    bool left = false;
    for (size_t i = 0; i < GW_CACHE_CALLERS; i++) {
        answer_t *answer = &record->answers[i];
        if (answer->caller && answer->cursor < seq)
            s_answer_clear(self, answer);
        left = left || answer->caller;
    }
    if (!left)
        zhashx_delete(self->records, key);
}

//  Drop what an event of kind names; false if it names nothing readable.
static bool s_drop_named(gw_cache_t *self, const char *kind, uint64_t seq, const uint8_t *event,
                         size_t size)
{
    rp_doc_t *doc = rp_doc_new(event, size, NULL);
    const msgpack_object *data = doc ? rp_obj_get(rp_doc_root(doc), "data") : NULL;
    const msgpack_object *id = data ? rp_obj_get(data, "id") : NULL;
    const msgpack_object *from = data ? rp_obj_get(data, "from") : NULL;
    bool named = id && id->type == MSGPACK_OBJECT_STR;
    if (named)
        s_drop(self, kind, id, seq);
    if (named && from) { //  a merge: its sources change too
        if (rp_obj_is_array(from))
            for (uint32_t i = 0; i < from->via.array.size; i++)
                s_drop(self, kind, &from->via.array.ptr[i], seq);
        else
            named = false;
    }
    rp_doc_destroy(&doc);
    return named;
}

//  An event of an `also` prefix: drop what data.customer.id names, or all.
static void s_drop_also(gw_cache_t *self, const char *kind, uint64_t seq, const uint8_t *event,
                        size_t size)
{
    rp_doc_t *doc = rp_doc_new(event, size, NULL);
    const msgpack_object *data = doc ? rp_obj_get(rp_doc_root(doc), "data") : NULL;
    const msgpack_object *id = rp_obj_get(rp_obj_get(data, "customer"), "id");
    if (id && id->type == MSGPACK_OBJECT_STR)
        s_drop(self, kind, id, seq);
    else
        zhashx_purge(self->records);
    rp_doc_destroy(&doc);
}

void gw_cache_event(gw_cache_t *self, uint64_t seq, const char *type, size_t type_len,
                    const uint8_t *event, size_t size)
{
    for (size_t i = 0; i < self->also_count && zhashx_size(self->records); i++) {
        size_t len = strlen(self->also[i][0]);
        if (type_len >= len && memcmp(type, self->also[i][0], len) == 0)
            s_drop_also(self, self->also[i][1], seq, event, size);
    }
    if (seq <= self->cursor) //  the journal went back: nothing kept can be trusted
        zhashx_purge(self->records);
    self->cursor = seq;
    //  Only a kind's own events change its records (a service's apply.c).
    for (size_t i = 0; i < self->kinds_count && zhashx_size(self->records); i++) {
        size_t len = strlen(self->kinds[i]);
        if (type_len >= len && memcmp(type, self->kinds[i], len) == 0 &&
            !s_drop_named(self, self->kinds[i], seq, event, size))
            zhashx_purge(self->records);
    }
}

void gw_cache_restart(gw_cache_t *self)
{
    zhashx_purge(self->records);
    self->cursor = 0;
}

void gw_cache_set_synced(gw_cache_t *self, bool synced)
{
    self->synced = synced;
}

//  ---------------------------------------------------------------------
//  Answers

static answer_t *s_answer_of(record_t *record, const char *caller)
{
    for (size_t i = 0; i < GW_CACHE_CALLERS; i++)
        if (record->answers[i].caller && streq(record->answers[i].caller, caller))
            return &record->answers[i];
    return NULL;
}

const gw_cache_answer_t *gw_cache_find(gw_cache_t *self, const char *kind, const char *id,
                                       const char *caller, uint64_t min_seq)
{
    char key[CACHE_KEY_MAX + 1];
    record_t *record = self->synced && s_key(self, kind, id, strlen(id), key)
                           ? (record_t *)zhashx_lookup(self->records, key)
                           : NULL;
    answer_t *answer = record ? s_answer_of(record, caller) : NULL;
    if (!answer || (answer->cursor < min_seq && self->cursor < min_seq)) {
        self->misses++;
        return NULL;
    }
    self->hits++;
    zlistx_move_end(self->order, record->handle);
    self->found = (gw_cache_answer_t){answer->body, answer->size, answer->etag};
    return &self->found;
}

//  Drop the least recently used record other than keep's. False if there
//  is none to drop.
static bool s_evict(gw_cache_t *self, const char *keep)
{
    record_t *record = (record_t *)zlistx_first(self->order);
    if (record && keep && streq(record->id, keep))
        record = (record_t *)zlistx_next(self->order);
    if (!record)
        return false;
    char key[CACHE_KEY_MAX + 1]; //  the record's own copy goes with it
    snprintf(key, sizeof key, "%s", record->id);
    zhashx_delete(self->records, key);
    return true;
}

//  Back under the byte bound, dropping other records than keep's.
static void s_trim(gw_cache_t *self, const char *keep)
{
    while (self->bytes > self->max_bytes && s_evict(self, keep))
        ;
}

//  The record for id, made room for if new.
static record_t *s_record_for(gw_cache_t *self, const char *id)
{
    record_t *record = (record_t *)zhashx_lookup(self->records, id);
    if (record) {
        zlistx_move_end(self->order, record->handle); //  keeping is using
        return record;
    }
    if (zhashx_size(self->records) >= self->max_records)
        s_evict(self, NULL);
    record = (record_t *)zmalloc(sizeof *record);
    record->cache = self;
    record->id = strdup(id);
    record->handle = zlistx_add_end(self->order, record);
    zhashx_insert(self->records, id, record);
    return record;
}

void gw_cache_keep(gw_cache_t *self, const char *kind, const char *id, const char *caller,
                   uint64_t cursor, const char *etag, const char *body, size_t size)
{
    //  An answer older than the feed may miss an event that changed it.
    char key[CACHE_KEY_MAX + 1];
    if (self->max_records == 0 || cursor < self->cursor || size > GW_CACHE_BODY_MAX ||
        size > self->max_bytes / 4 || !s_key(self, kind, id, strlen(id), key) ||
        strlen(etag) >= sizeof((answer_t *)0)->etag)
        return;
    record_t *record = s_record_for(self, key);
    answer_t *answer = s_answer_of(record, caller);
    if (!answer) {
        answer = &record->answers[record->next];
        record->next = (record->next + 1) % GW_CACHE_CALLERS;
    }
    s_answer_clear(self, answer);
    answer->caller = strdup(caller);
    answer->cursor = cursor;
    snprintf(answer->etag, sizeof answer->etag, "%s", etag);
    answer->body = (char *)malloc(size ? size : 1);
    memcpy(answer->body, body, size);
    answer->size = size;
    self->bytes += s_answer_bytes(answer);
    s_trim(self, key);
}

uint64_t gw_cache_hits(gw_cache_t *self)
{
    return self->hits;
}

uint64_t gw_cache_misses(gw_cache_t *self)
{
    return self->misses;
}

size_t gw_cache_records(gw_cache_t *self)
{
    return zhashx_size(self->records);
}

size_t gw_cache_bytes(gw_cache_t *self)
{
    return self->bytes;
}

void gw_cache_render(gw_cache_t *self, FILE *out)
{
    fprintf(out,
            "# HELP rapport_gateway_cache_hits_total Record reads answered from the cache.\n"
            "# TYPE rapport_gateway_cache_hits_total counter\n"
            "rapport_gateway_cache_hits_total %" PRIu64 "\n"
            "# HELP rapport_gateway_cache_misses_total Record reads forwarded to an instance.\n"
            "# TYPE rapport_gateway_cache_misses_total counter\n"
            "rapport_gateway_cache_misses_total %" PRIu64 "\n"
            "# HELP rapport_gateway_cache_records Records with answers in the cache.\n"
            "# TYPE rapport_gateway_cache_records gauge\n"
            "rapport_gateway_cache_records %zu\n"
            "# HELP rapport_gateway_cache_bytes Memory the cache's answers take.\n"
            "# TYPE rapport_gateway_cache_bytes gauge\n"
            "rapport_gateway_cache_bytes %zu\n",
            self->hits, self->misses, zhashx_size(self->records), self->bytes);
}

//  ---------------------------------------------------------------------
//  Self-test

#define KIND "customer."

//  Feed one event {type, data: {id, from?}} at seq.
static void s_test_event(gw_cache_t *self, uint64_t seq, const char *type, const char *id,
                         const char *from)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "type", type);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, from ? 2 : 1);
    if (id)
        rp_pack_kv_cstr(&packer.pk, "id", id);
    else
        rp_pack_kv_cstr(&packer.pk, "name", "no id");
    if (from) {
        rp_pack_cstr(&packer.pk, "from");
        msgpack_pack_array(&packer.pk, 1);
        rp_pack_cstr(&packer.pk, from);
    }
    gw_cache_event(self, seq, type, strlen(type), (const uint8_t *)packer.buffer.data,
                   packer.buffer.size);
    rp_packer_destroy(&packer);
}

static void s_test_keep(gw_cache_t *self, const char *id, const char *caller, uint64_t cursor)
{
    gw_cache_keep(self, KIND, id, caller, cursor, "\"1\"", id, strlen(id));
}

void gw_cache_test(void)
{
    gw_cache_t *self = gw_cache_new(3, 1024 * 1024);
    gw_cache_watch(self, KIND);
    gw_cache_watch(self, KIND); //  twice: harmless
    s_test_event(self, 1, "user.created", "u1", NULL);
    s_test_keep(self, "c1", "ana", 1);
    assert(!gw_cache_find(self, KIND, "c1", "ana", 0)); //  not synced yet
    gw_cache_set_synced(self, true);
    const gw_cache_answer_t *hit = gw_cache_find(self, KIND, "c1", "ana", 0);
    assert(hit && hit->size == 2 && memcmp(hit->body, "c1", 2) == 0 && streq(hit->etag, "\"1\""));
    assert(!gw_cache_find(self, KIND, "c1", "bob", 0)); //  another scope is another answer
    assert(!gw_cache_find(self, KIND, "c2", "ana", 0));
    assert(gw_cache_hits(self) == 1 && gw_cache_misses(self) == 3);

    //  Read your writes: a caller who saw seq 5 needs an answer that new.
    assert(!gw_cache_find(self, KIND, "c1", "ana", 5));
    s_test_event(self, 2, "order.placed", "c1", NULL); //  not a customers event: kept
    s_test_event(self, 3, "customer.created", "c9", NULL);
    s_test_event(self, 4, "customer.updated", "c7", NULL);
    s_test_event(self, 5, "customer.created", "c8", NULL);
    assert(gw_cache_find(self, KIND, "c1", "ana", 5)); //  the feed has passed 5, c1 untouched

    //  An answer older than the feed is not kept; one at or past it is.
    s_test_keep(self, "c2", "ana", 4);
    assert(!gw_cache_find(self, KIND, "c2", "ana", 0));
    s_test_keep(self, "c2", "ana", 7);
    assert(gw_cache_find(self, KIND, "c2", "ana", 0));
    //  Events up to the answer's cursor do not drop it; a later one does.
    s_test_event(self, 6, "customer.updated", "c2", NULL);
    assert(gw_cache_find(self, KIND, "c2", "ana", 0));
    s_test_event(self, 8, "customer.updated", "c2", NULL);
    assert(!gw_cache_find(self, KIND, "c2", "ana", 0));

    //  A merge drops the target and its sources, every caller's answer.
    s_test_keep(self, "c1", "bob", 8);
    s_test_keep(self, "c3", "ana", 8);
    s_test_event(self, 9, "customer.merged", "c3", "c1");
    assert(!gw_cache_find(self, KIND, "c1", "ana", 0) &&
           !gw_cache_find(self, KIND, "c1", "bob", 0));
    assert(!gw_cache_find(self, KIND, "c3", "ana", 0));
    assert(gw_cache_records(self) == 0);

    //  A customers event without a readable id drops everything.
    s_test_keep(self, "c4", "ana", 9);
    s_test_event(self, 10, "customer.updated", NULL, NULL);
    assert(!gw_cache_find(self, KIND, "c4", "ana", 0));

    //  Bounded: a fourth customer pushes out the least recently used
    //  (k1: k0 was read since); callers share slots.
    for (int i = 0; i < 4; i++) {
        char id[16]; //  room for any int: -Wformat-truncation under SAN=1
        snprintf(id, sizeof id, "k%d", i);
        s_test_keep(self, id, "ana", 10);
        if (i == 2)
            assert(gw_cache_find(self, KIND, "k0", "ana", 0));
    }
    assert(gw_cache_records(self) == 3);
    assert(gw_cache_find(self, KIND, "k0", "ana", 0) && !gw_cache_find(self, KIND, "k1", "ana", 0));
    assert(gw_cache_find(self, KIND, "k2", "ana", 0) && gw_cache_find(self, KIND, "k3", "ana", 0));
    for (size_t i = 0; i <= GW_CACHE_CALLERS; i++) {
        char caller[24];
        snprintf(caller, sizeof caller, "u%zu", i);
        s_test_keep(self, "k3", caller, 10);
    }
    assert(!gw_cache_find(self, KIND, "k3", "u0", 0) && gw_cache_find(self, KIND, "k3", "u4", 0));

    //  Another kind: its own ids, dropped by its own events only.
    gw_cache_watch(self, "user.");
    gw_cache_keep(self, "user.", "k3", "ana", 10, "\"1\"", "u", 1);
    assert(gw_cache_find(self, "user.", "k3", "ana", 0) &&
           gw_cache_find(self, KIND, "k3", "u4", 0));
    s_test_event(self, 11, "user.updated", "k3", NULL);
    assert(!gw_cache_find(self, "user.", "k3", "ana", 0) &&
           gw_cache_find(self, KIND, "k3", "u4", 0));
    gw_cache_keep(self, "order.", "k3", "ana", 11, "\"1\"", "o", 1); //  not watched: not kept
    assert(!gw_cache_find(self, "order.", "k3", "ana", 0));

    //  An `also` prefix: an order naming no customer id drops every answer.
    gw_cache_also(self, KIND, "order.");
    gw_cache_also(self, KIND, "order."); //  twice: harmless
    assert(gw_cache_find(self, KIND, "k3", "u4", 0));
    s_test_event(self, 12, "order.placed", "x", NULL);
    assert(!gw_cache_find(self, KIND, "k3", "u4", 0) && gw_cache_records(self) == 0);
    gw_cache_keep(self, KIND, "k3", "ana", 12, "\"1\"", "c", 1);
    s_test_event(self, 13, "order.cancelled", "x", NULL);
    assert(!gw_cache_find(self, KIND, "k3", "ana", 0));

    //  A journal that starts again (seq going back) empties the cache.
    s_test_event(self, 1, "user.created", "u1", NULL);
    assert(gw_cache_records(self) == 0 && gw_cache_bytes(self) == 0);
    gw_cache_destroy(&self);

    //  Bounded in bytes too: the newest answer stays, others go.
    self = gw_cache_new(100, 4096);
    gw_cache_watch(self, KIND);
    gw_cache_set_synced(self, true);
    char body[1100]; //  1000 bytes kept ten times; 1100 is over a quarter of 4096
    memset(body, 'x', sizeof body);
    for (int i = 0; i < 10; i++) {
        char id[16];
        snprintf(id, sizeof id, "b%d", i);
        gw_cache_keep(self, KIND, id, "ana", 0, "\"1\"", body, 1000);
        assert(gw_cache_bytes(self) <= 4096 && gw_cache_find(self, KIND, id, "ana", 0));
    }
    assert(gw_cache_records(self) >= 2 && gw_cache_records(self) <= 4);
    gw_cache_keep(self, KIND, "big", "ana", 0, "\"1\"", body, sizeof body);
    assert(!gw_cache_find(self, KIND, "big", "ana", 0)); //  over a quarter of the bound
    gw_cache_destroy(&self);

    //  Size 0 keeps nothing.
    self = gw_cache_new(0, 1024);
    gw_cache_watch(self, KIND);
    gw_cache_set_synced(self, true);
    s_test_keep(self, "c1", "ana", 0);
    assert(!gw_cache_find(self, KIND, "c1", "ana", 0));
    gw_cache_destroy(&self);
}
