//  Runs the self-test of rp_event (libshared/src/event.c).
#include <rapport/event.h>
#include <stdio.h>

int main(void)
{
    rp_event_test();
    printf("rp_event: OK\n");
    return 0;
}
