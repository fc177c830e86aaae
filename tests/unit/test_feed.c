//  Runs the self-test of rp_feed (libshared/src/feed.c).
#include <rapport/feed.h>
#include <stdio.h>

int main(void)
{
    rp_feed_test();
    printf("rp_feed: OK\n");
    return 0;
}
