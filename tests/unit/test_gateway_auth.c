//  Runs the self-test of the gateway's key check (services/gateway/auth.c,
//  with the directory it looks user keys up in), compiled into this
//  translation unit because unit tests link with librapport.a only.
#include "../../services/gateway/auth.c"
#include "../../services/gateway/directory.c"

#include <stdio.h>

int main(void)
{
    gw_auth_test();
    printf("gateway auth: OK\n");
    return 0;
}
