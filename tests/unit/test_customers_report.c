//  Runs report_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/report.h"

#include <stdio.h>

int main(void)
{
    report_test();
    printf("report: OK\n");
    return 0;
}
