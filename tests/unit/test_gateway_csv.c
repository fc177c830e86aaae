//  Runs gw_csv_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/csv.h"

#include <stdio.h>

int main(void)
{
    gw_csv_test();
    printf("gateway csv: OK\n");
    return 0;
}
