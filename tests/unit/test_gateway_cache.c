//  Runs the self-test of the gateway's cache of customer reads
//  (services/gateway/cache.c), compiled into this translation unit because
//  unit tests link with librapport.a only.
#include "../../services/gateway/cache.c"

#include <stdio.h>

int main(void)
{
    gw_cache_test();
    printf("gateway cache: OK\n");
    return 0;
}
