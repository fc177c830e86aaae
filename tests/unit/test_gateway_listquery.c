//  Runs gw_list_query_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/listquery.h"

#include <stdio.h>

int main(void)
{
    gw_list_query_test();
    printf("gateway listquery: OK\n");
    return 0;
}
