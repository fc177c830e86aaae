//  Runs the self-test of the gateway's readiness rule
//  (services/gateway/ready.c), compiled into this translation unit because
//  unit tests link with librapport.a only.
#include "../../services/gateway/ready.c"

#include <stdio.h>

int main(void)
{
    gw_ready_test();
    printf("gateway ready: OK\n");
    return 0;
}
