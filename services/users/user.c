/*  user.c — the user record's field table (an rp_record, rapport/record.h);
    the roles are rapport/scope.h's. */
#include "user.h"

#include <rapport/scope.h>

#include <assert.h>
#include <string.h>

static const rp_field_t s_fields[USER_FIELDS] = {
    [USER_ID] = {"id", RP_FIELD_SYSTEM},
    [USER_NAME] = {"name", RP_FIELD_TEXT, .max = USER_MAX_NAME, .flags = RP_FIELD_REQUIRED},
    [USER_EMAIL] = {"email", RP_FIELD_EMAIL, .flags = RP_FIELD_REQUIRED},
    [USER_ROLE] = {"role", RP_FIELD_ENUM, .values = rp_role_names, .flags = RP_FIELD_REQUIRED},
    [USER_TEAM] = {"team", RP_FIELD_TEXT, .max = USER_MAX_TEAM, .flags = RP_FIELD_BLANK},
    [USER_MANAGER_ID] = {"manager_id", RP_FIELD_CODE, .max = USER_MAX_ID},
    [USER_ACTIVE] = {"active", RP_FIELD_SYSTEM},
    [USER_VERSION] = {"version", RP_FIELD_SYSTEM},
    [USER_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [USER_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void user_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, USER_FIELDS);
}

void user_manager_error(rp_field_error_t *error, const char *code)
{
    rp_field_error_set(error, "manager_id", 10, code);
    if (strcmp(code, "not_found") == 0)
        error->message = "no active user has this id";
    else if (strcmp(code, "not_manager") == 0)
        error->message = "the manager must be an active user with role manager or admin";
    else if (strcmp(code, "self") == 0)
        error->message = "a user cannot be their own manager";
}

//  ---------------------------------------------------------------------

static rp_doc_t *s_test_doc(rp_packer_t *packer)
{
    rp_doc_t *doc = rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
    assert(doc);
    rp_packer_reset(packer);
    return doc;
}

void user_test(void)
{
    assert(rp_fields_index(s_fields, USER_FIELDS, "manager_id", 10) == USER_MANAGER_ID);
    assert(rp_fields_index(s_fields, USER_FIELDS, "nope", 4) == -1);
    assert(s_fields[USER_VERSION].kind == RP_FIELD_SYSTEM &&
           s_fields[USER_ACTIVE].kind == RP_FIELD_SYSTEM);
    assert(s_fields[USER_TEAM].kind != RP_FIELD_SYSTEM);

    //  A create with every kind of mistake, all reported at once.
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 6);
    rp_pack_kv_cstr(&packer.pk, "name", "王\x01芳");
    rp_pack_kv_cstr(&packer.pk, "email", "not-an-email");
    rp_pack_kv_cstr(&packer.pk, "role", "root");
    rp_pack_kv_u64(&packer.pk, "team", 7);
    rp_pack_kv_cstr(&packer.pk, "version", "2");
    rp_pack_kv_cstr(&packer.pk, "colour", "red");
    rp_doc_t *doc = s_test_doc(&packer);
    rp_record_t u;
    user_init(&u);
    rp_field_error_t errors[USER_MAX_ERRORS];
    int n = rp_record_validate(&u, rp_doc_root(doc), NULL, true, NULL, errors, USER_MAX_ERRORS);
    assert(n == 6);
    static const char *const expected[][2] = {{"name", "invalid"},      {"email", "invalid"},
                                              {"role", "invalid"},      {"team", "type"},
                                              {"version", "read_only"}, {"colour", "unknown"}};
    for (int i = 0; i < n; i++)
        assert(strcmp(errors[i].field, expected[i][0]) == 0 &&
               strcmp(errors[i].code, expected[i][1]) == 0 && errors[i].message[0]);
    rp_record_reset(&u);
    rp_doc_destroy(&doc);

    //  A good create: e-mail normalized, team defaulted, manager kept.
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_kv_cstr(&packer.pk, "name", "王芳");
    rp_pack_kv_cstr(&packer.pk, "email", " Wang.Fang@Example.CN ");
    rp_pack_kv_cstr(&packer.pk, "role", "sales");
    rp_pack_kv_cstr(&packer.pk, "manager_id", "0192aa00bb11cc22dd33");
    doc = s_test_doc(&packer);
    assert(rp_record_validate(&u, rp_doc_root(doc), NULL, true, NULL, errors, USER_MAX_ERRORS) ==
           0);
    const char *str;
    size_t len;
    assert(rp_record_str(&u, USER_EMAIL, &str, &len) && len == 20 &&
           memcmp(str, "wang.fang@example.cn", len) == 0);
    assert(rp_record_str(&u, USER_TEAM, &str, &len) && len == 0 && u.given[USER_TEAM]);
    assert(rp_record_str(&u, USER_MANAGER_ID, &str, &len) && len == 20);

    //  Round trip through the stored form.
    rp_record_set_bool(&u, USER_ACTIVE, true);
    rp_record_set_u64(&u, USER_VERSION, 3);
    rp_record_pack(&u, &packer.pk);
    rp_doc_t *stored = s_test_doc(&packer);
    rp_record_t v;
    user_init(&v);
    rp_record_from_map(&v, rp_doc_root(stored));
    assert(rp_record_str(&v, USER_NAME, &str, &len) && len == strlen("王芳"));
    assert(rp_record_bool(&v, USER_ACTIVE) && rp_record_u64(&v, USER_VERSION) == 3);
    assert(v.values[USER_CREATED_AT].type == MSGPACK_OBJECT_NIL);
    rp_record_reset(&v);
    rp_record_reset(&u);
    rp_doc_destroy(&stored);
    rp_doc_destroy(&doc);

    //  An update: nil clears the manager and empties the team, is refused
    //  for name, email and role; nothing is required.
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_cstr(&packer.pk, "manager_id");
    msgpack_pack_nil(&packer.pk);
    rp_pack_cstr(&packer.pk, "team");
    msgpack_pack_nil(&packer.pk);
    rp_pack_cstr(&packer.pk, "role");
    msgpack_pack_nil(&packer.pk);
    rp_pack_kv_cstr(&packer.pk, "manager_id", "bad id!");
    doc = s_test_doc(&packer);
    n = rp_record_validate(&u, rp_doc_root(doc), NULL, false, NULL, errors, USER_MAX_ERRORS);
    assert(n == 2 && strcmp(errors[0].field, "role") == 0 &&
           strcmp(errors[0].code, "required") == 0);
    assert(strcmp(errors[1].field, "manager_id") == 0 && strcmp(errors[1].code, "invalid") == 0);
    assert(u.given[USER_TEAM] && !u.given[USER_NAME]);
    rp_record_reset(&u);
    rp_doc_destroy(&doc);

    //  A missing name, email and role on create; a too long name; an
    //  unknown key is echoed cut on a character boundary.
    char name[USER_MAX_NAME + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "name", name);
    doc = s_test_doc(&packer);
    n = rp_record_validate(&u, rp_doc_root(doc), NULL, true, NULL, errors, USER_MAX_ERRORS);
    assert(n == 3 && strcmp(errors[0].code, "too_long") == 0);
    assert(strcmp(errors[1].field, "email") == 0 && strcmp(errors[2].field, "role") == 0);
    rp_record_reset(&u);
    rp_doc_destroy(&doc);
    rp_field_error_t error;
    const char *long_key =
        "字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段"
        "字段字段";
    rp_field_error_set(&error, long_key, strlen(long_key), "unknown");
    assert(strlen(error.field) == 63 && rp_utf8_valid(error.field, 63));
    user_manager_error(&error, "self");
    assert(strcmp(error.field, "manager_id") == 0 && strstr(error.message, "own manager"));
    user_manager_error(&error, "not_found");
    assert(strcmp(error.message, "no active user has this id") == 0);
    rp_packer_destroy(&packer);
}
