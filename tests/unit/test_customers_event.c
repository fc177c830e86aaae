//  Runs scope_test(), event_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/event.h"
#include "../../services/customers/scope.h"

#include <stdio.h>

int main(void)
{
    scope_test();
    event_test();
    printf("event: OK\n");
    return 0;
}
