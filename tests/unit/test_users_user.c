//  Runs user_test(), apikey_test(), preferences_test(): a unit test test_users_* links
//  the users objects (all but main.o), so it tests the code the program runs.
#include "../../services/users/apikey.h"
#include "../../services/users/preferences.h"
#include "../../services/users/user.h"

#include <stdio.h>

int main(void)
{
    user_test();
    printf("users user: OK\n");
    apikey_test();
    printf("users apikey: OK\n");
    preferences_test();
    printf("users preferences: OK\n");
    return 0;
}
