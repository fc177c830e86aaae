//  Runs the self-tests of the user record (services/users/user.c: fields,
//  validation, e-mail normalization) and of API keys (apikey.c: random
//  keys, SHA-256 hashes).
#include "../../services/users/apikey.c"
#include "../../services/users/user.c"

#include <stdio.h>

int main(void)
{
    user_test();
    printf("users user: OK\n");
    apikey_test();
    printf("users apikey: OK\n");
    return 0;
}
