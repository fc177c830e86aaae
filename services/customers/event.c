/*  event.c — see event.h. */
#include "event.h"

#include <rapport/envelope.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

void event_open(msgpack_packer *pk, const char *type, const char *subject, size_t subject_len,
                const scope_t *scope)
{
    msgpack_pack_map(pk, 6);
    rp_pack_kv_cstr(pk, "type", type);
    zuuid_t *uuid = zuuid_new();
    rp_pack_kv_cstr(pk, "id", zuuid_str_canonical(uuid));
    zuuid_destroy(&uuid);
    rp_pack_kv_cstr(pk, "source", "customers");
    rp_pack_cstr(pk, "subject");
    rp_pack_strn(pk, subject, subject_len);
    rp_pack_cstr(pk, "actor");
    scope_pack(scope, pk);
    rp_pack_cstr(pk, "data");
}

void event_new_id(char id[EVENT_ID_SIZE])
{
    unsigned char random[4];
    randombytes_buf(random, sizeof random);
    snprintf(id, EVENT_ID_SIZE, "%012" PRIx64 "%02x%02x%02x%02x",
             (uint64_t)zclock_time() & (uint64_t)0xffffffffffff, random[0], random[1], random[2],
             random[3]);
}

//  ---------------------------------------------------------------------

void event_test(void)
{
    char a[EVENT_ID_SIZE], b[EVENT_ID_SIZE];
    event_new_id(a);
    event_new_id(b);
    assert(strlen(a) == 20 && strspn(a, "0123456789abcdef") == 20);
    assert(strcmp(a, b) != 0);

    scope_t scope = {SCOPE_SALES, "ann", 3, NULL, 0};
    rp_packer_t packer;
    rp_packer_init(&packer);
    event_open(&packer.pk, "customer.archived", a, strlen(a), &scope);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "id", a);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    assert(root->type == MSGPACK_OBJECT_MAP && root->via.map.size == 6);
    assert(rp_obj_streq(rp_obj_get(root, "type"), "customer.archived"));
    assert(rp_obj_streq(rp_obj_get(root, "source"), "customers"));
    assert(rp_obj_streq(rp_obj_get(root, "subject"), a));
    const msgpack_object *actor = rp_obj_get(root, "actor");
    assert(rp_obj_streq(rp_obj_get(actor, "user"), "ann"));
    assert(rp_obj_streq(rp_obj_get(actor, "role"), "sales"));
    assert(rp_obj_get(actor, "team")->type == MSGPACK_OBJECT_NIL);
    assert(rp_obj_streq(rp_obj_get(rp_obj_get(root, "data"), "id"), a));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
