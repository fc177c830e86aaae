//  Runs the self-test of the broker's journal actor (services/broker/journal.c).
//
//  The Makefile links unit tests with librapport.a only, not with the
//  broker's objects, so this test compiles the journal's sources into its
//  own translation unit. (tests/unit/test_journal.c is the journal client's.)
#include "../../services/broker/feed.c"
#include "../../services/broker/fence.c"
#include "../../services/broker/idem.c"
#include "../../services/broker/journal.c"

#include <stdio.h>

int main(void)
{
    journal_test();
    printf("journal (broker): OK\n");
    return 0;
}
