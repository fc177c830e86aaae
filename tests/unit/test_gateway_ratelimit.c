//  Runs gw_ratelimit_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/ratelimit.h"

#include <stdio.h>

int main(void)
{
    gw_ratelimit_test();
    printf("gateway ratelimit: OK\n");
    return 0;
}
