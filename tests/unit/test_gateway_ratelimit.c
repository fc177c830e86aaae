//  Runs the self-test of the gateway's per-key token buckets
//  (services/gateway/ratelimit.c), compiled into this translation unit
//  because unit tests link with librapport.a only.
#include "../../services/gateway/ratelimit.c"

#include <stdio.h>

int main(void)
{
    gw_ratelimit_test();
    printf("gateway ratelimit: OK\n");
    return 0;
}
