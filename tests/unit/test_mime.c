//  Runs the self-test of rp_mime (libshared/src/mime.c).
#include <rapport/mime.h>
#include <stdio.h>

int main(void)
{
    rp_mime_test();
    printf("rp_mime: OK\n");
    return 0;
}
