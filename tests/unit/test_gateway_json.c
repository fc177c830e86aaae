//  Runs gw_json_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/json.h"

#include <stdio.h>

int main(void)
{
    gw_json_test();
    printf("gateway json: OK\n");
    return 0;
}
