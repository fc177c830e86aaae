//  Runs order_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/order.h"

#include <stdio.h>

int main(void)
{
    order_test();
    printf("order: OK\n");
    return 0;
}
