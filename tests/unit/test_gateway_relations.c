//  Runs gw_relations_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/relations.h"

#include <stdio.h>

int main(void)
{
    gw_relations_test();
    printf("relations: OK\n");
    return 0;
}
