//  Runs reminders_clock_test(): a unit test test_reminders_* links
//  the reminders objects (all but main.o), so it tests the code the program runs.
#include "../../services/reminders/clock.h"

#include <stdio.h>

int main(void)
{
    reminders_clock_test();
    printf("reminders clock: OK\n");
    return 0;
}
