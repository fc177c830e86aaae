//  Runs gw_directory_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/directory.h"

#include <stdio.h>

int main(void)
{
    gw_directory_test();
    printf("gateway directory: OK\n");
    return 0;
}
