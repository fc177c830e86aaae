//  Runs merge_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/merge.h"

#include <stdio.h>

int main(void)
{
    merge_test();
    printf("merge: OK\n");
    return 0;
}
