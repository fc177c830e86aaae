/*  event.c — see event.h. */
#include <rapport/event.h>
#include <rapport/pack.h>
#include <rapport/random.h>

#include <assert.h>
#include <string.h>

void rp_event_open(msgpack_packer *pk, const char *type, const char *source, const char *subject,
                   size_t subject_len, const rp_scope_t *actor)
{
    msgpack_pack_map(pk, actor ? 6 : 5);
    rp_pack_kv_cstr(pk, "type", type);
    char id[RP_UUID_SIZE];
    rp_uuid_format(id);
    rp_pack_kv_cstr(pk, "id", id);
    rp_pack_kv_cstr(pk, "source", source);
    rp_pack_cstr(pk, "subject");
    rp_pack_strn(pk, subject, subject_len);
    if (actor) {
        rp_pack_cstr(pk, "actor");
        rp_scope_pack(actor, pk);
    }
    rp_pack_cstr(pk, "data");
}

//  ---------------------------------------------------------------------

void rp_event_test(void)
{
    char a[RP_ID_SIZE];
    rp_id_format(a);

    rp_scope_t scope = {RP_ROLE_SALES, "ann", 3, NULL, 0};
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_event_open(&packer.pk, "customer.archived", "customers", a, strlen(a), &scope);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "id", a);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    assert(root->type == MSGPACK_OBJECT_MAP && root->via.map.size == 6);
    assert(rp_obj_streq(rp_obj_get(root, "type"), "customer.archived"));
    assert(rp_obj_streq(rp_obj_get(root, "source"), "customers"));
    const msgpack_object *id = rp_obj_get(root, "id");
    assert(id->type == MSGPACK_OBJECT_STR && id->via.str.size == RP_UUID_SIZE - 1);
    assert(rp_obj_streq(rp_obj_get(root, "subject"), a));
    const msgpack_object *actor = rp_obj_get(root, "actor");
    assert(rp_obj_streq(rp_obj_get(actor, "user"), "ann"));
    assert(rp_obj_streq(rp_obj_get(actor, "role"), "sales"));
    assert(rp_obj_get(actor, "team")->type == MSGPACK_OBJECT_NIL);
    assert(rp_obj_streq(rp_obj_get(rp_obj_get(root, "data"), "id"), a));
    rp_doc_destroy(&doc);
    //  A writer's own event has no actor.
    rp_packer_reset(&packer);
    rp_event_open(&packer.pk, "reminder.fired", "reminders", a, strlen(a), NULL);
    msgpack_pack_map(&packer.pk, 0);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    root = rp_doc_root(doc);
    assert(root->via.map.size == 5 && rp_obj_get(root, "actor") == NULL);
    assert(rp_obj_streq(rp_obj_get(root, "subject"), a));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}
