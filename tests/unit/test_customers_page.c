//  Runs page_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/page.h"

#include <stdio.h>

int main(void)
{
    page_test();
    printf("page: OK\n");
    return 0;
}
