//  Runs the self-test of the gateway's users routes
//  (services/gateway/users.c: body validation), compiled into this
//  translation unit with what they use, because unit tests link with
//  librapport.a only.
#include "../../services/gateway/directory.c"
#include "../../services/gateway/etag.c"
#include "../../services/gateway/exchange.c"
#include "../../services/gateway/json.c"
#include "../../services/gateway/metrics.c"
#include "../../services/gateway/problem.c"
#include "../../services/gateway/request.c"
#include "../../services/gateway/users.c"

#include <stdio.h>

//  The self-test does not forward; forwarding is proven by the system tests
//  (tests/system/test_gateway_users.py) against the real services.
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
    gw_users_test();
    printf("gateway users: OK\n");
    return 0;
}
