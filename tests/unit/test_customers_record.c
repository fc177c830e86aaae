//  Runs record_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/record.h"

#include <stdio.h>

int main(void)
{
    record_test();
    printf("record: OK\n");
    return 0;
}
