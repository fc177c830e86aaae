//  Runs gw_ready_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/ready.h"

#include <stdio.h>

int main(void)
{
    gw_ready_test();
    printf("gateway ready: OK\n");
    return 0;
}
