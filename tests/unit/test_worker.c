//  Runs the self-test of rp_worker (libshared/src/worker.c).
#include <rapport/worker.h>
#include <stdio.h>

int main(void)
{
    rp_worker_test();
    printf("rp_worker: OK\n");
    return 0;
}
