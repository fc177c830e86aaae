//  Runs opportunities_apply_test(): a unit test test_opportunities_* links
//  the opportunities objects (all but main.o) and the customers fold.
#include "../../services/opportunities/apply.h"

#include <stdio.h>

int main(void)
{
    opportunities_apply_test();
    printf("apply: OK\n");
    return 0;
}
