//  Runs router_test(): a unit test test_broker_* links
//  the broker objects (all but main.o), so it tests the code the program runs.
#include "../../services/broker/router.h"

#include <stdio.h>

int main(void)
{
    router_test();
    printf("router (broker): OK\n");
    return 0;
}
