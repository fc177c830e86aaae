//  Runs reminders_query_test(): a unit test test_reminders_* links the reminders
//  objects (all but main.o).
#include "../../services/reminders/query.h"

#include <stdio.h>

int main(void)
{
    reminders_query_test();
    printf("query: OK\n");
    return 0;
}
