//  Runs the self-test of the opportunities service's history.c.
#include "../../services/opportunities/history.h"
#include <stdio.h>

int main(void)
{
    history_test();
    printf("opportunities history: OK\n");
    return 0;
}
