//  Runs the self-test of rp_journal (libshared/src/journal.c).
#include <rapport/journal.h>
#include <stdio.h>

int main(void)
{
    rp_journal_test();
    printf("rp_journal: OK\n");
    return 0;
}
