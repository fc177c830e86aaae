/*  scope.h — what a caller may see and assign of a customer: the record's
    owner and team under the role rules of rapport/scope.h (sales: records
    they own; manager and readonly: their team's; admin: all; integrator
    and unknown roles: none), and what each role may give a record. The
    actor itself (rp_scope_t, parsed once per request with rp_scope_parse)
    and the roles are libshared's, as for every service. Used by every op
    (handlers, relations, query, duplicates, report, import).
*/
#ifndef CUSTOMERS_SCOPE_H
#define CUSTOMERS_SCOPE_H

#include "customer.h"

#include <rapport/scope.h>

//  May the actor see (write false) or change (write true) the record?
bool scope_allows(const rp_scope_t *self, const rp_record_t *record, bool write);

//  May the actor give a record these owner and team (the fields given in
//  changes)? Sales keep their own customers in their team; managers stay
//  in theirs. NULL when allowed, else the field name refused.
const char *scope_assign_check(const rp_scope_t *self, const rp_record_t *changes);

void scope_test(void);

#endif
