//  Runs rules_apply_test() and reminders_rules_ops_test(): the follow-up
//  rules in the reminders store and their ops (services/reminders/rules.h,
//  rules_ops.h).
#include "../../services/reminders/rules.h"
#include "../../services/reminders/rules_ops.h"

#include <stdio.h>

int main(void)
{
    rules_apply_test();
    reminders_rules_ops_test();
    printf("rules: OK\n");
    return 0;
}
