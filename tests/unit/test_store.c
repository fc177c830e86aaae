//  Runs the self-test of rp_store (libshared/src/store.c).
#include <rapport/store.h>
#include <stdio.h>

int main(void)
{
    rp_store_test();
    printf("rp_store: OK\n");
    return 0;
}
