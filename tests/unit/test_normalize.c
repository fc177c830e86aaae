//  Runs the self-test of rp_normalize (libshared/src/normalize.c).
#include <rapport/normalize.h>
#include <stdio.h>

int main(void)
{
    rp_normalize_test();
    printf("rp_normalize: OK\n");
    return 0;
}
