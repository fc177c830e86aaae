//  Runs the self-test of rp_schedule (libshared/src/schedule.c).
#include <rapport/schedule.h>
#include <stdio.h>

int main(void)
{
    rp_schedule_test();
    printf("rp_schedule: OK\n");
    return 0;
}
