//  Runs users_apply_test(): a unit test test_users_* links
//  the users objects (all but main.o), so it tests the code the program runs.
#include "../../services/users/apply.h"

#include <stdio.h>

int main(void)
{
    users_apply_test();
    printf("users apply: OK\n");
    return 0;
}
