//  Runs the self-test of the gateway's routes under a customer
//  (services/gateway/relations.c), compiled into this translation unit
//  with what it uses, because unit tests link with librapport.a only.
#include "../../services/gateway/etag.c"
#include "../../services/gateway/exchange.c"
#include "../../services/gateway/json.c"
#include "../../services/gateway/metrics.c"
#include "../../services/gateway/problem.c"
#include "../../services/gateway/relations.c"
#include "../../services/gateway/request.c"

#include <stdio.h>

#include "gw_forward_stub.h"

int main(void)
{
    gw_relations_test();
    printf("relations: OK\n");
    return 0;
}
