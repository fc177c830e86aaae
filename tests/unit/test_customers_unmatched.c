//  Runs unmatched_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/unmatched.h"

#include <stdio.h>

int main(void)
{
    unmatched_test();
    printf("unmatched: OK\n");
    return 0;
}
