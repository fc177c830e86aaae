//  Runs stats_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/stats.h"

#include <stdio.h>

int main(void)
{
    stats_test();
    printf("stats: OK\n");
    return 0;
}
