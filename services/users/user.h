/*  user.h — the user record (issue 3: people who hold API keys): its
    field table, an rp_record (rapport/record.h); the roles are rapport/scope.h's.

    A record is stored as one MessagePack map with every field of the table
    below, in table order (absent values are nil):

        {id, name, email, role, team, manager_id, active, version,
         created_at, updated_at}

    The key hash is not part of the record (apply keeps it in its own
    databases), so a stored record can be copied into a reply as it is.

    The table's rules (rp_record_validate): name 1..200 bytes, email
    (rp_normalize_email) and role required and never nil; team 0..100
    bytes, nil or absent on create is ""; manager_id a user id, nil clears
    it. Whether manager_id names an active manager is the store's question
    (apply.h).
*/
#ifndef USERS_USER_H
#define USERS_USER_H

#include <rapport/record.h>

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
#define USER_MAX_ERRORS 16

//  An empty user record (an rp_record of the table above, rapport/record.h).
void user_init(rp_record_t *self);

//  An error for manager_id with code "not_found", "not_manager" or "self"
//  (apply_manager_check) and its message.
void user_manager_error(rp_field_error_t *error, const char *code);

void user_test(void);

#endif
