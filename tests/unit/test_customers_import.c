//  Runs the self-test of customers.import (services/customers/import.c: the
//  session's table of keys seen earlier in the file), compiled in with the
//  customers sources it needs as one translation unit. The import itself is
//  proven over HTTP (tests/system/test_customers_import.py).
#include "customers_store.h"
#include "../../services/customers/event.c"
#include "../../services/customers/import.c"

#include <stdio.h>

int main(void)
{
    import_test();
    printf("import: OK\n");
    return 0;
}
