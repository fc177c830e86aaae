//  Runs the self-test of services/customers/event.c (event envelope, new
//  ids), compiled in with the scope and record code it needs.
#include "../../services/customers/customer.c"
#include "../../services/customers/event.c"
#include "../../services/customers/normalize.c"
#include "../../services/customers/scope.c"

#include <stdio.h>

int main(void)
{
    scope_test();
    event_test();
    printf("event: OK\n");
    return 0;
}
