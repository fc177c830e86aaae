//  Runs gw_users_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/users.h"

#include <stdio.h>

int main(void)
{
    gw_users_test();
    printf("gateway users: OK\n");
    return 0;
}
