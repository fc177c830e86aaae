/*  grading.c — see grading.h. */
#include "grading.h"

#include <rapport/log.h>
#include <rapport/money.h>
#include <rapport/normalize.h>
#include <rapport/random.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define GRADING_KEY "grading"
#define WAIT_MS     5000

void grading_default(grading_t *self)
{
    memset(self, 0, sizeof *self);
    memcpy(self->currency, GRADING_CURRENCY, 4);
    const int64_t units[4] = {1000000, 300000, 100000, 10000};
    for (int i = 0; i < 4; i++)
        self->grades[i] = units[i] * 100;
    self->key = 500000LL * 100;
    self->strategic = 2000000LL * 100;
    memcpy(self->region, "CN", 3);
}

//  "A=1000000 B=300000 …": each name=amount pair found sets its slot.
static int s_parse(const char *text, const char *const *names, int64_t **slots)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        if (!eq)
            return -1;
        const char *end = eq + 1;
        while (*end && *end != ' ' && *end != ',')
            end++;
        int slot = -1;
        for (int i = 0; names[i]; i++)
            if (strlen(names[i]) == (size_t)(eq - p) && memcmp(names[i], p, (size_t)(eq - p)) == 0)
                slot = i;
        if (slot < 0 || !rp_money_parse(eq + 1, (size_t)(end - eq - 1), slots[slot]))
            return -1;
        p = end;
    }
    return 0;
}

static bool s_valid(const grading_t *self)
{
    for (int i = 1; i < 4; i++)
        if (self->grades[i] > self->grades[i - 1])
            return false;
    return self->key <= self->strategic &&
           rp_money_currency_valid(self->currency, strlen(self->currency)) &&
           rp_normalize_region_code(self->region);
}

int grading_from_config(grading_t *self, rp_config_t *config)
{
    grading_default(self);
    const char *currency = rp_config_get(config, "customers/currency", GRADING_CURRENCY);
    const char *grades = rp_config_get(config, "customers/grades", GRADING_GRADES);
    const char *tiers = rp_config_get(config, "customers/tiers", GRADING_TIERS);
    static const char *const grade_names[] = {"A", "B", "C", "D", NULL};
    static const char *const tier_names[] = {"key", "strategic", NULL};
    int64_t *grade_slots[] = {&self->grades[0], &self->grades[1], &self->grades[2],
                              &self->grades[3]};
    int64_t *tier_slots[] = {&self->key, &self->strategic};
    const char *region = rp_config_get(config, "customers/phone_region", "CN");
    if (strlen(currency) == 3)
        memcpy(self->currency, currency, 4);
    if (strlen(region) == 2)
        memcpy(self->region, region, 3);
    const char *team = rp_config_get(config, "customers/lead_team", "");
    if (strlen(team) > RP_MAX_ACTOR) {
        rp_error("customers: customers/lead_team is over %d bytes", RP_MAX_ACTOR);
        return -1;
    }
    snprintf(self->lead_team, sizeof self->lead_team, "%s", team);
    if (strlen(currency) != 3 || s_parse(grades, grade_names, grade_slots) ||
        s_parse(tiers, tier_names, tier_slots) || !s_valid(self)) {
        rp_error("customers: customers/currency, /grades or /tiers do not parse, or the thresholds"
                 " do not descend (\"%s\", \"%s\", \"%s\")",
                 currency, grades, tiers);
        return -1;
    }
    return 0;
}

bool grading_equal(const grading_t *a, const grading_t *b)
{
    return memcmp(a->currency, b->currency, 4) == 0 && memcmp(a->region, b->region, 3) == 0 &&
           strcmp(a->lead_team, b->lead_team) == 0 &&
           memcmp(a->grades, b->grades, sizeof a->grades) == 0 && a->key == b->key &&
           a->strategic == b->strategic;
}

void grading_pack(const grading_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 6);
    rp_pack_kv_cstr(pk, "currency", self->currency);
    rp_pack_kv_cstr(pk, "phone_region", self->region);
    rp_pack_kv_cstr(pk, "lead_team", self->lead_team);
    rp_pack_cstr(pk, "grades");
    msgpack_pack_array(pk, 4);
    for (int i = 0; i < 4; i++)
        rp_money_pack(pk, self->grades[i]);
    rp_pack_cstr(pk, "key");
    rp_money_pack(pk, self->key);
    rp_pack_cstr(pk, "strategic");
    rp_money_pack(pk, self->strategic);
}

