/*  fleet.c — see fleet.h. */
#include "fleet.h"

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <rapport/mdp.h>
#include <string.h>

#define NAME_MAX_ 128 //  service or instance name kept (longer ones are cut)

typedef struct {
    char service[NAME_MAX_];
    char instance[NAME_MAX_];
    uint64_t cursor;
    bool answered;     //  cursor is known
    int64_t seen_ms;   //  its last answer (or when first listed)
    int64_t listed_ms; //  the last broker.status that listed it
    size_t gauges;     //  the service's own figures, from its last service.status
    char gauge_names[GW_FLEET_GAUGES][GW_FLEET_GAUGE_NAME];
    int64_t gauge_values[GW_FLEET_GAUGES];
} instance_t;

typedef struct {
    bool held;
    uint64_t standbys;
    int64_t vacant_ms; //  the first status of this vacancy (while !held)
} lease_t;

struct _gw_fleet_t {
    uint64_t head;
    bool broker_up;
    int64_t status_ms;   //  the last broker.status that answered
    zhashx_t *instances; //  "service\tinstance" → instance_t
    zhashx_t *leases;    //  service → lease_t
    zhashx_t *services;  //  service (reads) → size_t workers
};

gw_fleet_t *gw_fleet_new(void)
{
    gw_fleet_t *self = (gw_fleet_t *)zmalloc(sizeof *self);
    self->instances = zhashx_new();
    zhashx_set_destructor(self->instances, (zhashx_destructor_fn *)zstr_free);
    self->leases = zhashx_new();
    zhashx_set_destructor(self->leases, (zhashx_destructor_fn *)zstr_free);
    self->services = zhashx_new();
    zhashx_set_destructor(self->services, (zhashx_destructor_fn *)zstr_free);
    return self;
}

void gw_fleet_destroy(gw_fleet_t **self_p)
{
    gw_fleet_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->instances);
    zhashx_destroy(&self->leases);
    zhashx_destroy(&self->services);
    free(self);
    *self_p = NULL;
}

void gw_fleet_head(gw_fleet_t *self, uint64_t seq)
{
    if (seq > self->head)
        self->head = seq;
}

void gw_fleet_restart(gw_fleet_t *self)
{
    self->head = 0;
}

//  The entry of an instance, created if new (NULL when the table is full).
static instance_t *s_instance(gw_fleet_t *self, const char *service, size_t service_len,
                              const char *instance, size_t instance_len, int64_t now_ms)
{
    if (service_len >= NAME_MAX_)
        service_len = NAME_MAX_ - 1;
    if (instance_len >= NAME_MAX_)
        instance_len = NAME_MAX_ - 1;
    char key[2 * NAME_MAX_ + 2];
    snprintf(key, sizeof key, "%.*s\t%.*s", (int)service_len, service, (int)instance_len, instance);
    instance_t *entry = (instance_t *)zhashx_lookup(self->instances, key);
    if (!entry && zhashx_size(self->instances) < GW_FLEET_MAX) {
        entry = (instance_t *)zmalloc(sizeof *entry);
        memcpy(entry->service, service, service_len);
        memcpy(entry->instance, instance, instance_len);
        entry->seen_ms = now_ms;
        zhashx_insert(self->instances, key, entry);
    }
    return entry;
}

void gw_fleet_saw(gw_fleet_t *self, const char *service, const char *instance, size_t instance_len,
                  uint64_t cursor, int64_t now_ms)
{
    if (!instance || !instance_len)
        return;
    instance_t *entry = s_instance(self, service, rp_mdp_base_len(service, strlen(service)),
                                   instance, instance_len, now_ms);
    if (entry) {
        entry->cursor = cursor;
        entry->answered = true;
        entry->seen_ms = now_ms;
    }
    gw_fleet_head(self, cursor); //  nobody applies past the head
}

//  A gauge name: 1..GW_FLEET_GAUGE_NAME-1 of [a-z0-9_], starting with a letter.
static bool s_gauge_name(const char *name, size_t len)
{
    if (len == 0 || len >= GW_FLEET_GAUGE_NAME || name[0] < 'a' || name[0] > 'z')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
              name[i] == '_'))
            return false;
    return true;
}

