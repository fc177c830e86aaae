//  Runs the self-test of rp_writes (libshared/src/write.c).
#include <rapport/write.h>
#include <stdio.h>

int main(void)
{
    rp_writes_test();
    printf("rp_writes: OK\n");
    return 0;
}
