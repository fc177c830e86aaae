/*  entry.c — see entry.h. */
#include "entry.h"

#include <rapport/normalize.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void entry_id(uint64_t seq, char out[24])
{
    snprintf(out, 24, "n%" PRIu64, seq);
}

uint64_t entry_seq(const char *id, size_t len)
{
    if (len < 2 || len > 21 || id[0] != 'n' || id[1] == '0')
        return 0;
    uint64_t seq = 0;
    for (size_t i = 1; i < len; i++) {
        if (id[i] < '0' || id[i] > '9' || seq > (UINT64_MAX - 9) / 10)
            return 0;
        seq = seq * 10 + (uint64_t)(id[i] - '0');
    }
    return seq;
}

void entry_copy(char *out, size_t size, const char *str, size_t len)
{
    size_t n = str ? rp_normalize_cut(str, len, size - 1) : 0;
    if (n)
        memcpy(out, str, n);
    out[n] = 0;
}

static void s_str_or_nil(msgpack_packer *pk, const char *key, const char *value)
{
    rp_pack_cstr(pk, key);
    if (*value)
        rp_pack_cstr(pk, value);
    else
        msgpack_pack_nil(pk);
}

void entry_pack(const entry_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 11);
    rp_pack_kv_cstr(pk, "id", self->id);
    rp_pack_kv_cstr(pk, "user", self->user);
    rp_pack_kv_cstr(pk, "kind", self->kind);
    rp_pack_kv_cstr(pk, "title", self->title);
    rp_pack_kv_cstr(pk, "body", self->body);
    rp_pack_cstr(pk, "record");
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "type", self->record_type);
    rp_pack_kv_cstr(pk, "id", self->record_id);
    rp_pack_kv_u64(pk, "seq", self->seq);
    rp_pack_kv_cstr(pk, "created_at", self->created_at);
    s_str_or_nil(pk, "read_at", self->read_at);
    rp_pack_kv_bool(pk, "archived", self->archived);
    rp_pack_kv_u64(pk, "version", self->version);
}

static void s_get(const msgpack_object *map, const char *key, char *out, size_t size)
{
    const char *str = NULL;
    size_t len = 0;
    rp_obj_str(rp_obj_get(map, key), &str, &len);
    entry_copy(out, size, str, len);
}

bool entry_unpack(entry_t *self, const void *bytes, size_t size)
{
    memset(self, 0, sizeof *self);
    rp_doc_t *doc = rp_doc_new(bytes, size, NULL);
    if (!doc)
        return false;
    const msgpack_object *root = rp_doc_root(doc);
    bool ok = rp_obj_is_map(root);
    if (ok) {
        s_get(root, "id", self->id, sizeof self->id);
        s_get(root, "user", self->user, sizeof self->user);
        s_get(root, "kind", self->kind, sizeof self->kind);
        s_get(root, "title", self->title, sizeof self->title);
        s_get(root, "body", self->body, sizeof self->body);
        const msgpack_object *record = rp_obj_get(root, "record");
        s_get(record, "type", self->record_type, sizeof self->record_type);
        s_get(record, "id", self->record_id, sizeof self->record_id);
        rp_obj_u64(rp_obj_get(root, "seq"), &self->seq);
        s_get(root, "created_at", self->created_at, sizeof self->created_at);
        s_get(root, "read_at", self->read_at, sizeof self->read_at);
        rp_obj_bool(rp_obj_get(root, "archived"), &self->archived);
        rp_obj_u64(rp_obj_get(root, "version"), &self->version);
    }
    rp_doc_destroy(&doc);
    return ok;
}

void entry_test(void)
{
    char id[24];
    entry_id(42, id);
    assert(strcmp(id, "n42") == 0 && entry_seq(id, strlen(id)) == 42);
    assert(entry_seq("n", 1) == 0 && entry_seq("n01", 3) == 0 && entry_seq("x1", 2) == 0);
    assert(entry_seq("n99999999999999999999", 21) == 0);
    //  A cut never splits a character: 提醒 is 6 bytes, 5 keep one.
    char small[6];
    entry_copy(small, sizeof small, "提醒", 6);
    assert(strcmp(small, "提") == 0);

    entry_t e = {.seq = 7, .archived = true, .version = 2};
    entry_id(7, e.id);
    strcpy(e.user, "bob");
    strcpy(e.kind, "customer.assigned");
    strcpy(e.title, "客户 上海华东贸易 分配给你");
    strcpy(e.record_type, "customer");
    strcpy(e.record_id, "c1");
    strcpy(e.created_at, "2026-11-23T08:00:07.000Z");
    rp_packer_t packer;
    rp_packer_init(&packer);
    entry_pack(&e, &packer.pk);
    entry_t back;
    assert(entry_unpack(&back, packer.buffer.data, packer.buffer.size));
    assert(strcmp(back.id, "n7") == 0 && strcmp(back.title, e.title) == 0);
    assert(strcmp(back.record_id, "c1") == 0 && back.seq == 7 && back.archived);
    assert(back.version == 2 && back.read_at[0] == 0 && strcmp(back.kind, e.kind) == 0);
    rp_packer_destroy(&packer);
}
