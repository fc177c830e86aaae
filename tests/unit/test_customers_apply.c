//  Runs customers_apply_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/apply.h"

#include <stdio.h>

int main(void)
{
    customers_apply_test();
    printf("apply: OK\n");
    return 0;
}
