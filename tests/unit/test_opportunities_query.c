//  Runs deals_query_test(): the opportunities list's filters, sorts and
//  cursors over a real store.
#include "../../services/opportunities/query.h"

#include <stdio.h>

int main(void)
{
    deals_query_test();
    printf("query: OK\n");
    return 0;
}
