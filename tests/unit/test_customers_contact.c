//  Runs contact_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/contact.h"

#include <stdio.h>

int main(void)
{
    contact_test();
    printf("contact: OK\n");
    return 0;
}
