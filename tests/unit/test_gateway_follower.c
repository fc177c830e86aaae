//  Runs the self-test of the gateway's journal follower
//  (services/gateway/follower.c: rp_feed in a libevent loop), compiled into
//  this translation unit because unit tests link with librapport.a only.
#include "../../services/gateway/follower.c"

#include <stdio.h>

int main(void)
{
    zsys_init();
    gw_follower_test();
    printf("gateway follower: OK\n");
    return 0;
}
