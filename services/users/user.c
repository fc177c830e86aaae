/*  user.c — the user record's field table, its in-memory form and the
    checks every client value passes before it can reach the journal. */
#include "user.h"

#include <rapport/normalize.h>

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    KIND_SYSTEM,  //  set by the service only
    KIND_NAME,    //  UTF-8 text, 1..max bytes, no control characters
    KIND_TEAM,    //  UTF-8 text, 0..max bytes, no control characters
    KIND_EMAIL,   //  normalized by rp_normalize_email
    KIND_ROLE,    //  one of the role names
    KIND_USER_ID, //  1..USER_MAX_ID bytes of [A-Za-z0-9_-]
} kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t max;
} field_def_t;

static const field_def_t s_fields[USER_FIELDS] = {
    [USER_ID] = {"id", KIND_SYSTEM, 0},
    [USER_NAME] = {"name", KIND_NAME, USER_MAX_NAME},
    [USER_EMAIL] = {"email", KIND_EMAIL, USER_MAX_EMAIL},
    [USER_ROLE] = {"role", KIND_ROLE, 0},
    [USER_TEAM] = {"team", KIND_TEAM, USER_MAX_TEAM},
    [USER_MANAGER_ID] = {"manager_id", KIND_USER_ID, USER_MAX_ID},
    [USER_ACTIVE] = {"active", KIND_SYSTEM, 0},
    [USER_VERSION] = {"version", KIND_SYSTEM, 0},
    [USER_CREATED_AT] = {"created_at", KIND_SYSTEM, 0},
    [USER_UPDATED_AT] = {"updated_at", KIND_SYSTEM, 0},
};

static const char *const s_roles[] = {"", "admin", "manager", "sales", "readonly", "integrator"};
#define ROLES (sizeof s_roles / sizeof s_roles[0])

const char *user_field_name(int field)
{
    assert(field >= 0 && field < USER_FIELDS);
    return s_fields[field].name;
}

int user_field_index(const char *name, size_t len)
{
    for (int i = 0; i < USER_FIELDS; i++)
        if (strlen(s_fields[i].name) == len && memcmp(s_fields[i].name, name, len) == 0)
            return i;
    return -1;
}

bool user_field_writable(int field)
{
    return field >= 0 && field < USER_FIELDS && s_fields[field].kind != KIND_SYSTEM;
}

user_role_t user_role_parse(const char *name, size_t len)
{
    for (size_t i = 1; name && i < ROLES; i++)
        if (strlen(s_roles[i]) == len && memcmp(s_roles[i], name, len) == 0)
            return (user_role_t)i;
    return USER_ROLE_NONE;
}

const char *user_role_name(user_role_t role)
{
    return (size_t)role < ROLES ? s_roles[role] : "";
}

void user_init(user_t *self)
{
    memset(self, 0, sizeof *self);
    for (int i = 0; i < USER_FIELDS; i++)
        self->values[i].type = MSGPACK_OBJECT_NIL;
}

void user_reset(user_t *self)
{
    for (int i = 0; i < USER_FIELDS; i++)
        free(self->owned[i]);
    user_init(self);
}

static void s_unown(user_t *self, int field)
{
    free(self->owned[field]);
    self->owned[field] = NULL;
}

void user_from_map(user_t *self, const msgpack_object *map)
{
    if (!rp_obj_is_map(map))
        return;
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            continue;
        int field = user_field_index(kv->key.via.str.ptr, kv->key.via.str.size);
        if (field >= 0)
            user_set_obj(self, field, &kv->val);
    }
}

void user_set_obj(user_t *self, int field, const msgpack_object *value)
{
    s_unown(self, field);
    self->values[field] = *value;
    self->given[field] = true;
}

void user_set_str(user_t *self, int field, const char *str, size_t len)
{
    char *copy = malloc(len + 1);
    assert(copy);
    if (len)
        memcpy(copy, str, len);
    copy[len] = 0;
    s_unown(self, field);
    self->owned[field] = copy;
    self->values[field].type = MSGPACK_OBJECT_STR;
    self->values[field].via.str.ptr = copy;
    self->values[field].via.str.size = (uint32_t)len;
    self->given[field] = true;
}

void user_set_u64(user_t *self, int field, uint64_t value)
{
    s_unown(self, field);
    self->values[field].type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    self->values[field].via.u64 = value;
    self->given[field] = true;
}

void user_set_bool(user_t *self, int field, bool value)
{
    s_unown(self, field);
    self->values[field].type = MSGPACK_OBJECT_BOOLEAN;
    self->values[field].via.boolean = value;
    self->given[field] = true;
}

bool user_str(const user_t *self, int field, const char **str, size_t *len)
{
    return rp_obj_str(&self->values[field], str, len);
}

uint64_t user_u64(const user_t *self, int field)
{
    uint64_t value = 0;
    rp_obj_u64(&self->values[field], &value);
    return value;
}

