/*  relations.c — see relations.h. */
#include "relations.h"
#include "etag.h"
#include "json.h"
#include "problem.h"
#include "request.h"

#include <czmq.h>
#include <event2/http.h>

#define RELATIONS_ID_MAX 256 //  a decoded contact id (the service checks ≤ 64)
#define RELATIONS_PATH   "/api/v1/customers/"

struct _gw_relations_t {
    gw_forwarder_t *forwarder;
    size_t body_max;
};

gw_relations_t *gw_relations_new(gw_forwarder_t *forwarder, size_t body_max)
{
    gw_relations_t *self = (gw_relations_t *)zmalloc(sizeof *self);
    self->forwarder = forwarder;
    self->body_max = body_max;
    return self;
}

void gw_relations_destroy(gw_relations_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

char *gw_relations_last_segment(const char *path, size_t max)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || !slash[1] || strlen(slash + 1) > max * 3)
        return NULL;
    size_t len = 0;
    char *segment = evhttp_uridecode(slash + 1, 0, &len);
    if (segment &&
        (len == 0 || len > max || memchr(segment, 0, len) || !rp_utf8_valid(segment, len))) {
        free(segment);
        segment = NULL;
    }
    return segment;
}

//  ---------------------------------------------------------------------
//  Answers

static void s_record_answer(void *arg, gw_exchange_t **ex_p, int status, json_t *record)
{
    (void)arg;
    gw_etag_add(*ex_p, record);
    gw_exchange_send_json(ex_p, status, record);
}

//  A new contact: 201 with where it lives.
static void s_contact_created(void *arg, gw_exchange_t **ex_p, int status, json_t *contact)
{
    (void)arg;
    (void)status;
    const char *id = json_string_value(json_object_get(contact, "id"));
    const char *customer = json_string_value(json_object_get(contact, "customer_id"));
    char *encoded_id = id ? evhttp_uriencode(id, -1, 0) : NULL;
    char *encoded_customer = customer ? evhttp_uriencode(customer, -1, 0) : NULL;
    if (encoded_id && encoded_customer) {
        char *location =
            zsys_sprintf(RELATIONS_PATH "%s/contacts/%s", encoded_customer, encoded_id);
        gw_exchange_add_header(*ex_p, "Location", location);
        zstr_free(&location);
    }
    free(encoded_id);
    free(encoded_customer);
    gw_etag_add(*ex_p, contact);
    gw_exchange_send_json(ex_p, 201, contact);
}

static void s_activity_created(void *arg, gw_exchange_t **ex_p, int status, json_t *activity)
{
    (void)arg;
    (void)status;
    gw_exchange_send_json(ex_p, 201, activity);
}

//  Forward args (a JSON object, taken over) to op on customers(.writer).
static void s_forward(gw_relations_t *self, gw_exchange_t **ex_p, bool write, const char *op,
                      const char *idem, json_t *args, gw_forward_fn *on_success)
{
    gw_forward_json(self->forwarder, ex_p, write ? "customers.writer" : "customers", op, idem, args,
                    on_success, self);
}

//  ---------------------------------------------------------------------
//  Reads

static const char *const s_page_params[] = {"limit", "cursor", NULL};

//  A page of a customer's entries: limit as an integer (else 422).
static void s_page(gw_relations_t *self, gw_exchange_t **ex_p, const char *id, const char *op)
{
    json_t *query = gw_request_query(ex_p, s_page_params);
    if (!query)
        return;
    if (!gw_request_limit(ex_p, query))
        return;
    json_object_set_new(query, "id", json_string(id));
    s_forward(self, ex_p, false, op, NULL, query, NULL);
}

void gw_relations_contacts_list(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_page(self, ex_p, id, "customers.contacts.list");
}

void gw_relations_activities_list(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_page(self, ex_p, id, "customers.activities.list");
}

void gw_relations_timeline(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    s_page(self, ex_p, id, "customers.timeline");
}

//  The contact id of the request's path, or answer 404 and return NULL.
static char *s_contact_id(gw_exchange_t **ex_p)
{
    struct evhttp_request *req = gw_exchange_req(*ex_p);
    char *contact_id = gw_relations_last_segment(
        evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)), RELATIONS_ID_MAX);
    if (!contact_id)
        gw_problem_send(ex_p, 404, "not_found", "the path parameter is malformed");
    return contact_id;
}

