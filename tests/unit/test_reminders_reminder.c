//  Runs reminder_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/reminder.h"

#include <stdio.h>

int main(void)
{
    reminder_test();
    printf("reminder: OK\n");
    return 0;
}
