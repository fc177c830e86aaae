//  Runs the self-test of the customer record (services/customers/customer.c:
//  field checks, normalization, the stored form), compiled in as one unit.
#include "../../services/customers/customer.c"
#include "../../services/customers/normalize.c"

#include <stdio.h>

int main(void)
{
    customer_test();
    printf("customer: OK\n");
    return 0;
}