//  A packed grading back; false (self untouched) when it is not one.
static bool s_unpack(grading_t *self, const msgpack_object *map)
{
    grading_t g;
    memset(&g, 0, sizeof g);
    const char *currency;
    size_t len;
    const msgpack_object *grades = rp_obj_get(map, "grades");
    if (!rp_obj_str(rp_obj_get(map, "currency"), &currency, &len) || len != 3 ||
        !rp_obj_is_array(grades) || grades->via.array.size != 4 ||
        !rp_money_cents(rp_obj_get(map, "key"), &g.key) ||
        !rp_money_cents(rp_obj_get(map, "strategic"), &g.strategic))
        return false;
    memcpy(g.currency, currency, 3);
    const char *region;
    if (!rp_obj_str(rp_obj_get(map, "phone_region"), &region, &len) || len != 2)
        return false;
    memcpy(g.region, region, 2);
    const char *team;
    if (!rp_obj_str(rp_obj_get(map, "lead_team"), &team, &len) || len > RP_MAX_ACTOR)
        return false;
    memcpy(g.lead_team, team, len);
    for (int i = 0; i < 4; i++)
        if (!rp_money_cents(&grades->via.array.ptr[i], &g.grades[i]))
            return false;
    if (!s_valid(&g))
        return false;
    *self = g;
    return true;
}

void grading_load(grading_t *self, rp_store_t *store, MDB_txn *txn)
{
    grading_default(self);
    MDB_val key = {strlen(GRADING_KEY), GRADING_KEY}, value;
    if (mdb_get(txn, rp_store_dbi(store, "settings"), &key, &value))
        return;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (doc)
        s_unpack(self, rp_doc_root(doc));
    rp_doc_destroy(&doc);
}

const char *grading_grade(const grading_t *self, int64_t amount)
{
    static const char *const grades[] = {"A", "B", "C", "D"};
    for (int i = 0; i < 4; i++)
        if (amount >= self->grades[i])
            return grades[i];
    return "E";
}

const char *grading_tier(const grading_t *self, int64_t amount)
{
    return amount >= self->strategic ? "strategic" : amount >= self->key ? "key" : "transacting";
}

int grading_apply_set(rp_apply_t *self)
{
    grading_t g;
    if (self->id_len != strlen(GRADING_KEY) || memcmp(self->id, GRADING_KEY, self->id_len) != 0 ||
        !s_unpack(&g, rp_obj_get(self->event->data, "grading")))
        return rp_apply_outcome(self, 422, "bad_event");
    self->unchanged = true; //  no customer changed: no timeline entry
    rp_packer_t packer;
    rp_packer_init(&packer);
    grading_pack(&g, &packer.pk);
    int rc = rp_apply_put(self, "settings", GRADING_KEY, strlen(GRADING_KEY), packer.buffer.data,
                          packer.buffer.size);
    rp_packer_destroy(&packer);
    return rc;
}

//  ---------------------------------------------------------------------
//  The writer's seed

typedef struct {
    grading_t stored;
} seed_read_t;

static int s_seed_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    grading_load(&((seed_read_t *)arg)->stored, store, txn);
    return 0;
}

static void s_seeded(void *arg, rp_service_t *service, const rp_reply_t *reply, uint64_t first,
                     uint64_t last)
{
    (void)service;
    (void)first;
    grading_seed_t *self = (grading_seed_t *)arg;
    self->in_flight = false;
    if (reply->status == 200)
        self->seq = last;
    else
        rp_warn("customers: the grading could not be appended (%d); next tick", reply->status);
}

//  The month that has begun, if the store graded an earlier one last.
static int s_month_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    *(uint64_t *)arg = rp_store_meta_u64(store, txn, GRADING_MONTH_KEY);
    return 0;
}

static void s_append(grading_seed_t *self, rp_service_t *service, rp_packer_t *event,
                     const char *idem)
{
    rp_journal_event_t events[1] = {{event->buffer.data, event->buffer.size}};
    if (rp_service_append(service, events, 1, idem, WAIT_MS, s_seeded, self) == 0)
        self->in_flight = true;
}

