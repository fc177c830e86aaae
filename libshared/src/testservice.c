/*  testservice.c — see testservice.h. */
#include <rapport/client.h>
#include <rapport/testbroker.h>
#include <rapport/testservice.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _rp_testservice_t {
    rp_service_def_t def; //  with init's arg
    rp_testbroker_t *broker;
    rp_client_t *client;
    zactor_t *actor;
    char dir[64];
    char writer[128];
};

void rp_testservice_env(rp_testbroker_t *broker, const char *dir)
{
    setenv("RAPPORT_BROKER_ENDPOINT", rp_testbroker_endpoint(broker), 1);
    setenv("RAPPORT_FEED_ENDPOINT", rp_testbroker_feed(broker), 1);
    setenv("RAPPORT_DATA_DIR", dir, 1);
}

void rp_testservice_serve(zsock_t *pipe, const rp_service_def_t *def)
{
    rp_config_t *config = rp_config_new(def->name);
    rp_service_t *service = rp_service_new(def, config);
    assert(service);
    rp_service_set_pipe(service, pipe);
    zsock_signal(pipe, 0);
    int rc = rp_service_run(service);
    assert(rc == 0);
    rp_service_destroy(&service);
    rp_config_destroy(&config);
}

static void s_actor(zsock_t *pipe, void *arg)
{
    rp_testservice_serve(pipe, &((rp_testservice_t *)arg)->def);
}

rp_testservice_t *rp_testservice_new(const rp_service_def_t *def)
{
    assert(def->writer);
    rp_testservice_t *self = calloc(1, sizeof *self);
    assert(self);
    self->def = *def;
    snprintf(self->dir, sizeof self->dir, "/tmp/rp-test-%s-XXXXXX", def->name);
    assert(mkdtemp(self->dir));
    snprintf(self->writer, sizeof self->writer, "%s.writer", def->name);
    self->broker = rp_testbroker_new();
    rp_testservice_env(self->broker, self->dir);
    if (def->init) {
        rp_config_t *config = rp_config_new(def->name);
        int rc = def->init(config, &self->def.arg);
        assert(rc == 0);
        rp_config_destroy(&config);
    }
    self->actor = zactor_new(s_actor, self);
    assert(rp_testbroker_wait_worker(self->broker, def->name, 5000));
    assert(rp_testbroker_wait_worker(self->broker, self->writer, 5000));
    assert(rp_testbroker_grant(self->broker, def->name, 1) == 0);
    self->client = rp_client_new(rp_testbroker_endpoint(self->broker));
    return self;
}

void rp_testservice_destroy(rp_testservice_t **self_p)
{
    rp_testservice_t *self = *self_p;
    if (!self)
        return;
    rp_client_destroy(&self->client);
    zactor_destroy(&self->actor);
    if (self->def.fini)
        self->def.fini(self->def.arg);
    rp_testbroker_destroy(&self->broker);
    zdir_t *tree = zdir_new(self->dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
    free(self);
    *self_p = NULL;
}

rp_doc_t *rp_testservice_call(rp_testservice_t *self, bool writer, const char *op,
                              const rp_testservice_actor_t *actor, const char *idem,
                              const rp_packer_t *args, rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(self->client);
    bool with_actor = actor && actor->user;
    rp_request_pack(&packer.pk, id, op, 0, idem, (size_t)with_actor + (args != NULL));
    if (with_actor) {
        rp_pack_cstr(&packer.pk, "actor");
        msgpack_pack_map(&packer.pk, 1 + (actor->role != NULL) + (actor->team != NULL));
        rp_pack_kv_cstr(&packer.pk, "user", actor->user);
        if (actor->role)
            rp_pack_kv_cstr(&packer.pk, "role", actor->role);
        if (actor->team)
            rp_pack_kv_cstr(&packer.pk, "team", actor->team);
    }
    if (args) {
        rp_pack_cstr(&packer.pk, "args");
        msgpack_sbuffer_write(&packer.buffer, args->buffer.data, args->buffer.size);
    }
    rp_doc_t *doc = rp_client_call(self->client, writer ? self->writer : self->def.name, id,
                                   packer.buffer.data, packer.buffer.size, 5000, reply);
    rp_packer_destroy(&packer);
    assert(doc);
    return doc;
}

void rp_testservice_args(rp_packer_t *args, const char *const *kv)
{
    rp_packer_reset(args);
    size_t pairs = 0;
    while (kv[pairs * 2])
        pairs++;
    msgpack_pack_map(&args->pk, pairs);
    for (size_t i = 0; i < pairs; i++) {
        const char *value = kv[i * 2 + 1];
        rp_pack_cstr(&args->pk, kv[i * 2]);
        if (strcmp(value, "~") == 0)
            msgpack_pack_nil(&args->pk);
        else if (value[0] == '#')
            msgpack_pack_uint64(&args->pk, strtoull(value + 1, NULL, 10));
        else
            rp_pack_cstr(&args->pk, value);
    }
}

rp_doc_t *rp_testservice_call_kv(rp_testservice_t *self, bool writer, const char *op,
                                 const rp_testservice_actor_t *actor, const char *const *kv,
                                 rp_reply_t *reply)
{
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, kv);
    rp_doc_t *doc = rp_testservice_call(self, writer, op, actor, NULL, &args, reply);
    rp_packer_destroy(&args);
    return doc;
}

