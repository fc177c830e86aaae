/*  testservice.h — a service run in-process against an rp_testbroker, for
    the self-tests of a service's ops (request → reply through the real
    runtime: op table, workers, feed, apply, writes and their outcomes).

    rp_testservice_new runs the def's init (config from the environment
    only: the broker's endpoints and a fresh data directory), starts the
    service in a thread, waits until both workers are READY and grants the
    writer lease (epoch 1). rp_testservice_call sends one request to
    "<name>" or "<name>.writer" and returns its reply; destroy stops the
    service, runs fini and removes the data directory.
*/
#ifndef RAPPORT_TESTSERVICE_H
#define RAPPORT_TESTSERVICE_H

#include <rapport/envelope.h>
#include <rapport/pack.h>
#include <rapport/service.h>
#include <rapport/testbroker.h>

typedef struct _rp_testservice_t rp_testservice_t;

//  def must have a writer; its init, if any, must succeed.
rp_testservice_t *rp_testservice_new(const rp_service_def_t *def);
void rp_testservice_destroy(rp_testservice_t **self_p);

//  The parts, for a self-test that drives the broker itself (the
//  runtime's own): point RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT
//  and RAPPORT_DATA_DIR at broker and dir; and, in a zactor, serve def
//  (config from the environment) until the pipe says stop, asserting a
//  clean run.
void rp_testservice_env(rp_testbroker_t *broker, const char *dir);
void rp_testservice_serve(zsock_t *pipe, const rp_service_def_t *def);

//  The actor a call carries: {user, role, team}; user NULL sends none.
typedef struct {
    const char *user, *role, *team;
} rp_testservice_actor_t;

//  Send {id, op, actor?, idem?, args?} to the writer (writer true) or to
//  any instance; args is one packed map (NULL: none). Returns the reply's
//  doc (the caller destroys it; reply points into it), asserting that one
//  came within 5 s.
rp_doc_t *rp_testservice_call(rp_testservice_t *self, bool writer, const char *op,
                              const rp_testservice_actor_t *actor, const char *idem,
                              const rp_packer_t *args, rp_reply_t *reply);

//  Pack a map of NULL-terminated key/value pairs into args (reset
//  first): a value "~" packs nil, "#<digits>" an unsigned integer, any
//  other a string.
void rp_testservice_args(rp_packer_t *args, const char *const *kv);

//  rp_testservice_call with args packed from NULL-terminated key/value
//  pairs (rp_testservice_args) and no idempotency key.
rp_doc_t *rp_testservice_call_kv(rp_testservice_t *self, bool writer, const char *op,
                                 const rp_testservice_actor_t *actor, const char *const *kv,
                                 rp_reply_t *reply);

//  True if reply is an error with this status and code.
bool rp_testservice_error_is(const rp_reply_t *reply, int status, const char *code);

void rp_testservice_test(void);

#endif
