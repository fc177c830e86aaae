//  Runs the self-test of rp_sched (libshared/src/sched.c).
#include <rapport/sched.h>
#include <stdio.h>

int main(void)
{
    rp_sched_test();
    printf("rp_sched: OK\n");
    return 0;
}
