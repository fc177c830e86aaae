/*  scope.h — who is asking, and what they may see: the request envelope's
    actor {user, role, team} (docs/protocol.md) checked once, and the
    visibility rule of DESIGN.md §4 (sales: records they own; manager and
    readonly: their team's; admin: all), and what each role may assign.
    Used by every op (handlers, relations, query, duplicates, report,
    import), and by event.h to stamp events with the actor.
*/
#ifndef CUSTOMERS_SCOPE_H
#define CUSTOMERS_SCOPE_H

#include "customer.h"

#include <rapport/envelope.h>
#include <rapport/pack.h>

typedef enum { SCOPE_NONE, SCOPE_ADMIN, SCOPE_MANAGER, SCOPE_SALES, SCOPE_READONLY } scope_role_t;

typedef struct {
    scope_role_t role; //  SCOPE_NONE: unknown role, or no sane user
    const char *user;
    size_t user_len;
    const char *team; //  NULL when absent
    size_t team_len;
} scope_t;

//  Read the request's actor (borrowing its strings).
void scope_parse(scope_t *self, const rp_request_t *req);

//  May the actor see (write false) or change (write true) the record?
bool scope_allows(const scope_t *self, const rp_record_t *record, bool write);

//  Roles that may change customers at all.
bool scope_may_write(const scope_t *self);

//  May the actor give a record these owner and team (the fields given in
//  changes)? Sales keep their own customers in their team; managers stay
//  in theirs. NULL when allowed, else the field name refused.
const char *scope_assign_check(const scope_t *self, const rp_record_t *changes);

//  Pack the actor as an event's {user, role, team}.
void scope_pack(const scope_t *self, msgpack_packer *pk);

void scope_test(void);

#endif
