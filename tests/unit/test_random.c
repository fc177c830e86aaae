//  Runs the self-test of rp_random (libshared/src/random.c).
#include <rapport/random.h>
#include <stdio.h>

int main(void)
{
    rp_random_test();
    printf("rp_random: OK\n");
    return 0;
}
