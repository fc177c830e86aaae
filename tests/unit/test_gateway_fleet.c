//  Runs gw_fleet_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/fleet.h"

#include <stdio.h>

int main(void)
{
    gw_fleet_test();
    printf("gateway fleet: OK\n");
    return 0;
}
