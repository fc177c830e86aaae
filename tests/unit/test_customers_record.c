//  Runs the self-test of services/customers/record.c (field tables,
//  validation, RFC 3339 times), compiled in with what it needs.
#include "../../services/customers/customer.c"
#include "../../services/customers/normalize.c"
#include "../../services/customers/record.c"

#include <stdio.h>

int main(void)
{
    record_test();
    printf("record: OK\n");
    return 0;
}
