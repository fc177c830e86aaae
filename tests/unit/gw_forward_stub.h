//  For gateway self-tests compiled with the route modules but not
//  forward.c: they do not forward (forwarding is proven by the system tests,
//  tests/system/test_gateway_*.py, against the real services), so a forward
//  is a bug in the test. Include after the services/gateway/*.c files.
#include <stdlib.h>

void gw_forward_json(gw_forwarder_t *self, gw_exchange_t **ex_p, const char *service,
                     const char *op, const char *idem, json_t *args, gw_forward_fn *on_success,
                     void *arg)
{
    (void)self, (void)ex_p, (void)service, (void)op, (void)idem, (void)args;
    (void)on_success, (void)arg;
    abort();
}
