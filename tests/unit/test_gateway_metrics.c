//  Runs the self-test of the gateway's metrics (services/gateway/metrics.c),
//  compiled into this translation unit because unit tests link with
//  librapport.a only.
#include "../../services/gateway/metrics.c"

#include <stdio.h>

int main(void)
{
    gw_metrics_test();
    printf("gateway metrics: OK\n");
    return 0;
}
