//  Runs normalize_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/normalize.h"

#include <stdio.h>

int main(void)
{
    normalize_test();
    printf("normalize: OK\n");
    return 0;
}
