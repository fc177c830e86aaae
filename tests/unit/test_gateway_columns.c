//  Runs the self-test of the gateway's CSV column conversions
//  (services/gateway/columns.c), with the CSV and JSON code it uses.
#include "../../services/gateway/columns.c"
#include "../../services/gateway/csv.c"
#include "../../services/gateway/json.c"

#include <stdio.h>

int main(void)
{
    gw_columns_test();
    printf("gateway columns: OK\n");
    return 0;
}
