//  Runs the self-test of rp_outcome (libshared/src/outcome.c).
#include <rapport/outcome.h>
#include <stdio.h>

int main(void)
{
    rp_outcome_test();
    printf("rp_outcome: OK\n");
    return 0;
}
