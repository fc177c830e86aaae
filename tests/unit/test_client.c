//  Runs the self-test of rp_client (libshared/src/client.c).
#include <rapport/client.h>
#include <stdio.h>

int main(void)
{
    rp_client_test();
    printf("rp_client: OK\n");
    return 0;
}
