//  Runs the self-test of rp_outbound (libshared/src/outbound.c).
#include <rapport/outbound.h>
#include <stdio.h>

int main(void)
{
    rp_outbound_test();
    printf("rp_outbound: OK\n");
    return 0;
}