void gw_fleet_gauges(gw_fleet_t *self, const char *service, const char *instance,
                     size_t instance_len, const msgpack_object *gauges, int64_t now_ms)
{
    if (!instance || !instance_len || !rp_obj_is_map(gauges))
        return;
    instance_t *entry = s_instance(self, service, rp_mdp_base_len(service, strlen(service)),
                                   instance, instance_len, now_ms);
    if (!entry)
        return;
    entry->gauges = 0;
    for (uint32_t i = 0; i < gauges->via.map.size && entry->gauges < GW_FLEET_GAUGES; i++) {
        const msgpack_object_kv *kv = &gauges->via.map.ptr[i];
        const char *name;
        size_t len;
        uint64_t value;
        if (!rp_obj_str(&kv->key, &name, &len) || !s_gauge_name(name, len) ||
            !rp_obj_u64(&kv->val, &value) || value > INT64_MAX)
            continue;
        memcpy(entry->gauge_names[entry->gauges], name, len);
        entry->gauge_names[entry->gauges][len] = 0;
        entry->gauge_values[entry->gauges++] = (int64_t)value;
    }
}

//  Rebuild the lease table from broker.status `leases`, keeping when
//  each vacancy began.
static void s_status_leases(gw_fleet_t *self, const msgpack_object *leases, int64_t now_ms)
{
    zhashx_t *before = self->leases;
    self->leases = zhashx_new();
    zhashx_set_destructor(self->leases, (zhashx_destructor_fn *)zstr_free);
    if (!rp_obj_is_map(leases)) {
        zhashx_destroy(&before);
        return;
    }
    for (uint32_t i = 0; i < leases->via.map.size; i++) {
        const msgpack_object_kv *kv = &leases->via.map.ptr[i];
        char *name = rp_obj_strdup(&kv->key);
        if (name && strlen(name) < NAME_MAX_) {
            lease_t *lease = (lease_t *)zmalloc(sizeof *lease);
            rp_obj_bool(rp_obj_get(&kv->val, "holder"), &lease->held);
            rp_obj_u64(rp_obj_get(&kv->val, "standbys"), &lease->standbys);
            lease_t *last = (lease_t *)zhashx_lookup(before, name);
            lease->vacant_ms = lease->held ? 0 : last && !last->held ? last->vacant_ms : now_ms;
            zhashx_update(self->leases, name, lease);
        }
        free(name);
    }
    zhashx_destroy(&before);
}

//  Rebuild the service table from broker.status `services`, and mark the
//  instances it lists. Returns true if it listed instances at all.
static bool s_status_services(gw_fleet_t *self, const msgpack_object *services, int64_t now_ms)
{
    zhashx_purge(self->services);
    bool listed = false;
    if (!rp_obj_is_map(services))
        return false;
    for (uint32_t i = 0; i < services->via.map.size; i++) {
        const msgpack_object_kv *kv = &services->via.map.ptr[i];
        const char *name;
        size_t len;
        uint64_t workers = 0;
        if (!rp_obj_str(&kv->key, &name, &len) || len == 0 || len >= NAME_MAX_ ||
            rp_mdp_base_len(name, len) != len || memchr(name, 0, len))
            continue;
        rp_obj_u64(rp_obj_get(&kv->val, "workers"), &workers);
        const msgpack_object *instances = rp_obj_get(&kv->val, "instances");
        if (rp_obj_is_array(instances)) {
            //  Only named workers (Rapport services) are probed: a plain
            //  MDP worker would not know service.status.
            listed = true;
            workers = 0;
            for (uint32_t j = 0; j < instances->via.array.size; j++) {
                const char *instance;
                size_t instance_len;
                if (!rp_obj_str(rp_obj_get(&instances->via.array.ptr[j], "instance"), &instance,
                                &instance_len) ||
                    instance_len == 0)
                    continue;
                workers++;
                instance_t *entry = s_instance(self, name, len, instance, instance_len, now_ms);
                if (entry)
                    entry->listed_ms = now_ms;
            }
        }
        if (workers > 0) {
            size_t *count = (size_t *)zmalloc(sizeof *count);
            *count = (size_t)workers;
            char key[NAME_MAX_];
            snprintf(key, sizeof key, "%.*s", (int)len, name);
            zhashx_update(self->services, key, count);
        }
    }
    return listed;
}