bool rp_testservice_error_is(const rp_reply_t *reply, int status, const char *code)
{
    return reply->status == status && reply->error_code && reply->error_code_len == strlen(code) &&
           memcmp(reply->error_code, code, reply->error_code_len) == 0;
}

//  ---------------------------------------------------------------------
//  Self-test: an "echo" service whose write appends nothing (so no
//  journal round trip) and whose read echoes args.

static int s_test_apply(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                        const rp_event_t *event)
{
    (void)arg, (void)store, (void)txn, (void)seq, (void)event;
    return 0;
}

static void s_test_echo(void *arg, rp_service_t *service, rp_origin_t *origin,
                        const rp_request_t *req)
{
    assert(arg && *(int *)arg == 42); //  init's
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(origin), 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    if (req->args)
        msgpack_pack_object(&packer.pk, *req->args);
    else
        msgpack_pack_nil(&packer.pk);
    rp_service_reply(service, &origin, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

static int s_test_state = 0;

static int s_test_init(rp_config_t *config, void **arg)
{
    (void)config;
    s_test_state = 42;
    *arg = &s_test_state;
    return 0;
}

static void s_test_fini(void *arg)
{
    *(int *)arg = 0;
}

void rp_testservice_test(void)
{
    static const rp_service_op_t ops[] = {
        {"echo.get", RP_OP_READ, s_test_echo},
        {"echo.set", RP_OP_WRITE, s_test_echo},
        {NULL},
    };
    static const char *const dbnames[] = {"nothing", NULL};
    rp_service_def_t def = {.name = "echo",
                            .writer = true,
                            .dbnames = dbnames,
                            .apply = s_test_apply,
                            .ops = ops,
                            .init = s_test_init,
                            .fini = s_test_fini};
    rp_testservice_t *service = rp_testservice_new(&def);
    rp_packer_t args;
    rp_packer_init(&args);
    rp_testservice_args(&args, (const char *[]){"k", "値", "n", "#7", "z", "~", NULL});
    rp_testservice_actor_t ann = {"ann", "sales", "east"};
    rp_reply_t reply;
    rp_doc_t *doc = rp_testservice_call(service, false, "echo.get", &ann, NULL, &args, &reply);
    assert(reply.status == 200 && rp_obj_streq(rp_obj_get(reply.data, "k"), "値"));
    uint64_t n = 0;
    assert(rp_obj_u64(rp_obj_get(reply.data, "n"), &n) && n == 7);
    assert(rp_obj_get(reply.data, "z")->type == MSGPACK_OBJECT_NIL);
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, true, "echo.set", NULL, "i-1", &args, &reply);
    assert(reply.status == 200);
    rp_doc_destroy(&doc);
    doc = rp_testservice_call(service, false, "echo.set", &ann, NULL, &args, &reply);
    assert(rp_testservice_error_is(&reply, 400, "writer_only"));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&args);
    rp_testservice_destroy(&service);
    assert(!service && s_test_state == 0);
}
