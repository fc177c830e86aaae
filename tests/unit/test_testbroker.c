//  Runs the self-test of rp_testbroker (libshared/src/testbroker.c).
#include <rapport/testbroker.h>
#include <stdio.h>

int main(void)
{
    rp_testbroker_test();
    printf("rp_testbroker: OK\n");
    return 0;
}
