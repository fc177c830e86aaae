//  Runs the self-test of rp_items (libshared/src/items.c).
#include <rapport/items.h>
#include <stdio.h>

int main(void)
{
    rp_items_test();
    printf("rp_items: OK\n");
    return 0;
}
