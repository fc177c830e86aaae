//  Runs the self-test of services/customers/timeline.c, compiled in with the
//  customers sources it needs as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    timeline_test();
    printf("timeline: OK\n");
    return 0;
}
