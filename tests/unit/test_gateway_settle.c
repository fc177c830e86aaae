//  Runs gw_settle_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/settle.h"

#include <stdio.h>

int main(void)
{
    gw_settle_test();
    printf("gateway settle: OK\n");
    return 0;
}
