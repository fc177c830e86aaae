//  Runs the self-test of rp_recurrence (libshared/src/recurrence.c).
#include <rapport/recurrence.h>
#include <stdio.h>

int main(void)
{
    rp_recurrence_test();
    printf("rp_recurrence: OK\n");
    return 0;
}
