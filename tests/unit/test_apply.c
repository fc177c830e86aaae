//  Runs the self-test of rp_apply (libshared/src/apply.c).
#include <rapport/apply.h>
#include <stdio.h>

int main(void)
{
    rp_apply_test();
    printf("rp_apply: OK\n");
    return 0;
}
