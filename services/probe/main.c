/*  rapport-probe — is a Rapport program ready? For container health checks.

        rapport-probe broker    broker.status answers 200 on broker/endpoint
        rapport-probe gateway   GET /ready answers 200 on 127.0.0.1:<http/port>
        rapport-probe service   this container's service instance has caught
                                up with the journal and registered its workers:
                                its ready file (health/ready_file) is fresh
        rapport-probe status    print broker.status as one line of JSON (for
                                operators and tests: workers per service,
                                leases, journal head); exit 0 if it answered

    Settings as for every program (config/probe.cfg, RAPPORT_*), so in a
    container the probe reads the same environment as the program it checks:
    RAPPORT_BROKER_ENDPOINT, RAPPORT_HTTP_PORT, RAPPORT_HEALTH_READY_FILE.
    probe/timeout_ms (default 3000) bounds a broker or gateway check,
    probe/max_age_ms (default 10000) is how old a ready file may be.

    Exit 0 when ready, 1 otherwise (Docker's healthy and unhealthy; a usage
    error is 1 too, since Docker reserves 2), with one line on stdout saying
    why, which Docker keeps in the container's health log. The programs
    themselves stay free of health-check code: a service instance is asked
    through its file (see rapport/ready.h) because a request through the
    broker may reach any instance.
*/
#include <czmq.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <event2/event.h>
#include <event2/http.h>
#include <rapport/client.h>
#include <rapport/config.h>
#include <rapport/ready.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define PROBE_BODY_SHOWN 200 //  bytes of a /ready answer echoed on failure

//  broker.status through the request router: the broker routes, and its
//  journal thread answers the head. Returns the reply (status 200) or NULL.
static rp_doc_t *s_broker_status(rp_config_t *config, int timeout_ms, rp_reply_t *reply)
{
    const char *endpoint = rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT);
    zsys_init();
    zsys_set_linger(0);
    rp_client_t *client = rp_client_new(endpoint);
    if (!client)
        return NULL;
    uint64_t id = rp_client_next_id(client);
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, id, "status", 0, NULL, 1);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 0);
    rp_doc_t *doc = rp_client_call(client, "broker.status", id, packer.buffer.data,
                                   packer.buffer.size, timeout_ms, reply);
    rp_packer_destroy(&packer);
    rp_client_destroy(&client);
    if (doc && (reply->status != 200 || !rp_obj_is_map(reply->data)))
        rp_doc_destroy(&doc);
    return doc;
}

static int s_probe_broker(rp_config_t *config, int timeout_ms)
{
    rp_reply_t reply;
    rp_doc_t *doc = s_broker_status(config, timeout_ms, &reply);
    const msgpack_object *journal = doc ? rp_obj_get(reply.data, "journal") : NULL;
    uint64_t head = 0;
    int rc = 1;
    if (journal && rp_obj_u64(rp_obj_get(journal, "head"), &head)) {
        printf("broker: ready, journal head %" PRIu64 "\n", head);
        rc = 0;
    } else
        printf("broker: not ready (no broker.status answer)\n");
    rp_doc_destroy(&doc);
    return rc;
}

//  broker.status holds maps with string keys, integers and booleans only;
//  anything else prints as null rather than as something it is not.
static json_t *s_json(const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        return json_boolean(o->via.boolean);
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return json_integer((json_int_t)o->via.u64);
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return json_integer((json_int_t)o->via.i64);
    case MSGPACK_OBJECT_STR:
        return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
    case MSGPACK_OBJECT_ARRAY: {
        json_t *array = json_array();
        for (uint32_t i = 0; i < o->via.array.size; i++)
            json_array_append_new(array, s_json(&o->via.array.ptr[i]));
        return array;
    }
    case MSGPACK_OBJECT_MAP: {
        json_t *map = json_object();
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type == MSGPACK_OBJECT_STR)
                json_object_setn_new_nocheck(map, kv->key.via.str.ptr, kv->key.via.str.size,
                                             s_json(&kv->val));
        }
        return map;
    }
    default:
        return json_null();
    }
}

