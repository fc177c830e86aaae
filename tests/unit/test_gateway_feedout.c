//  Runs gw_feedout_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/feedout.h"

#include <czmq.h>
#include <stdio.h>

int main(void)
{
    zsys_init();
    gw_feedout_test();
    printf("gateway feedout: OK\n");
    return 0;
}
