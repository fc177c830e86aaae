//  Runs notifications_purge_test(): a unit test test_notifications_* links the
//  notifications objects (all but main.o) and the reminders fold.
#include "../../services/notifications/purge.h"

#include <stdio.h>

int main(void)
{
    notifications_purge_test();
    printf("purge: OK\n");
    return 0;
}
