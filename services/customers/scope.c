/*  scope.c — see scope.h. */
#include "scope.h"

#include <assert.h>
#include <string.h>

bool scope_allows(const rp_scope_t *self, const rp_record_t *record, bool write)
{
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    rp_record_str(record, CUSTOMER_OWNER, &owner, &owner_len);
    rp_record_str(record, CUSTOMER_TEAM, &team, &team_len);
    return rp_scope_allows(self, owner, owner_len, team, team_len, write);
}

const char *scope_assign_check(const rp_scope_t *self, const rp_record_t *changes)
{
    const char *owner = NULL, *team = NULL;
    size_t owner_len = 0, team_len = 0;
    rp_record_str(changes, CUSTOMER_OWNER, &owner, &owner_len);
    rp_record_str(changes, CUSTOMER_TEAM, &team, &team_len);
    return rp_scope_assign_check(self, changes->given[CUSTOMER_OWNER], owner, owner_len,
                                 changes->given[CUSTOMER_TEAM], team, team_len);
}

//  ---------------------------------------------------------------------

void scope_test(void)
{
    rp_record_t record;
    customer_init(&record);
    rp_record_set_str(&record, CUSTOMER_OWNER, "ann", 3);
    rp_record_set_str(&record, CUSTOMER_TEAM, "east", 4);
    rp_scope_t sales = {RP_ROLE_SALES, "ann", 3, "east", 4};
    rp_scope_t other = {RP_ROLE_SALES, "bob", 3, "east", 4};
    rp_scope_t manager = {RP_ROLE_MANAGER, "max", 3, "east", 4};
    rp_scope_t west = {RP_ROLE_MANAGER, "wes", 3, "west", 4};
    rp_scope_t readonly = {RP_ROLE_READONLY, "rex", 3, "east", 4};
    rp_scope_t integrator = {RP_ROLE_INTEGRATOR, "erp", 3, "east", 4};
    assert(scope_allows(&sales, &record, true));
    assert(!scope_allows(&other, &record, false));
    assert(scope_allows(&manager, &record, true));
    assert(!scope_allows(&west, &record, false));
    assert(scope_allows(&readonly, &record, false) && !scope_allows(&readonly, &record, true));
    assert(!scope_allows(&integrator, &record, false));

    rp_record_t changes;
    customer_init(&changes);
    assert(scope_assign_check(&sales, &changes) == NULL);
    rp_record_set_str(&changes, CUSTOMER_OWNER, "bob", 3);
    assert(strcmp(scope_assign_check(&sales, &changes), "owner") == 0);
    assert(scope_assign_check(&manager, &changes) == NULL);
    rp_record_set_str(&changes, CUSTOMER_TEAM, "west", 4);
    assert(strcmp(scope_assign_check(&manager, &changes), "team") == 0);
    rp_scope_t admin = {RP_ROLE_ADMIN, "root", 4, NULL, 0};
    assert(scope_assign_check(&admin, &changes) == NULL);
    rp_record_reset(&changes);
    rp_record_reset(&record);
}
