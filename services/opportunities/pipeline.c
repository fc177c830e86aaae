/*  pipeline.c — see pipeline.h. */
#include "pipeline.h"

#include <czmq.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_kinds[] = {"open", "won", "lost"};

const char *pipeline_kind_name(pipeline_kind_t kind)
{
    return s_kinds[kind];
}

static bool s_kind_parse(const msgpack_object *o, pipeline_kind_t *kind)
{
    for (int i = 0; i < 3; i++)
        if (rp_obj_streq(o, s_kinds[i])) {
            *kind = (pipeline_kind_t)i;
            return true;
        }
    return false;
}

static bool s_stage_parse(const msgpack_object *o, pipeline_stage_t *stage)
{
    uint64_t probability, rot_days;
    if (!rp_obj_str(rp_obj_get(o, "key"), &stage->key, &stage->key_len) ||
        !rp_obj_str(rp_obj_get(o, "name"), &stage->name, &stage->name_len) ||
        !s_kind_parse(rp_obj_get(o, "kind"), &stage->kind) ||
        !rp_obj_u64(rp_obj_get(o, "probability"), &probability) || probability > 100 ||
        !rp_obj_u64(rp_obj_get(o, "rot_days"), &rot_days) || rot_days > 3650)
        return false;
    stage->probability = (unsigned)probability;
    stage->rot_days = (unsigned)rot_days;
    return true;
}

//  The stored map into self (strings borrow from self->doc).
static bool s_parse(pipeline_t *self)
{
    const msgpack_object *root = rp_doc_root(self->doc);
    const msgpack_object *stages = rp_obj_get(root, "stages");
    const msgpack_object *reasons = rp_obj_get(root, "lost_reasons");
    const msgpack_object *team = rp_obj_get(root, "team");
    if (!rp_obj_str(rp_obj_get(root, "id"), &self->id, &self->id_len) || !rp_obj_is_array(stages) ||
        stages->via.array.size > PIPELINE_MAX_STAGES)
        return false;
    if (!rp_obj_str(team, &self->team, &self->team_len))
        self->team = NULL;
    rp_obj_u64(rp_obj_get(root, "version"), &self->version);
    self->stage_count = stages->via.array.size;
    for (size_t i = 0; i < self->stage_count; i++)
        if (!s_stage_parse(&stages->via.array.ptr[i], &self->stages[i]))
            return false;
    if (rp_obj_is_array(reasons)) {
        self->reason_count = reasons->via.array.size;
        self->reasons = reasons->via.array.ptr;
    }
    return true;
}

int pipeline_load(rp_store_t *store, MDB_txn *txn, const char *id, size_t len, pipeline_t *self)
{
    memset(self, 0, offsetof(pipeline_t, stages));
    self->reason_count = 0;
    self->reasons = NULL;
    if (len == 0 || len > PIPELINE_MAX_KEY)
        return MDB_NOTFOUND;
    MDB_val key = {len, (void *)id}, value;
    int rc = mdb_get(txn, rp_store_dbi(store, "pipelines"), &key, &value);
    if (rc)
        return rc;
    self->bytes = malloc(value.mv_size ? value.mv_size : 1);
    assert(self->bytes);
    memcpy(self->bytes, value.mv_data, value.mv_size);
    self->doc = rp_doc_new(self->bytes, value.mv_size, NULL);
    return self->doc && s_parse(self) ? 0 : -1;
}

void pipeline_release(pipeline_t *self)
{
    rp_doc_destroy(&self->doc);
    free(self->bytes);
    self->bytes = NULL;
    self->stage_count = 0;
    self->reason_count = 0;
}

const pipeline_stage_t *pipeline_stage(const pipeline_t *self, const char *key, size_t len,
                                       size_t *index)
{
    for (size_t i = 0; i < self->stage_count; i++)
        if (self->stages[i].key_len == len && memcmp(self->stages[i].key, key, len) == 0) {
            if (index)
                *index = i;
            return &self->stages[i];
        }
    return NULL;
}

