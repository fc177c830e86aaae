//  Runs the self-tests of customers.list's filters, sorts and cursors
//  (services/customers/query.c) and of the actor scope (scope.c), compiled
//  in with the record code as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    scope_test();
    query_test();
    printf("query: OK\n");
    return 0;
}
