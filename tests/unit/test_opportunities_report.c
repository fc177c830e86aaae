//  Runs report_test(): the opportunities reports over a real store.
#include "../../services/opportunities/report.h"

#include <stdio.h>

int main(void)
{
    report_test();
    printf("report: OK\n");
    return 0;
}
