//  Runs the self-test of rp_intl (libshared/src/intl.c).
#include <rapport/intl.h>
#include <stdio.h>

int main(void)
{
    rp_intl_test();
    printf("rp_intl: OK\n");
    return 0;
}
