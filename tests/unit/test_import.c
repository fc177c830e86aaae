//  Runs the self-test of rp_import (libshared/src/import.c).
#include <rapport/import.h>
#include <stdio.h>

int main(void)
{
    rp_import_test();
    printf("rp_import: OK\n");
    return 0;
}
