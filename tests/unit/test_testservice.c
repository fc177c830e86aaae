//  Runs the self-test of rp_testservice (libshared/src/testservice.c).
#include <rapport/testservice.h>
#include <stdio.h>

int main(void)
{
    rp_testservice_test();
    printf("rp_testservice: OK\n");
    return 0;
}
