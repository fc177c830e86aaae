//  Runs the self-test of rp_service (libshared/src/service.c).
#include <rapport/service.h>
#include <stdio.h>

int main(void)
{
    rp_service_test();
    printf("rp_service: OK\n");
    return 0;
}
