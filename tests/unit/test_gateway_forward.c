//  Runs gw_forwarder_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/forward.h"

#include <stdio.h>

int main(void)
{
    gw_forwarder_test();
    printf("gateway forward: OK\n");
    return 0;
}