void gw_fleet_status(gw_fleet_t *self, const msgpack_object *data, int64_t now_ms)
{
    self->broker_up = data != NULL;
    if (!data)
        return;
    self->status_ms = now_ms;
    uint64_t head = 0;
    if (rp_obj_u64(rp_obj_get(rp_obj_get(data, "journal"), "head"), &head))
        gw_fleet_head(self, head);
    s_status_leases(self, rp_obj_get(data, "leases"), now_ms);
    bool listed = s_status_services(self, rp_obj_get(data, "services"), now_ms);
    //  Forget the dead: unlisted by a broker that lists instances, or (an
    //  older broker) silent for long.
    zlistx_t *keys = zhashx_keys(self->instances);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        instance_t *entry = (instance_t *)zhashx_lookup(self->instances, key);
        if (listed ? entry->listed_ms != now_ms : now_ms - entry->seen_ms > GW_FLEET_FORGET_MS)
            zhashx_delete(self->instances, key);
    }
    zlistx_destroy(&keys);
}

bool gw_fleet_writer_vacant(gw_fleet_t *self, const char *service, int64_t now_ms)
{
    if (!self->broker_up || now_ms - self->status_ms > GW_FLEET_FRESH_MS)
        return false; //  we do not know: let the broker decide
    char name[NAME_MAX_];
    size_t len = rp_mdp_base_len(service, strlen(service));
    if (len >= NAME_MAX_)
        return false;
    snprintf(name, sizeof name, "%.*s", (int)len, service);
    lease_t *lease = (lease_t *)zhashx_lookup(self->leases, name);
    //  Vacant in two polls in a row: not the moment between a holder's
    //  READY and its grant.
    return lease && !lease->held && lease->standbys == 0 &&
           self->status_ms - lease->vacant_ms >= GW_FLEET_VACANT_MS;
}

void gw_fleet_each_service(gw_fleet_t *self, gw_fleet_service_fn *fn, void *arg)
{
    for (size_t *workers = (size_t *)zhashx_first(self->services); workers;
         workers = (size_t *)zhashx_next(self->services))
        fn(arg, (const char *)zhashx_cursor(self->services), *workers);
}

//  A label value, escaped as the text format wants (\\, \", \n).
static void s_label(FILE *out, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            fputc('\\', out);
        if (*c == '\n')
            fputs("\\n", out);
        else
            fputc(*c, out);
    }
}

static int s_compare(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static zlistx_t *s_sorted_keys(zhashx_t *hash)
{
    zlistx_t *keys = zhashx_keys(hash);
    zlistx_set_comparator(keys, (zlistx_comparator_fn *)s_compare);
    zlistx_sort(keys);
    return keys;
}

//  One family of per-instance gauges.
static void s_render_instances(gw_fleet_t *self, FILE *out, const char *name, const char *help,
                               int which, int64_t now_ms)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    zlistx_t *keys = s_sorted_keys(self->instances);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        instance_t *entry = (instance_t *)zhashx_lookup(self->instances, key);
        if (!entry->answered)
            continue; //  listed, not yet heard from: no cursor to show
        fprintf(out, "%s{service=\"", name);
        s_label(out, entry->service);
        fputs("\",instance=\"", out);
        s_label(out, entry->instance);
        if (which == 0)
            fprintf(out, "\"} %" PRIu64 "\n", entry->cursor);
        else if (which == 1)
            fprintf(out, "\"} %" PRIu64 "\n",
                    self->head > entry->cursor ? self->head - entry->cursor : 0);
        else
            fprintf(out, "\"} %.3f\n", (double)(now_ms - entry->seen_ms) / 1000.0);
    }
    zlistx_destroy(&keys);
}

//  Each instance's own gauges: rapport_<service>_<name>{instance}.
static void s_render_gauges(gw_fleet_t *self, FILE *out)
{
    zlistx_t *keys = s_sorted_keys(self->instances);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        instance_t *entry = (instance_t *)zhashx_lookup(self->instances, key);
        for (size_t i = 0; i < entry->gauges; i++) {
            fputs("rapport_", out);
            s_label(out, entry->service);
            fprintf(out, "_%s{instance=\"", entry->gauge_names[i]);
            s_label(out, entry->instance);
            fprintf(out, "\"} %" PRId64 "\n", entry->gauge_values[i]);
        }
    }
    zlistx_destroy(&keys);
}

