//  Runs the self-tests of the gateway's request readers and customers
//  routes (services/gateway/request.c, customers.c), compiled into this
//  translation unit with what they use, because unit tests link with
//  librapport.a only.
#include "../../services/gateway/cache.c"
#include "../../services/gateway/customers.c"
#include "../../services/gateway/etag.c"
#include "../../services/gateway/exchange.c"
#include "../../services/gateway/json.c"
#include "../../services/gateway/listquery.c"
#include "../../services/gateway/metrics.c"
#include "../../services/gateway/problem.c"
#include "../../services/gateway/request.c"
#include "../../services/gateway/seqs.c"

#include <stdio.h>

#include "gw_forward_stub.h"

int main(void)
{
    gw_request_test();
    gw_customers_test();
    printf("gateway request, customers: OK\n");
    return 0;
}
