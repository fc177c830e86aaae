/*  customers.c — see customers.h. */
#include "customers.h"
#include "etag.h"
#include "json.h"
#include "listquery.h"
#include "problem.h"
#include "request.h"

#include <czmq.h>
#include <inttypes.h>
#include <strings.h>

#define CUSTOMERS_PATH "/api/v1/customers/"

struct _gw_customers_t {
    gw_forwarder_t *forwarder;
    gw_seqs_t *seqs;
    gw_cache_t *cache; //  or NULL
    size_t body_max;
};

gw_customers_t *gw_customers_new(gw_forwarder_t *forwarder, gw_seqs_t *seqs, gw_cache_t *cache,
                                 size_t body_max)
{
    gw_customers_t *self = (gw_customers_t *)zmalloc(sizeof *self);
    self->forwarder = forwarder;
    self->seqs = seqs;
    self->cache = cache;
    self->body_max = body_max;
    return self;
}

void gw_customers_destroy(gw_customers_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  Answers

//  A record answered as is, with its ETag.
static void s_record_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)arg;
    gw_etag_add(*ex_p, record);
    gw_exchange_send_json(ex_p, status, record);
}

//  A created record: 201 with where it lives.
static void s_created_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)arg;
    (void)status;
    const char *id = json_string_value(json_object_get(record, "id"));
    char *encoded = id ? evhttp_uriencode(id, -1, 0) : NULL;
    if (encoded) {
        char *location = zsys_sprintf(CUSTOMERS_PATH "%s", encoded);
        gw_exchange_add_header(*ex_p, "Location", location);
        zstr_free(&location);
    }
    free(encoded);
    gw_etag_add(*ex_p, record);
    gw_exchange_send_json(ex_p, 201, record);
}

//  Forward args (a JSON object, taken over) to op.
static void s_forward(gw_customers_t *self, gw_exchange_t **ex_p, bool write, const char *op,
                      const char *idem, json_t *args, gw_forward_fn *on_success)
{
    gw_forward_json(self->forwarder, ex_p, write ? "customers.writer" : "customers", op, idem, args,
                    on_success, self);
}

//  ---------------------------------------------------------------------
//  Reads

void gw_customers_list(gw_customers_t *self, gw_exchange_t **ex_p)
{
    json_t *query = gw_list_query(ex_p, true); //  filters, sort, paging: listquery.h
    if (query)
        s_forward(self, ex_p, false, "customers.list", NULL, query, NULL);
}

//  The cache's name for the caller's scope: what customers.get's answer
//  depends on besides the store (user, role, team).
static void s_caller(gw_exchange_t *ex, char *caller, size_t size)
{
    const gw_actor_t *actor = gw_exchange_actor(ex);
    snprintf(caller, size, "%s\x1f%s\x1f%s", actor->user, actor->role, actor->team);
}

//  A record read: answered as s_record_answer does, and kept in the cache.
static void s_get_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    gw_customers_t *self = (gw_customers_t *)arg;
    const char *id = json_string_value(json_object_get(record, "id"));
    char etag[GW_ETAG_MAX], caller[400];
    size_t size = 0;
    char *text = NULL;
    if (status != 200 || !id || !gw_etag_format(record, etag) ||
        !(text = gw_json_dump(record, &size))) {
        s_record_answer(self, ex_p, status, record); //  not a shape we keep
        return;
    }
    s_caller(*ex_p, caller, sizeof caller);
    gw_cache_keep(self->cache, id, caller, gw_exchange_cursor(*ex_p), etag, text, size);
    json_decref(record);
    gw_exchange_add_header(*ex_p, "ETag", etag);
    gw_exchange_send(ex_p, status, "application/json", text, size);
    free(text);
}

void gw_customers_get(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    if (self->cache) {
        char caller[400];
        s_caller(*ex_p, caller, sizeof caller);
        uint64_t min_seq = gw_seqs_get(self->seqs, gw_exchange_actor(*ex_p)->user);
        const gw_cache_answer_t *kept = gw_cache_find(self->cache, id, caller, min_seq);
        if (kept) {
            gw_exchange_add_header(*ex_p, "ETag", kept->etag);
            gw_exchange_send(ex_p, 200, "application/json", kept->body, kept->size);
            return;
        }
    }
    s_forward(self, ex_p, false, "customers.get", NULL, json_pack("{s:s}", "id", id),
              self->cache ? s_get_answer : s_record_answer);
}

//  ---------------------------------------------------------------------
//  Writes

void gw_customers_create(gw_customers_t *self, gw_exchange_t **ex_p)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    //  Only the header may allow a duplicate: a body field is not a way around it.
    const char *allow = gw_exchange_header(*ex_p, "X-Rapport-Allow-Duplicate");
    json_object_del(body, "allow_duplicate");
    if (allow && strcasecmp(allow, "true") && strcasecmp(allow, "false")) {
        json_decref(body);
        gw_problem_send(ex_p, 400, "bad_header", "X-Rapport-Allow-Duplicate must be true or false");
        return;
    }
    if (allow && strcasecmp(allow, "true") == 0)
        json_object_set_new(body, "allow_duplicate", json_true());
    s_forward(self, ex_p, true, "customers.create", idem, body, s_created_answer);
}

void gw_customers_update(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    uint64_t version = 0;
    gw_if_match_t if_match = gw_if_match(ex_p, &version);
    if (if_match == GW_IF_MATCH_BAD)
        return;
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (!body)
        return;
    if (!gw_request_idem(ex_p, idem, sizeof idem)) {
        json_decref(body);
        return;
    }
    //  The path names the record and If-Match the version; the body does neither.
    json_object_set_new(body, "id", json_string(id));
    json_object_del(body, "version");
    if (if_match == GW_IF_MATCH_VERSION)
        json_object_set_new(body, "version", json_integer((json_int_t)version));
    s_forward(self, ex_p, true, "customers.update", idem, body, s_record_answer);
}

//  archive or restore, with If-Match passed on as args.version: the
//  service checks it in the same step as the change (412 version_mismatch),
//  so no concurrent change can slip in between a read and the write.
static void s_archive_or_restore(gw_customers_t *self, gw_exchange_t **ex_p, const char *id,
                                 const char *op)
{
    uint64_t version = 0;
    gw_if_match_t if_match = gw_if_match(ex_p, &version);
    if (if_match == GW_IF_MATCH_BAD)
        return;
    char idem[GW_IDEM_MAX + 160];
    if (!gw_request_idem(ex_p, idem, sizeof idem))
        return;
    json_t *args = if_match == GW_IF_MATCH_VERSION
                       ? json_pack("{s:s, s:I}", "id", id, "version", (json_int_t)version)
                       : json_pack("{s:s}", "id", id);
    s_forward(self, ex_p, true, op, idem, args, s_record_answer);
}

void gw_customers_archive(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_archive_or_restore(self, ex_p, id, "customers.archive");
}

void gw_customers_restore(gw_customers_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_archive_or_restore(self, ex_p, id, "customers.restore");
}

//  ---------------------------------------------------------------------

void gw_customers_test(void)
{
    gw_etag_test(); //  If-Match parsing, which these routes rely on, lives in etag.c
}
