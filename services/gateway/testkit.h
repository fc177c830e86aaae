/*  testkit.h — FOR SELF-TESTS: the gateway's forwarding path in one
    process, so route.c and forward.c test themselves through real
    interfaces (HTTP in, MDP out, MDP back, HTTP out).

      - rp_testbroker (libshared) routes requests to
      - an echo worker (a thread) for "t" and "t.writer", which answers
        every request with data {id: "r1", version: 3, op, idem, args,
        min_seq}, or, by op:
            t.fail      422 invalid, details.errors [{field: "f", …}]
            t.conflict  409 duplicate, details {fields: ["tax_id"], ids: ["c1"]}
            t.in_use    409 stage_in_use, details {stage: "demo", open: 2,
                        code: "not_this"}
            t.lost      503 worker_lost the first time it is asked, then as above
            t.status    a status of 700
            t.user      {user: {id: "u1", version: 2}, key: "rpk_x"}
            t.none      {nothing: 1} (no record)
        and with seq 7 for a write;
      - an evhttp server on a loopback port calls the test's handler for
        each request (with an exchange), and gw_testkit_request sends one
        request with http.client-like ease and runs the loop until the
        answer is read.
*/
#ifndef GW_TESTKIT_H
#define GW_TESTKIT_H

#include "exchange.h"
#include "metrics.h"
#include "seqs.h"
#include "upstream.h"

#include <event2/event.h>
#include <jansson.h>
#include <rapport/testbroker.h>

typedef struct _gw_testkit_t gw_testkit_t;

typedef void(gw_testkit_fn)(void *arg, gw_exchange_t **ex_p);

gw_testkit_t *gw_testkit_new(gw_testkit_fn *handler, void *arg);
void gw_testkit_destroy(gw_testkit_t **self_p);

struct event_base *gw_testkit_base(gw_testkit_t *self);
gw_upstream_t *gw_testkit_upstream(gw_testkit_t *self);
gw_seqs_t *gw_testkit_seqs(gw_testkit_t *self);
//  The broker, whose in-memory journal a test appends to.
rp_testbroker_t *gw_testkit_broker(gw_testkit_t *self);

//  An answer as a client read it.
typedef struct {
    int status;
    char headers[2048]; //  "name: value\n" each, as sent
    char *body;         //  NUL-terminated (heap; gw_testkit_answer_free)
    size_t size;
    json_t *json; //  the body parsed, or NULL
} gw_testkit_answer_t;

//  Send method path with headers ("Name: value\n…", or NULL) and body (or
//  NULL); fill answer. Every request carries Content-Type: application/json
//  unless headers name another.
void gw_testkit_request(gw_testkit_t *self, const char *method, const char *path,
                        const char *headers, const char *body, gw_testkit_answer_t *answer);
//  A response header's value, or NULL.
const char *gw_testkit_header(const gw_testkit_answer_t *answer, const char *name, char *value,
                              size_t size);
void gw_testkit_answer_free(gw_testkit_answer_t *answer);

#endif
