//  Runs grading_test(): a unit test test_customers_* links
//  the customers objects (all but main.o), so it tests the code the program runs.
#include "../../services/customers/grading.h"

#include <stdio.h>

int main(void)
{
    grading_test();
    printf("grading: OK\n");
    return 0;
}
