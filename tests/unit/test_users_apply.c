//  Runs the self-test of the users store's apply (services/users/apply.c:
//  outcomes, e-mail and key indexes, revocation, determinism), compiled in
//  with the record and key code as one translation unit.
#include "../../services/users/apikey.c"
#include "../../services/users/apply.c"
#include "../../services/users/user.c"

#include <stdio.h>

int main(void)
{
    apply_test();
    printf("users apply: OK\n");
    return 0;
}
