//  Runs import_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/import.h"

#include <stdio.h>

int main(void)
{
    import_test();
    printf("import: OK\n");
    return 0;
}