const pipeline_stage_t *pipeline_first_open(const pipeline_t *self)
{
    for (size_t i = 0; i < self->stage_count; i++)
        if (self->stages[i].kind == PIPELINE_OPEN)
            return &self->stages[i];
    return NULL;
}

bool pipeline_has_reason(const pipeline_t *self, const char *reason, size_t len)
{
    for (size_t i = 0; i < self->reason_count; i++) {
        const char *str;
        size_t str_len;
        if (rp_obj_str(&self->reasons[i], &str, &str_len) && str_len == len &&
            memcmp(str, reason, len) == 0)
            return true;
    }
    return false;
}

//  ---------------------------------------------------------------------
//  Self-test

static void s_test_stage(msgpack_packer *pk, const char *key, const char *name, const char *kind,
                         unsigned probability)
{
    msgpack_pack_map(pk, 5);
    rp_pack_kv_cstr(pk, "key", key);
    rp_pack_kv_cstr(pk, "name", name);
    rp_pack_kv_cstr(pk, "kind", kind);
    rp_pack_kv_u64(pk, "probability", probability);
    rp_pack_kv_u64(pk, "rot_days", 30);
}

static int s_test_fill(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 6);
    rp_pack_kv_cstr(&p.pk, "id", "p1");
    rp_pack_kv_cstr(&p.pk, "name", "大客户");
    rp_pack_cstr(&p.pk, "team");
    msgpack_pack_nil(&p.pk);
    rp_pack_cstr(&p.pk, "stages");
    msgpack_pack_array(&p.pk, 3);
    s_test_stage(&p.pk, "lead", "线索", "open", 10);
    s_test_stage(&p.pk, "won", "成交", "won", 100);
    s_test_stage(&p.pk, "lost", "输单", "lost", 0);
    rp_pack_cstr(&p.pk, "lost_reasons");
    msgpack_pack_array(&p.pk, 1);
    rp_pack_cstr(&p.pk, "价格");
    rp_pack_kv_u64(&p.pk, "version", 3);
    MDB_val k = {2, "p1"}, v = {p.buffer.size, p.buffer.data};
    assert(mdb_put(txn, rp_store_dbi(store, "pipelines"), &k, &v, 0) == 0);
    MDB_val bad_k = {3, "bad"}, bad_v = {1, "\xc1"};
    assert(mdb_put(txn, rp_store_dbi(store, "pipelines"), &bad_k, &bad_v, 0) == 0);
    rp_packer_destroy(&p);
    return 0;
}

static int s_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    pipeline_t p;
    assert(pipeline_load(store, txn, "p1", 2, &p) == 0);
    assert(p.version == 3 && p.team == NULL && p.stage_count == 3);
    size_t index;
    const pipeline_stage_t *won = pipeline_stage(&p, "won", 3, &index);
    assert(won && index == 1 && won->kind == PIPELINE_WON && won->probability == 100);
    assert(strcmp(pipeline_kind_name(won->kind), "won") == 0);
    assert(won->name_len == strlen("成交") && memcmp(won->name, "成交", won->name_len) == 0);
    assert(!pipeline_stage(&p, "wo", 2, NULL));
    assert(pipeline_first_open(&p) == &p.stages[0]);
    assert(pipeline_has_reason(&p, "价格", strlen("价格")) && !pipeline_has_reason(&p, "x", 1));
    pipeline_release(&p);
    assert(pipeline_load(store, txn, "nope", 4, &p) == MDB_NOTFOUND);
    pipeline_release(&p);
    assert(pipeline_load(store, txn, "bad", 3, &p) == -1);
    pipeline_release(&p);
    return 0;
}

void pipeline_test(void)
{
    static const char *const dbnames[] = {"pipelines", NULL};
    char dir[] = "/tmp/rp-pipeline-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, dbnames);
    assert(store);
    assert(rp_store_write(store, s_test_fill, NULL) == 0);
    assert(rp_store_read(store, s_test_read, NULL) == 0);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}
