//  Runs gw_request_test(), gw_etag_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/etag.h"
#include "../../services/gateway/request.h"

#include <stdio.h>

int main(void)
{
    gw_request_test();
    gw_etag_test();
    printf("gateway request, etag: OK\n");
    return 0;
}
