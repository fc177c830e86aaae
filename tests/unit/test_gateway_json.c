//  Runs the self-test of the gateway's JSON ↔ MessagePack conversion
//  (services/gateway/json.c), compiled into this translation unit because
//  unit tests link with librapport.a only.
#include "../../services/gateway/json.c"

#include <stdio.h>

int main(void)
{
    gw_json_test();
    printf("gateway json: OK\n");
    return 0;
}