void gw_fleet_render(gw_fleet_t *self, FILE *out, int64_t now_ms)
{
    fprintf(out,
            "# HELP rapport_broker_up 1 if the broker answered the gateway's last broker.status.\n"
            "# TYPE rapport_broker_up gauge\nrapport_broker_up %d\n",
            self->broker_up ? 1 : 0);
    fprintf(out,
            "# HELP rapport_journal_head The journal's last seq, as the gateway knows it.\n"
            "# TYPE rapport_journal_head gauge\nrapport_journal_head %" PRIu64 "\n",
            self->head);
    fprintf(out, "# HELP rapport_service_writer 1 while the service's writer lease has a live "
                 "holder.\n# TYPE rapport_service_writer gauge\n");
    zlistx_t *keys = s_sorted_keys(self->leases);
    for (const char *key = (const char *)zlistx_first(keys); key;
         key = (const char *)zlistx_next(keys)) {
        fputs("rapport_service_writer{service=\"", out);
        s_label(out, key);
        fprintf(out, "\"} %d\n", ((lease_t *)zhashx_lookup(self->leases, key))->held ? 1 : 0);
    }
    zlistx_destroy(&keys);
    s_render_instances(self, out, "rapport_service_cursor",
                       "The last journal seq the instance had applied when it last answered.", 0,
                       now_ms);
    s_render_instances(self, out, "rapport_journal_lag",
                       "Journal events the instance has not applied yet (head - cursor).", 1,
                       now_ms);
    s_render_instances(self, out, "rapport_service_seen_seconds",
                       "Seconds since the instance last answered.", 2, now_ms);
    s_render_gauges(self, out);
}

//  ---------------------------------------------------------------------
//  Self-test

//  broker.status data: head 50, customers with instances a and b (the
//  lease held or not), users with no instance list.
static rp_doc_t *s_test_status(bool held, bool with_b)
{
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 3);
    rp_pack_cstr(&p.pk, "services");
    msgpack_pack_map(&p.pk, 2);
    rp_pack_cstr(&p.pk, "customers");
    msgpack_pack_map(&p.pk, 2);
    rp_pack_kv_u64(&p.pk, "workers", with_b ? 2 : 1);
    rp_pack_cstr(&p.pk, "instances");
    msgpack_pack_array(&p.pk, with_b ? 2 : 1);
    msgpack_pack_map(&p.pk, 1);
    rp_pack_kv_cstr(&p.pk, "instance", "a");
    if (with_b) {
        msgpack_pack_map(&p.pk, 1);
        rp_pack_kv_cstr(&p.pk, "instance", "b\"x");
    }
    rp_pack_cstr(&p.pk, "customers.writer");
    msgpack_pack_map(&p.pk, 1);
    rp_pack_kv_u64(&p.pk, "workers", 1);
    rp_pack_cstr(&p.pk, "leases");
    msgpack_pack_map(&p.pk, 1);
    rp_pack_cstr(&p.pk, "customers");
    msgpack_pack_map(&p.pk, 2);
    rp_pack_kv_bool(&p.pk, "holder", held);
    rp_pack_kv_u64(&p.pk, "standbys", 0);
    rp_pack_cstr(&p.pk, "journal");
    msgpack_pack_map(&p.pk, 1);
    rp_pack_kv_u64(&p.pk, "head", 50);
    rp_doc_t *doc = rp_doc_new(p.buffer.data, p.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&p);
    return doc;
}

static char *s_test_render(gw_fleet_t *fleet, int64_t now_ms)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert(out);
    gw_fleet_render(fleet, out, now_ms);
    fclose(out);
    return text;
}

static size_t s_test_count;
static void s_test_each(void *arg, const char *service, size_t workers)
{
    (void)arg;
    assert(streq(service, "customers") && workers == 2);
    s_test_count++;
}

