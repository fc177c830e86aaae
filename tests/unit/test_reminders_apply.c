//  Runs reminders_apply_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/apply.h"

#include <stdio.h>

int main(void)
{
    reminders_apply_test();
    printf("apply: OK\n");
    return 0;
}
