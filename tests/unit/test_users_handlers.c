//  Runs users_handlers_test(): a unit test test_users_* links
//  the users objects (all but main.o), so it tests the code the program runs.
#include "../../services/users/handlers.h"

#include <stdio.h>

int main(void)
{
    users_handlers_test();
    printf("users handlers: OK\n");
    return 0;
}
