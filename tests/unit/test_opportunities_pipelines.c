//  Runs pipelines_test(): the pipelines' checks, their events' apply and
//  their ops through the runtime and the test broker.
#include "../../services/opportunities/pipelines.h"

#include <stdio.h>

int main(void)
{
    pipelines_test();
    printf("pipelines: OK\n");
    return 0;
}
