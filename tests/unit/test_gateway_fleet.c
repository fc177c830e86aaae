//  Runs the self-test of the gateway's view of the services
//  (services/gateway/fleet.c), compiled into this translation unit because
//  unit tests link with librapport.a only.
#include "../../services/gateway/fleet.c"

#include <stdio.h>

int main(void)
{
    gw_fleet_test();
    printf("gateway fleet: OK\n");
    return 0;
}