static int s_print_status(rp_config_t *config, int timeout_ms)
{
    rp_reply_t reply;
    rp_doc_t *doc = s_broker_status(config, timeout_ms, &reply);
    if (!doc) {
        printf("{}\n");
        return 1;
    }
    json_t *json = s_json(reply.data);
    char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(json);
    rp_doc_destroy(&doc);
    return 0;
}

typedef struct {
    int status; //  0 until an answer came
    char body[PROBE_BODY_SHOWN + 1];
} http_answer_t;

static void s_http_done(struct evhttp_request *req, void *arg)
{
    http_answer_t *answer = (http_answer_t *)arg;
    if (!req)
        return;
    answer->status = evhttp_request_get_response_code(req);
    struct evbuffer *input = evhttp_request_get_input_buffer(req);
    ev_ssize_t got = evbuffer_copyout(input, answer->body, PROBE_BODY_SHOWN);
    answer->body[got > 0 ? got : 0] = 0;
    for (char *c = answer->body; *c; c++)
        if (*c == '\n' || *c == '\r')
            *c = ' ';
}

//  GET /ready on loopback: the gateway answers 200 when the broker is
//  reachable and every service it knows has a writer.
static int s_probe_gateway(rp_config_t *config, int timeout_ms)
{
    int64_t port = rp_config_int(config, "http/port", 8080); //  read as the gateway reads it
    if (port <= 0 || port > 65535) {
        printf("gateway: bad http/port\n");
        return 1;
    }
    http_answer_t answer = {0};
    struct event_base *base = event_base_new();
    struct evhttp_connection *conn =
        base ? evhttp_connection_base_new(base, NULL, "127.0.0.1", (ev_uint16_t)port) : NULL;
    struct evhttp_request *req = conn ? evhttp_request_new(s_http_done, &answer) : NULL;
    if (req) {
        struct timeval timeout = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        evhttp_connection_set_timeout_tv(conn, &timeout);
        evhttp_connection_set_retries(conn, 0);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
        if (evhttp_make_request(conn, req, EVHTTP_REQ_GET, "/ready") == 0)
            event_base_dispatch(base);
    }
    if (conn)
        evhttp_connection_free(conn);
    if (base)
        event_base_free(base);
    if (answer.status == 200) {
        printf("gateway: ready\n");
        return 0;
    }
    printf("gateway: not ready (status %d on port %d) %s\n", answer.status, (int)port, answer.body);
    return 1;
}

static int s_probe_service(rp_config_t *config, int max_age_ms)
{
    const char *path = rp_config_get(config, "health/ready_file", NULL);
    const char *why = NULL;
    int rc = rp_ready_check(path, max_age_ms, &why);
    printf("service: %s\n", why);
    return rc == 0 ? 0 : 1;
}

static int s_setting(rp_config_t *config, const char *path, int fallback)
{
    int64_t value = rp_config_int(config, path, fallback);
    return value > 0 && value <= 600000 ? (int)value : fallback;
}

int main(int argc, char **argv)
{
    const char *what = argc == 2 ? argv[1] : "";
    if (strcmp(what, "broker") && strcmp(what, "gateway") && strcmp(what, "service") &&
        strcmp(what, "status")) {
        printf("usage: rapport-probe broker|gateway|service|status   (exit 0: ready)\n");
        return 1;
    }
    rp_config_t *config = rp_config_new("probe");
    int timeout_ms = s_setting(config, "probe/timeout_ms", 3000);
    int rc = 1;
    if (streq(what, "broker"))
        rc = s_probe_broker(config, timeout_ms);
    else if (streq(what, "status"))
        rc = s_print_status(config, timeout_ms);
    else if (streq(what, "gateway"))
        rc = s_probe_gateway(config, timeout_ms);
    else
        rc = s_probe_service(config, s_setting(config, "probe/max_age_ms", 10000));
    rp_config_destroy(&config);
    return rc;
}
