//  Runs dates_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/dates.h"

#include <stdio.h>

int main(void)
{
    dates_test();
    printf("dates: OK\n");
    return 0;
}
