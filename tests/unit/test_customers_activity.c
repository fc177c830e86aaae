//  Runs activity_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/activity.h"

#include <stdio.h>

int main(void)
{
    activity_test();
    printf("activity: OK\n");
    return 0;
}
