//  Runs gw_auth_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/auth.h"

#include <stdio.h>

int main(void)
{
    gw_auth_test();
    printf("gateway auth: OK\n");
    return 0;
}
