//  Runs customers_handlers_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/handlers.h"

#include <stdio.h>

int main(void)
{
    customers_handlers_test();
    printf("customers handlers: OK\n");
    return 0;
}
