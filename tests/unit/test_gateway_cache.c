//  Runs gw_cache_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/cache.h"

#include <stdio.h>

int main(void)
{
    gw_cache_test();
    printf("gateway cache: OK\n");
    return 0;
}
