//  Runs the self-test of the gateway's key directory
//  (services/gateway/directory.c), compiled into this translation unit
//  because unit tests link with librapport.a only.
#include "../../services/gateway/directory.c"

#include <stdio.h>

int main(void)
{
    gw_directory_test();
    printf("gateway directory: OK\n");
    return 0;
}