bool user_bool(const user_t *self, int field)
{
    bool value = false;
    rp_obj_bool(&self->values[field], &value);
    return value;
}

void user_pack(const user_t *self, msgpack_packer *pk)
{
    msgpack_pack_map(pk, USER_FIELDS);
    for (int i = 0; i < USER_FIELDS; i++)
        rp_pack_kv_obj(pk, s_fields[i].name, &self->values[i]);
}

void user_pack_given(const user_t *self, msgpack_packer *pk)
{
    uint32_t count = 0;
    for (int i = 0; i < USER_FIELDS; i++)
        count += self->given[i];
    msgpack_pack_map(pk, count);
    for (int i = 0; i < USER_FIELDS; i++)
        if (self->given[i])
            rp_pack_kv_obj(pk, s_fields[i].name, &self->values[i]);
}

//  ---------------------------------------------------------------------
//  Validation

static const char *s_message(const char *code)
{
    static const struct {
        const char *code, *message;
    } messages[] = {
        {"required", "a value is required"},
        {"too_long", "the value is too long"},
        {"type", "the value has the wrong type"},
        {"unknown", "no such field"},
        {"read_only", "the field is set by the service"},
        {"not_found", "no active user has this id"},
        {"not_manager", "the manager must be an active user with role manager or admin"},
        {"self", "a user cannot be their own manager"},
    };
    for (size_t i = 0; i < sizeof messages / sizeof messages[0]; i++)
        if (strcmp(code, messages[i].code) == 0)
            return messages[i].message;
    return "the value is not valid for this field";
}

void user_error_set(user_error_t *error, const char *field, size_t len, const char *code)
{
    len = rp_normalize_cut(field, len, USER_MAX_FIELD);
    memcpy(error->field, field, len);
    error->field[len] = 0;
    error->code = code;
    error->message = s_message(code);
}

static int s_error(user_error_t *errors, int count, int max, const char *field, size_t len,
                   const char *code)
{
    if (count < max)
        user_error_set(&errors[count], field, len, code);
    return count + 1;
}

static int s_error_field(user_error_t *errors, int count, int max, int field, const char *code)
{
    return s_error(errors, count, max, s_fields[field].name, strlen(s_fields[field].name), code);
}

//  nil: clears manager_id, empties team, is refused elsewhere.
static const char *s_nil_check(user_t *self, int field)
{
    if (field == USER_MANAGER_ID) {
        msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
        user_set_obj(self, field, &nil);
        return NULL;
    }
    if (field == USER_TEAM) {
        user_set_str(self, field, "", 0);
        return NULL;
    }
    return "required";
}

//  Check one value; on success store it (normalized) in self.
static const char *s_field_check(user_t *self, int field, const msgpack_object *value)
{
    const field_def_t *def = &s_fields[field];
    if (value->type == MSGPACK_OBJECT_NIL)
        return s_nil_check(self, field);
    const char *str;
    size_t len;
    if (!rp_obj_str(value, &str, &len))
        return "type";
    const char *err = NULL;
    char email[RP_NORMALIZE_EMAIL_MAX];
    switch (def->kind) {
    case KIND_NAME:
        err = rp_normalize_text(str, len, def->max, 0);
        break;
    case KIND_TEAM:
        err = rp_normalize_text(str, len, def->max, RP_TEXT_BLANK);
        break;
    case KIND_EMAIL:
        err = rp_normalize_email(str, len, email);
        if (!err)
            user_set_str(self, field, email, strlen(email));
        return err;
    case KIND_ROLE:
        err = user_role_parse(str, len) == USER_ROLE_NONE ? "invalid" : NULL;
        break;
    case KIND_USER_ID:
        err = rp_normalize_code(str, len, def->max);
        break;
    default:
        err = "read_only";
    }
    if (!err)
        user_set_obj(self, field, value);
    return err;
}

