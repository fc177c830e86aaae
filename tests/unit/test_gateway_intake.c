//  Runs gw_intake_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/intake.h"

#include <stdio.h>

int main(void)
{
    gw_intake_test();
    printf("gateway intake: OK\n");
    return 0;
}
