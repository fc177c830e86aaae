//  Runs the self-test of the customers service's normalizers
//  (services/customers/normalize.c), compiled in as one translation unit.
#include "../../services/customers/normalize.c"

#include <stdio.h>

int main(void)
{
    normalize_test();
    printf("normalize: OK\n");
    return 0;
}