void gw_fleet_test(void)
{
    gw_fleet_t *fleet = gw_fleet_new();
    //  Nothing known: nothing vacant, broker down.
    assert(!gw_fleet_writer_vacant(fleet, "customers.writer", 0));
    char *text = s_test_render(fleet, 0);
    assert(strstr(text, "rapport_broker_up 0\n") && strstr(text, "rapport_journal_head 0\n"));
    free(text);

    rp_doc_t *doc = s_test_status(true, true);
    gw_fleet_status(fleet, rp_doc_root(doc), 1000);
    rp_doc_destroy(&doc);
    gw_fleet_saw(fleet, "customers.writer", "a", 1, 48, 1100);
    gw_fleet_saw(fleet, "customers", "b\"x", 3, 50, 1200);
    gw_fleet_head(fleet, 40); //  the head never goes back
    rp_packer_t gauges;
    rp_packer_init(&gauges);
    msgpack_pack_map(&gauges.pk, 3);
    rp_pack_kv_u64(&gauges.pk, "unmatched_events", 7);
    rp_pack_kv_u64(&gauges.pk, "Bad-Name", 1);
    rp_pack_kv_cstr(&gauges.pk, "text", "no");
    rp_doc_t *gdoc = rp_doc_new(gauges.buffer.data, gauges.buffer.size, NULL);
    gw_fleet_gauges(fleet, "customers", "a", 1, rp_doc_root(gdoc), 1100);
    rp_doc_destroy(&gdoc);
    rp_packer_destroy(&gauges);
    gw_fleet_each_service(fleet, s_test_each, NULL);
    assert(s_test_count == 1); //  customers.writer is not probed apart
    text = s_test_render(fleet, 2100);
    assert(strstr(text, "rapport_broker_up 1\n") && strstr(text, "rapport_journal_head 50\n"));
    assert(strstr(text, "rapport_service_writer{service=\"customers\"} 1\n"));
    assert(strstr(text, "rapport_service_cursor{service=\"customers\",instance=\"a\"} 48\n"));
    assert(strstr(text, "rapport_customers_unmatched_events{instance=\"a\"} 7\n"));
    assert(!strstr(text, "Bad-Name") && !strstr(text, "_text"));
    assert(strstr(text, "rapport_journal_lag{service=\"customers\",instance=\"a\"} 2\n"));
    assert(strstr(text, "rapport_journal_lag{service=\"customers\",instance=\"b\\\"x\"} 0\n"));
    assert(
        strstr(text, "rapport_service_seen_seconds{service=\"customers\",instance=\"a\"} 1.000\n"));
    free(text);
    assert(!gw_fleet_writer_vacant(fleet, "customers.writer", 2000));

    //  The lease goes vacant and b leaves: b is forgotten; writes fail fast
    //  once two polls saw the vacancy, while the status is fresh.
    doc = s_test_status(false, false);
    gw_fleet_status(fleet, rp_doc_root(doc), 2000);
    assert(!gw_fleet_writer_vacant(fleet, "customers.writer", 2000));
    gw_fleet_status(fleet, rp_doc_root(doc), 3000);
    rp_doc_destroy(&doc);
    assert(gw_fleet_writer_vacant(fleet, "customers.writer", 3000));
    assert(gw_fleet_writer_vacant(fleet, "customers", 3000));
    assert(!gw_fleet_writer_vacant(fleet, "users", 3000));
    assert(!gw_fleet_writer_vacant(fleet, "customers", 3000 + GW_FLEET_FRESH_MS + 1));
    text = s_test_render(fleet, 3000);
    assert(strstr(text, "rapport_service_writer{service=\"customers\"} 0\n"));
    assert(strstr(text, "instance=\"a\"} 48\n") && !strstr(text, "b\\\"x"));
    free(text);
    //  The broker stops answering: nothing is known to be vacant any more.
    gw_fleet_status(fleet, NULL, 3100);
    assert(!gw_fleet_writer_vacant(fleet, "customers", 3100));
    //  A new journal: its head starts again from 0.
    gw_fleet_restart(fleet);
    text = s_test_render(fleet, 3100);
    assert(strstr(text, "rapport_journal_head 0\n"));
    free(text);
    gw_fleet_destroy(&fleet);
    assert(fleet == NULL);
}
