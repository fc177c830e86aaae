//  Runs the self-test of rp_money (libshared/src/money.c).
#include <rapport/money.h>
#include <stdio.h>

int main(void)
{
    rp_money_test();
    printf("rp_money: OK\n");
    return 0;
}