//  customer.regraded when a month began since the last one graded.
static void s_regrade(grading_seed_t *self, rp_service_t *service)
{
    int64_t now = zclock_time();
    if (now - self->checked_ms < 60000)
        return;
    self->checked_ms = now;
    time_t seconds = (time_t)(now / 1000);
    struct tm tm;
    gmtime_r(&seconds, &tm);
    uint32_t month = (uint32_t)((tm.tm_year + 1900) * 12 + tm.tm_mon);
    uint64_t graded = 0;
    rp_store_read(rp_service_store(service), s_month_read, &graded);
    if (graded == 0 || graded >= month)
        return; //  nothing graded yet, or this month already
    char text[24], idem[64];
    snprintf(text, sizeof text, "%04u-%02u", (month / 12) % 10000, month % 12 + 1);
    snprintf(idem, sizeof idem, "customers/regrade/%s", text);
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, 4);
    rp_pack_kv_cstr(&event.pk, "type", "customer.regraded");
    char id[RP_UUID_SIZE];
    rp_uuid_format(id);
    rp_pack_kv_cstr(&event.pk, "id", id);
    rp_pack_kv_cstr(&event.pk, "source", "customers");
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 2);
    rp_pack_kv_cstr(&event.pk, "id", GRADING_KEY);
    rp_pack_kv_cstr(&event.pk, "month", text);
    s_append(self, service, &event, idem);
    rp_packer_destroy(&event);
}

void grading_seed(grading_seed_t *self, rp_service_t *service)
{
    if (self->in_flight || rp_service_epoch(service) == 0 ||
        (self->seq && rp_service_cursor(service) < self->seq))
        return;
    seed_read_t read;
    rp_store_read(rp_service_store(service), s_seed_read, &read);
    if (grading_equal(&read.stored, &self->configured)) {
        s_regrade(self, service);
        return;
    }
    rp_packer_t event;
    rp_packer_init(&event);
    msgpack_pack_map(&event.pk, 4);
    rp_pack_kv_cstr(&event.pk, "type", "customer.grading_set");
    char id[RP_UUID_SIZE];
    rp_uuid_format(id);
    rp_pack_kv_cstr(&event.pk, "id", id);
    rp_pack_kv_cstr(&event.pk, "source", "customers");
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 2);
    rp_pack_kv_cstr(&event.pk, "id", GRADING_KEY);
    rp_pack_cstr(&event.pk, "grading");
    grading_pack(&self->configured, &event.pk);
    //  The idem names the settings (a hash of them), so a retried seed is
    //  one event and a changed config another.
    rp_packer_t packed;
    rp_packer_init(&packed);
    grading_pack(&self->configured, &packed.pk);
    uint64_t hash = 14695981039346656037ULL; //  FNV-1a
    for (size_t i = 0; i < packed.buffer.size; i++)
        hash = (hash ^ (uint8_t)packed.buffer.data[i]) * 1099511628211ULL;
    rp_packer_destroy(&packed);
    char idem[64];
    snprintf(idem, sizeof idem, GRADING_SEED_IDEM "%016" PRIx64, hash);
    s_append(self, service, &event, idem);
    rp_packer_destroy(&event);
}

//  ---------------------------------------------------------------------
//  Self-test

void grading_test(void)
{
    grading_t g;
    grading_default(&g);
    assert(strcmp(grading_grade(&g, 100000000), "A") == 0);
    assert(strcmp(grading_grade(&g, 99999999), "B") == 0);
    assert(strcmp(grading_grade(&g, 1000000), "D") == 0);
    assert(strcmp(grading_grade(&g, 999999), "E") == 0);
    assert(strcmp(grading_grade(&g, 0), "E") == 0);
    assert(strcmp(grading_tier(&g, 50000000), "key") == 0);
    assert(strcmp(grading_tier(&g, 49999999), "transacting") == 0);
    assert(strcmp(grading_tier(&g, 200000000), "strategic") == 0);

    //  Parsing: a partial list keeps the other defaults; bad lists refused.
    int64_t a = 0, b = 0;
    int64_t *slots[] = {&a, &b};
    static const char *const names[] = {"A", "B", NULL};
    assert(s_parse("A=10.5, B=2", names, slots) == 0 && a == 1050 && b == 200);
    assert(s_parse("A=1 C=2", names, slots) == -1);
    assert(s_parse("A", names, slots) == -1);
    assert(s_parse("A=x", names, slots) == -1);
    assert(s_parse("", names, slots) == 0);

    //  Packed and back.
    g.grades[3] = 5;
    rp_packer_t packer;
    rp_packer_init(&packer);
    grading_pack(&g, &packer.pk);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    grading_t back;
    grading_default(&back);
    assert(!grading_equal(&g, &back));
    assert(s_unpack(&back, rp_doc_root(doc)) && grading_equal(&g, &back));
    rp_doc_destroy(&doc);
    //  Thresholds that do not descend are not a grading.
    g.grades[0] = 1;
    rp_packer_reset(&packer);
    grading_pack(&g, &packer.pk);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(!s_unpack(&back, rp_doc_root(doc)));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
