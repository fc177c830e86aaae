//  Runs the self-test of rp_appends (libshared/src/append.c).
#include <rapport/append.h>
#include <stdio.h>

int main(void)
{
    rp_appends_test();
    printf("rp_appends: OK\n");
    return 0;
}
