//  Runs the self-test of the readiness file (libshared/src/ready.c).
#include <rapport/ready.h>

#include <stdio.h>

int main(void)
{
    rp_ready_test();
    printf("ready: OK\n");
    return 0;
}
