//  Runs the self-test of services/customers/merge.c, compiled in with the
//  customers sources it needs as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    merge_test();
    printf("merge: OK\n");
    return 0;
}
