//  Runs gw_feedview_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/feedview.h"

#include <czmq.h>
#include <stdio.h>

int main(void)
{
    zsys_init();
    gw_feedview_test();
    printf("gateway feedview: OK\n");
    return 0;
}
