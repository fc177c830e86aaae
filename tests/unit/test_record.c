//  Runs the self-test of rp_record (libshared/src/record.c).
#include <rapport/record.h>
#include <stdio.h>

int main(void)
{
    rp_record_test();
    printf("rp_record: OK\n");
    return 0;
}
