/*  import.c — see import.h. */
#include <rapport/import.h>
#include <rapport/record.h>

#include <assert.h>
#include <string.h>

void rp_import_report_init(rp_import_report_t *self)
{
    memset(self, 0, sizeof *self);
    rp_packer_init(&self->rejected);
}

void rp_import_report_destroy(rp_import_report_t *self)
{
    rp_packer_destroy(&self->rejected);
}

void rp_import_reject(rp_import_report_t *self, uint32_t line, const rp_field_error_t *errors,
                      int count)
{
    msgpack_packer *pk = &self->rejected.pk;
    msgpack_pack_map(pk, 2);
    rp_pack_kv_u64(pk, "line", line);
    rp_pack_cstr(pk, "errors");
    msgpack_pack_array(pk, (size_t)count);
    for (int i = 0; i < count; i++) {
        msgpack_pack_map(pk, 3);
        rp_pack_kv_cstr(pk, "field", errors[i].field);
        rp_pack_kv_cstr(pk, "code", errors[i].code);
        rp_pack_kv_cstr(pk, "message", errors[i].message);
    }
    self->rejected_count++;
}

void rp_import_reject_one(rp_import_report_t *self, uint32_t line, const char *field,
                          const char *code, const char *message)
{
    rp_field_error_t error;
    rp_field_error_set(&error, field, strlen(field), code);
    error.code = code;
    error.message = message;
    rp_import_reject(self, line, &error, 1);
}

static void s_pack(const rp_import_report_t *self, msgpack_packer *pk, msgpack_sbuffer *buffer)
{
    msgpack_pack_map(pk, 4);
    rp_pack_kv_u64(pk, "created", self->created);
    rp_pack_kv_u64(pk, "updated", self->updated);
    rp_pack_kv_u64(pk, "skipped", self->skipped);
    rp_pack_cstr(pk, "rejected");
    msgpack_pack_array(pk, self->rejected_count);
    msgpack_sbuffer_write(buffer, self->rejected.buffer.data, self->rejected.buffer.size);
}

void rp_import_report_reply(const rp_import_report_t *self, rp_service_t *service,
                            rp_origin_t **origin_p, uint64_t seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, rp_origin_id(*origin_p), 200, seq, 1);
    rp_pack_cstr(&packer.pk, "data");
    s_pack(self, &packer.pk, &packer.buffer);
    rp_service_reply(service, origin_p, packer.buffer.data, packer.buffer.size);
    rp_packer_destroy(&packer);
}

//  ---------------------------------------------------------------------

void rp_import_test(void)
{
    rp_import_report_t report;
    rp_import_report_init(&report);
    report.created = 2;
    rp_import_reject_one(&report, 3, "stage", "unknown_stage", "no such stage");
    rp_field_error_t errors[2];
    rp_field_error_set(&errors[0], "title", 5, "required");
    rp_field_error_set(&errors[1], "amount", 6, "invalid");
    rp_import_reject(&report, 5, errors, 2);
    rp_packer_t packer;
    rp_packer_init(&packer);
    s_pack(&report, &packer.pk, &packer.buffer);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    const msgpack_object *root = rp_doc_root(doc);
    uint64_t n = 0;
    assert(rp_obj_u64(rp_obj_get(root, "created"), &n) && n == 2);
    const msgpack_object *rejected = rp_obj_get(root, "rejected");
    assert(rp_obj_is_array(rejected) && rejected->via.array.size == 2);
    const msgpack_object *first = &rejected->via.array.ptr[0];
    assert(rp_obj_u64(rp_obj_get(first, "line"), &n) && n == 3);
    const msgpack_object *e = &rp_obj_get(first, "errors")->via.array.ptr[0];
    assert(rp_obj_streq(rp_obj_get(e, "code"), "unknown_stage"));
    assert(rp_obj_streq(rp_obj_get(e, "message"), "no such stage"));
    const msgpack_object *second = rp_obj_get(&rejected->via.array.ptr[1], "errors");
    assert(second->via.array.size == 2 &&
           rp_obj_streq(rp_obj_get(&second->via.array.ptr[1], "field"), "amount"));
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
    rp_import_report_destroy(&report);
}
