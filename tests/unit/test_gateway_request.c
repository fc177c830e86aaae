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

//  The self-tests do not forward; forwarding is proven by the system tests
//  (tests/system/test_gateway_customers.py) against the real services.
void gw_forward_json(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, json_t *args, gw_forward_fn *on_success,
                     void *arg)
{
    (void)self, (void)ex_p, (void)service, (void)op, (void)idem, (void)args;
    (void)on_success, (void)arg;
    abort();
}

int main(void)
{
    gw_request_test();
    gw_customers_test();
    printf("gateway request, customers: OK\n");
    return 0;
}
