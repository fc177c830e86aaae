//  Runs the self-test of rp_envelope (libshared/src/envelope.c).
#include <rapport/envelope.h>
#include <stdio.h>

int main(void)
{
    rp_envelope_test();
    printf("rp_envelope: OK\n");
    return 0;
}
