//  Runs the self-test of the opportunities service's pipeline.c.
#include "../../services/opportunities/pipeline.h"
#include <stdio.h>

int main(void)
{
    pipeline_test();
    printf("opportunities pipeline: OK\n");
    return 0;
}
