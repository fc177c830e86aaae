//  Runs the self-test of rp_netguard (libshared/src/netguard.c).
#include <rapport/netguard.h>
#include <stdio.h>

int main(void)
{
    rp_netguard_test();
    printf("rp_netguard: OK\n");
    return 0;
}
