//  Runs reminders_report_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/report.h"

#include <stdio.h>

int main(void)
{
    reminders_report_test();
    printf("report: OK\n");
    return 0;
}
