//  Runs timeline_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/timeline.h"

#include <stdio.h>

int main(void)
{
    timeline_test();
    printf("timeline: OK\n");
    return 0;
}
