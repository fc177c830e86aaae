//  Runs reminders_handlers_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/handlers.h"

#include <stdio.h>

int main(void)
{
    reminders_handlers_test();
    printf("handlers: OK\n");
    return 0;
}
