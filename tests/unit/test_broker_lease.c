//  Runs lease_test(): a unit test test_broker_* links
//  the broker objects (all but main.o), so it tests the code the program runs.
#include "../../services/broker/lease.h"

#include <stdio.h>

int main(void)
{
    lease_test();
    printf("lease: OK\n");
    return 0;
}
