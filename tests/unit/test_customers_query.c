//  Runs scope_test(), query_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/query.h"
#include "../../services/customers/scope.h"

#include <stdio.h>

int main(void)
{
    scope_test();
    query_test();
    printf("query: OK\n");
    return 0;
}
