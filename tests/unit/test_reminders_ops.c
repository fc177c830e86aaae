//  Runs reminders_ops_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/ops.h"

#include <stdio.h>

int main(void)
{
    reminders_ops_test();
    printf("ops: OK\n");
    return 0;
}