void gw_relations_contact_get(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char *contact_id = s_contact_id(ex_p);
    if (contact_id)
        s_forward(self, ex_p, false, "customers.contacts.get", NULL,
                  json_pack("{s:s, s:s}", "id", id, "contact_id", contact_id), s_record_answer);
    free(contact_id);
}

//  ---------------------------------------------------------------------
//  Writes

//  The body and the idem key of a write; NULL when answered already.
static json_t *s_write_body(gw_relations_t *self, gw_exchange_t **ex_p, char *idem, size_t size)
{
    json_t *body = gw_request_body(ex_p, self->body_max);
    if (body && !gw_request_idem(ex_p, idem, size)) {
        json_decref(body);
        body = NULL;
    }
    return body;
}

//  If-Match into args.version (the body's own version is dropped): false
//  when the header was malformed (answered).
static bool s_if_match_into(gw_exchange_t **ex_p, json_t *args)
{
    uint64_t version = 0;
    json_object_del(args, "version");
    gw_if_match_t if_match = gw_if_match(ex_p, &version);
    if (if_match == GW_IF_MATCH_VERSION)
        json_object_set_new(args, "version", json_integer((json_int_t)version));
    return if_match != GW_IF_MATCH_BAD;
}

void gw_relations_contacts_create(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_write_body(self, ex_p, idem, sizeof idem);
    if (!body)
        return;
    json_object_set_new(body, "id", json_string(id)); //  the path names the customer
    s_forward(self, ex_p, true, "customers.contacts.create", idem, body, s_contact_created);
}

void gw_relations_contact_update(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    char *contact_id = s_contact_id(ex_p);
    json_t *body = contact_id ? s_write_body(self, ex_p, idem, sizeof idem) : NULL;
    if (body && s_if_match_into(ex_p, body)) {
        json_object_set_new(body, "id", json_string(id));
        json_object_set_new(body, "contact_id", json_string(contact_id));
        s_forward(self, ex_p, true, "customers.contacts.update", idem, body, s_record_answer);
    } else {
        json_decref(body);
    }
    free(contact_id);
}

void gw_relations_contact_delete(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    char *contact_id = s_contact_id(ex_p);
    if (contact_id && gw_request_idem(ex_p, idem, sizeof idem)) {
        json_t *args = json_pack("{s:s, s:s}", "id", id, "contact_id", contact_id);
        if (!args || s_if_match_into(ex_p, args)) //  s_forward answers a NULL too
            s_forward(self, ex_p, true, "customers.contacts.delete", idem, args, NULL);
        else
            json_decref(args);
    }
    free(contact_id);
}

void gw_relations_activities_create(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_write_body(self, ex_p, idem, sizeof idem);
    if (!body)
        return;
    json_object_set_new(body, "id", json_string(id));
    s_forward(self, ex_p, true, "customers.activities.create", idem, body, s_activity_created);
}

void gw_relations_assign(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_write_body(self, ex_p, idem, sizeof idem);
    if (body && s_if_match_into(ex_p, body)) {
        json_object_set_new(body, "id", json_string(id));
        s_forward(self, ex_p, true, "customers.assign", idem, body, s_record_answer);
    } else {
        json_decref(body);
    }
}

void gw_relations_merge(gw_relations_t *self, gw_exchange_t **ex_p, const char *id)
{
    char idem[GW_IDEM_MAX + 160];
    json_t *body = s_write_body(self, ex_p, idem, sizeof idem);
    if (!body)
        return;
    json_object_set_new(body, "id", json_string(id));
    s_forward(self, ex_p, true, "customers.merge", idem, body, s_record_answer);
}

//  ---------------------------------------------------------------------

void gw_relations_test(void)
{
    char *segment = gw_relations_last_segment("/api/v1/customers/c1/contacts/k%20%E5%BC%A0", 256);
    assert(segment && streq(segment, "k 张"));
    free(segment);
    assert(!gw_relations_last_segment("/api/v1/customers/c1/contacts/", 256));
    assert(!gw_relations_last_segment("/api/v1/customers/c1/contacts/a%00b", 256));
    assert(!gw_relations_last_segment("/api/v1/customers/c1/contacts/%FF", 256));
    assert(!gw_relations_last_segment("/x/abcdef", 5));
    assert(!gw_relations_last_segment(NULL, 5));
}
