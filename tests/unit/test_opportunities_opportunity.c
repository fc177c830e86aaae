//  Runs the self-test of the opportunities service's opportunity.c.
#include "../../services/opportunities/opportunity.h"
#include <stdio.h>

int main(void)
{
    opportunity_test();
    printf("opportunities opportunity: OK\n");
    return 0;
}
