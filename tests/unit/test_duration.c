//  Runs the self-test of rp_duration (libshared/src/duration.c).
#include <rapport/duration.h>
#include <stdio.h>

int main(void)
{
    rp_duration_test();
    printf("rp_duration: OK\n");
    return 0;
}
