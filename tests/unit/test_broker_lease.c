//  Runs the self-test of the broker's lease table (services/broker/lease.c),
//  compiled into this test as one translation unit.
#include "../../services/broker/lease.c"

#include <stdio.h>

int main(void)
{
    lease_test();
    printf("lease: OK\n");
    return 0;
}
