//  Runs the self-test of the gateway's per-caller seq table
//  (services/gateway/seqs.c), compiled into this translation unit because
//  unit tests link with librapport.a only.
#include "../../services/gateway/seqs.c"

#include <stdio.h>

int main(void)
{
    gw_seqs_test();
    printf("gateway seqs: OK\n");
    return 0;
}