int user_validate(user_t *self, const msgpack_object *map, bool create, user_error_t *errors,
                  int max_errors)
{
    int count = 0;
    bool seen[USER_FIELDS] = {false};
    for (uint32_t i = 0; rp_obj_is_map(map) && i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        const char *key;
        size_t len;
        if (!rp_obj_str(&kv->key, &key, &len)) {
            count = s_error(errors, count, max_errors, "", 0, "unknown");
            continue;
        }
        int field = user_field_index(key, len);
        if (field >= 0)
            seen[field] = true;
        if (field < 0)
            count = s_error(errors, count, max_errors, key, len, "unknown");
        else if (!user_field_writable(field))
            count = s_error_field(errors, count, max_errors, field, "read_only");
        else {
            const char *err = s_field_check(self, field, &kv->val);
            if (err)
                count = s_error_field(errors, count, max_errors, field, err);
        }
    }
    static const int required[] = {USER_NAME, USER_EMAIL, USER_ROLE};
    for (size_t i = 0; create && i < sizeof required / sizeof required[0]; i++)
        if (!seen[required[i]])
            count = s_error_field(errors, count, max_errors, required[i], "required");
    if (create && !self->given[USER_TEAM])
        user_set_str(self, USER_TEAM, "", 0);
    return count < max_errors ? count : max_errors;
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
    assert(user_field_index("manager_id", 10) == USER_MANAGER_ID);
    assert(user_field_index("nope", 4) == -1);
    assert(!user_field_writable(USER_VERSION) && !user_field_writable(USER_ACTIVE));
    assert(user_field_writable(USER_TEAM));
    assert(user_role_parse("integrator", 10) == USER_ROLE_INTEGRATOR);
    assert(user_role_parse("root", 4) == USER_ROLE_NONE);
    assert(strcmp(user_role_name(USER_ROLE_MANAGER), "manager") == 0);

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
    user_t u;
    user_init(&u);
    user_error_t errors[USER_MAX_ERRORS];
    int n = user_validate(&u, rp_doc_root(doc), true, errors, USER_MAX_ERRORS);
    assert(n == 6);
    static const char *const expected[][2] = {{"name", "invalid"},      {"email", "invalid"},
                                              {"role", "invalid"},      {"team", "type"},
                                              {"version", "read_only"}, {"colour", "unknown"}};
    for (int i = 0; i < n; i++)
        assert(strcmp(errors[i].field, expected[i][0]) == 0 &&
               strcmp(errors[i].code, expected[i][1]) == 0 && errors[i].message[0]);
    user_reset(&u);
    rp_doc_destroy(&doc);

    //  A good create: e-mail normalized, team defaulted, manager kept.
    msgpack_pack_map(&packer.pk, 4);
    rp_pack_kv_cstr(&packer.pk, "name", "王芳");
    rp_pack_kv_cstr(&packer.pk, "email", " Wang.Fang@Example.CN ");
    rp_pack_kv_cstr(&packer.pk, "role", "sales");
    rp_pack_kv_cstr(&packer.pk, "manager_id", "0192aa00bb11cc22dd33");
    doc = s_test_doc(&packer);
    assert(user_validate(&u, rp_doc_root(doc), true, errors, USER_MAX_ERRORS) == 0);
    const char *str;
    size_t len;
    assert(user_str(&u, USER_EMAIL, &str, &len) && len == 20 &&
           memcmp(str, "wang.fang@example.cn", len) == 0);
    assert(user_str(&u, USER_TEAM, &str, &len) && len == 0 && u.given[USER_TEAM]);
    assert(user_str(&u, USER_MANAGER_ID, &str, &len) && len == 20);

    //  Round trip through the stored form.
    user_set_bool(&u, USER_ACTIVE, true);
    user_set_u64(&u, USER_VERSION, 3);
    user_pack(&u, &packer.pk);
    rp_doc_t *stored = s_test_doc(&packer);
    user_t v;
    user_init(&v);
    user_from_map(&v, rp_doc_root(stored));
    assert(user_str(&v, USER_NAME, &str, &len) && len == strlen("王芳"));
    assert(user_bool(&v, USER_ACTIVE) && user_u64(&v, USER_VERSION) == 3);
    assert(v.values[USER_CREATED_AT].type == MSGPACK_OBJECT_NIL);
    user_reset(&v);
    user_reset(&u);
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
    n = user_validate(&u, rp_doc_root(doc), false, errors, USER_MAX_ERRORS);
    assert(n == 2 && strcmp(errors[0].field, "role") == 0 &&
           strcmp(errors[0].code, "required") == 0);
    assert(strcmp(errors[1].field, "manager_id") == 0 && strcmp(errors[1].code, "invalid") == 0);
    assert(u.given[USER_TEAM] && !u.given[USER_NAME]);
    user_reset(&u);
    rp_doc_destroy(&doc);

    //  A missing name, email and role on create; a too long name; an
    //  unknown key is echoed cut on a character boundary.
    char name[USER_MAX_NAME + 2];
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = 0;
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_cstr(&packer.pk, "name", name);
    doc = s_test_doc(&packer);
    n = user_validate(&u, rp_doc_root(doc), true, errors, USER_MAX_ERRORS);
    assert(n == 3 && strcmp(errors[0].code, "too_long") == 0);
    assert(strcmp(errors[1].field, "email") == 0 && strcmp(errors[2].field, "role") == 0);
    user_reset(&u);
    rp_doc_destroy(&doc);
    user_error_t error;
    const char *long_key =
        "字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段字段"
        "字段字段";
    user_error_set(&error, long_key, strlen(long_key), "unknown");
    assert(strlen(error.field) == 63 && rp_utf8_valid(error.field, 63));
    rp_packer_destroy(&packer);
}
