//  Runs the self-test of the customers store's apply (services/customers/
//  apply.c: outcomes, indexes, generated codes, determinism), compiled in with
//  the record and normalizer code as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    apply_test();
    printf("apply: OK\n");
    return 0;
}
