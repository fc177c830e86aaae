//  Runs gw_follower_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/follower.h"

#include <stdio.h>

int main(void)
{
    zsys_init();
    gw_follower_test();
    printf("gateway follower: OK\n");
    return 0;
}
