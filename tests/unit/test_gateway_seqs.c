//  Runs gw_seqs_test(): a unit test test_gateway_* links
//  the gateway objects (all but main.o), so it tests the code the program runs.
#include "../../services/gateway/seqs.h"

#include <stdio.h>

int main(void)
{
    gw_seqs_test();
    printf("gateway seqs: OK\n");
    return 0;
}
