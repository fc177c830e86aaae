//  Runs the self-tests of customers.list's filters, sorts and cursors
//  (services/customers/query.c) and of the actor scope (scope.c), compiled
//  in with the record code as one translation unit.
#include "../../services/customers/activity.c"
#include "../../services/customers/apply.c"
#include "../../services/customers/assign.c"
#include "../../services/customers/contact.c"
#include "../../services/customers/customer.c"
#include "../../services/customers/merge.c"
#include "../../services/customers/normalize.c"
#include "../../services/customers/page.c"
#include "../../services/customers/query.c"
#include "../../services/customers/record.c"
#include "../../services/customers/scope.c"
#include "../../services/customers/timeline.c"

#include <stdio.h>

int main(void)
{
    scope_test();
    query_test();
    printf("query: OK\n");
    return 0;
}
