//  Runs rule_test(): the rule record's checks (services/reminders/rule.h).
#include "../../services/reminders/rule.h"

#include <stdio.h>

int main(void)
{
    rule_test();
    printf("rule: OK\n");
    return 0;
}
