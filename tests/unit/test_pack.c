//  Runs the self-test of rp_pack (libshared/src/pack.c).
#include <rapport/pack.h>
#include <stdio.h>

int main(void)
{
    rp_pack_test();
    printf("rp_pack: OK\n");
    return 0;
}
