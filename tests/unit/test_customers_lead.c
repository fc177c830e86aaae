//  Runs lead_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/lead.h"

#include <stdio.h>

int main(void)
{
    lead_test();
    printf("lead: OK\n");
    return 0;
}
