//  Runs the self-test of rp_config (libshared/src/config.c).
#include <rapport/config.h>
#include <stdio.h>

int main(void)
{
    rp_config_test();
    printf("rp_config: OK\n");
    return 0;
}
