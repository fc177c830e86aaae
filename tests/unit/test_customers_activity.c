//  Runs the self-test of services/customers/activity.c, compiled in with the
//  customers sources it needs as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    activity_test();
    printf("activity: OK\n");
    return 0;
}
