//  Runs the self-test of services/customers/page.c (pages of a customer's
//  entries, forward and newest first, with cursors).
#include "../../services/customers/page.c"

#include <stdio.h>

int main(void)
{
    page_test();
    printf("page: OK\n");
    return 0;
}
