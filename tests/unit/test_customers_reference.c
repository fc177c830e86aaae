//  Runs reference_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/reference.h"

#include <stdio.h>

int main(void)
{
    reference_test();
    printf("reference: OK\n");
    return 0;
}
