//  Runs notifications_apply_test(): a unit test test_notifications_* links the
//  notifications objects (all but main.o) and the reminders fold.
#include "../../services/notifications/apply.h"

#include <stdio.h>

int main(void)
{
    notifications_apply_test();
    printf("apply: OK\n");
    return 0;
}
