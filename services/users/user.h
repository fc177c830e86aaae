/*  user.h — the user record (issue 3: people who hold API keys): its
    fields, how a record is held in memory and packed, and how untrusted
    fields are checked and normalized.

    A record is stored as one MessagePack map with every field of the table
    below, in table order (absent values are nil):

        {id, name, email, role, team, manager_id, active, version,
         created_at, updated_at}

    The key hash is not part of the record (apply keeps it in its own
    databases), so a stored record can be copied into a reply as it is.

    user_t holds one msgpack_object per field. Values borrow from the
    decoded document they came from, or from strings the user_t owns
    (normalized e-mails, times), freed by user_reset.
*/
#ifndef USERS_USER_H
#define USERS_USER_H

#include <rapport/pack.h>
#include <rapport/service.h>

#include <stdbool.h>

typedef enum {
    USER_ID,
    USER_NAME,
    USER_EMAIL,
    USER_ROLE,
    USER_TEAM,
    USER_MANAGER_ID,
    USER_ACTIVE,
    USER_VERSION,
    USER_CREATED_AT,
    USER_UPDATED_AT,
    USER_FIELDS
} user_field_t;

#define USER_MAX_ID     64  //  bytes of a user id (ours are 20 hex digits)
#define USER_MAX_NAME   200 //  bytes
#define USER_MAX_TEAM   100 //  bytes
#define USER_MAX_EMAIL  254 //  bytes, RFC 5321 path limit
#define USER_MAX_ERRORS 16
#define USER_MAX_FIELD  RP_MAX_FIELD //  bytes of a field name echoed in an error

//  The roles of DESIGN.md §4, in this order.
typedef enum {
    USER_ROLE_NONE,
    USER_ROLE_ADMIN,
    USER_ROLE_MANAGER,
    USER_ROLE_SALES,
    USER_ROLE_READONLY,
    USER_ROLE_INTEGRATOR
} user_role_t;

typedef struct {
    msgpack_object values[USER_FIELDS]; //  type NIL when absent
    bool given[USER_FIELDS];            //  present in the input
    char *owned[USER_FIELDS];           //  heap strings values[] point into
} user_t;

//  One invalid field: {field, code, message}. field is a copy (an unknown
//  key is echoed, cut to USER_MAX_FIELD bytes on a UTF-8 boundary).
typedef rp_field_error_t user_error_t; //  replied with rp_service_reply_invalid

//  The field's wire name ("manager_id"); its index by name, or -1.
const char *user_field_name(int field);
int user_field_index(const char *name, size_t len);

//  True for the fields an admin may set: name, email, role, team, manager_id.
bool user_field_writable(int field);

//  A role by name (USER_ROLE_NONE when unknown) and its name ("" for NONE).
user_role_t user_role_parse(const char *name, size_t len);
const char *user_role_name(user_role_t role);

void user_init(user_t *self);
void user_reset(user_t *self);

//  Read a map's known fields (unknown keys ignored, missing ones nil).
void user_from_map(user_t *self, const msgpack_object *map);

//  Set a field to a copy of a string / an integer / a bool / a borrowed
//  object.
void user_set_str(user_t *self, int field, const char *str, size_t len);
void user_set_u64(user_t *self, int field, uint64_t value);
void user_set_bool(user_t *self, int field, bool value);
void user_set_obj(user_t *self, int field, const msgpack_object *value);

//  A string field's bytes (false when nil or not a str); an integer field;
//  a bool field (false when absent).
bool user_str(const user_t *self, int field, const char **str, size_t *len);
uint64_t user_u64(const user_t *self, int field);
bool user_bool(const user_t *self, int field);

//  Pack all fields as a map in table order / only the given ones.
void user_pack(const user_t *self, msgpack_packer *pk);
void user_pack_given(const user_t *self, msgpack_packer *pk);

//  Fill an error for field (copied, cut safely) with a static code; the
//  message is the code's standard one.
void user_error_set(user_error_t *error, const char *field, size_t len, const char *code);

//  Check and normalize the fields of map (a client's user.create args or
//  user.update changes) into self, given[] set for each. Unknown keys,
//  read-only fields and invalid values become errors. With create true,
//  name, email and role are required and an absent team becomes "". nil
//  clears manager_id, makes team ""; it is refused for name, email and
//  role. Whether manager_id names an active manager is the store's
//  question (apply.h). Returns the number of errors (at most max_errors).
int user_validate(user_t *self, const msgpack_object *map, bool create, user_error_t *errors,
                  int max_errors);

void user_test(void);

#endif
