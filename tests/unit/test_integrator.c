//  Runs the self-test of rp_integrator (libshared/src/integrator.c).
#include <rapport/integrator.h>
#include <stdio.h>

int main(void)
{
    rp_integrator_test();
    printf("rp_integrator: OK\n");
    return 0;
}
