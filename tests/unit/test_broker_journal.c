//  Runs journal_test(): a unit test test_broker_* links
//  the broker objects (all but main.o), so it tests the code the program runs.
#include "../../services/broker/journal.h"

#include <stdio.h>

int main(void)
{
    journal_test();
    printf("journal (broker): OK\n");
    return 0;
}
