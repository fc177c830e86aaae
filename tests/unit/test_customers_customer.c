//  Runs customer_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/customer.h"

#include <stdio.h>

int main(void)
{
    customer_test();
    printf("customer: OK\n");
    return 0;
}
