//  Runs gw_metrics_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/metrics.h"

#include <stdio.h>

int main(void)
{
    gw_metrics_test();
    printf("gateway metrics: OK\n");
    return 0;
}
