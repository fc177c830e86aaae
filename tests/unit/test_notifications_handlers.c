//  Runs notifications_handlers_test(): a unit test test_notifications_* links the
//  notifications objects (all but main.o) and the reminders fold.
#include "../../services/notifications/handlers.h"

#include <stdio.h>

int main(void)
{
    notifications_handlers_test();
    printf("handlers: OK\n");
    return 0;
}
