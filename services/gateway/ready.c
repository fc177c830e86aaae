/*  ready.c — see ready.h. */
#include "ready.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

char *gw_ready_vacant(const msgpack_object *data)
{
    const msgpack_object *leases = data ? rp_obj_get(data, "leases") : NULL;
    if (!rp_obj_is_map(leases))
        return NULL;
    for (uint32_t i = 0; i < leases->via.map.size; i++) {
        bool holder = false;
        const msgpack_object_kv *kv = &leases->via.map.ptr[i];
        if (!rp_obj_bool(rp_obj_get(&kv->val, "holder"), &holder) || !holder) {
            char *name = rp_obj_strdup(&kv->key);
            return name ? name : strdup("?");
        }
    }
    return NULL;
}

//  broker.status data with leases {a: {holder: a_held}, b: {holder: b_held}}.
static rp_doc_t *s_status(bool a_held, bool b_held)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "leases");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "a");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_bool(&packer.pk, "holder", a_held);
    rp_pack_kv_u64(&packer.pk, "epoch", 3);
    rp_pack_cstr(&packer.pk, "b");
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_bool(&packer.pk, "holder", b_held);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_packer_destroy(&packer);
    return doc;
}

void gw_ready_test(void)
{
    rp_doc_t *doc = s_status(true, true);
    assert(gw_ready_vacant(rp_doc_root(doc)) == NULL);
    rp_doc_destroy(&doc);

    doc = s_status(true, false);
    char *vacant = gw_ready_vacant(rp_doc_root(doc));
    assert(vacant && strcmp(vacant, "b") == 0);
    free(vacant);
    rp_doc_destroy(&doc);

    //  No leases at all, or no data: nothing vacant.
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 0);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && gw_ready_vacant(rp_doc_root(doc)) == NULL);
    assert(gw_ready_vacant(NULL) == NULL);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
