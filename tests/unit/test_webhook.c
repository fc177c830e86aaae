//  Runs the self-test of rp_webhook (libshared/src/webhook.c).
#include <rapport/webhook.h>
#include <stdio.h>

int main(void)
{
    rp_webhook_test();
    printf("rp_webhook: OK\n");
    return 0;
}
