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

#include "gw_forward_stub.h"

int main(void)
{
    gw_users_test();
    printf("gateway users: OK\n");
    return 0;
}
