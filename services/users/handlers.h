/*  handlers.h — the users ops (docs/users.md; the request envelope's actor
    {user, role, team} decides what a caller may see and do).

    On "users.writer" (the lease holder): users.create, users.update,
    users.rotate_key, users.revoke — validate, append one user.* event with
    the lease epoch and the request's idem ("users/<idem>"), wait until
    applied here, answer the outcome. create and rotate_key generate the
    API key here, put only its hash in the event, and answer the clear key
    once, in the reply to the request that made it.
    On "users" (any instance, min_seq honoured): users.get, users.list,
    users.by_key; users.preferences and users.set_preferences
    (preferences.h) on the same workers.
*/
#ifndef USERS_HANDLERS_H
#define USERS_HANDLERS_H

#include <rapport/service.h>
#include <rapport/write.h>

typedef struct _users_handlers_t users_handlers_t;

users_handlers_t *users_handlers_new(void);

//  Frees (and wipes the keys of) the writes still waiting for the journal
//  or the feed (after rp_service_run returned: the runtime dropped their
//  callbacks).
void users_handlers_destroy(users_handlers_t **self_p);

//  The writes in flight, for the ops of the service's other files
//  (preferences.c).
rp_writes_t *users_handlers_writes(users_handlers_t *self);

//  rp_service_def_t.init and .fini: libsodium started (exit 1 if it
//  cannot be: keys come from its random generator), a users_handlers_t.
rp_service_init_fn users_handlers_init;
rp_service_fini_fn users_handlers_fini;

//  The op table (rp_service_def_t.ops, with arg = a users_handlers_t).
extern const rp_service_op_t users_handlers_ops[];

void users_handlers_test(void);

#endif
