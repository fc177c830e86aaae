//  Runs the self-test of the gateway's CSV reader and writer
//  (services/gateway/csv.c: quoting, multi-line fields, line numbers, BOM,
//  bad UTF-8, limits), compiled into this translation unit because unit
//  tests link with librapport.a only.
#include "../../services/gateway/csv.c"

#include <stdio.h>

int main(void)
{
    gw_csv_test();
    printf("gateway csv: OK\n");
    return 0;
}
