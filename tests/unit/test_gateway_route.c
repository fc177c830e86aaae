//  Runs gw_routes_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/route.h"

#include <stdio.h>

int main(void)
{
    gw_routes_test();
    printf("gateway route: OK\n");
    return 0;
}
