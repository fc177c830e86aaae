//  Runs the self-test of rp_scope (libshared/src/scope.c).
#include <rapport/scope.h>
#include <stdio.h>

int main(void)
{
    rp_scope_test();
    printf("rp_scope: OK\n");
    return 0;
}
