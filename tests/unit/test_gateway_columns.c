//  Runs gw_columns_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/columns.h"

#include <stdio.h>

int main(void)
{
    gw_columns_test();
    printf("gateway columns: OK\n");
    return 0;
}
