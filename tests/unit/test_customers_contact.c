//  Runs the self-test of services/customers/contact.c, compiled in with the
//  customers sources it needs as one translation unit.
#include "customers_store.h"

#include <stdio.h>

int main(void)
{
    contact_test();
    printf("contact: OK\n");
    return 0;
}
