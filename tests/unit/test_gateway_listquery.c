//  Runs the self-test of the customers list query checks
//  (services/gateway/listquery.c), with the gateway code it calls.
#include "../../services/gateway/exchange.c"
#include "../../services/gateway/json.c"
#include "../../services/gateway/listquery.c"
#include "../../services/gateway/metrics.c"
#include "../../services/gateway/problem.c"
#include "../../services/gateway/request.c"

#include <stdio.h>

int main(void)
{
    gw_list_query_test();
    printf("gateway listquery: OK\n");
    return 0;
}
