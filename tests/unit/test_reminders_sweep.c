//  Runs reminders_sweep_test(): the writer's sweep of the rules (services/reminders/sweep.h).
#include "../../services/reminders/sweep.h"

#include <stdio.h>

int main(void)
{
    reminders_sweep_test();
    printf("sweep: OK\n");
    return 0;
}
