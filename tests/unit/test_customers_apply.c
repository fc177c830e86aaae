//  Runs the self-test of the customers store's apply (services/customers/
//  apply.c: outcomes, indexes, generated codes, determinism), compiled in with
//  the record and normalizer code as one translation unit.
#include "../../services/customers/activity.c"
#include "../../services/customers/apply.c"
#include "../../services/customers/assign.c"
#include "../../services/customers/contact.c"
#include "../../services/customers/customer.c"
#include "../../services/customers/merge.c"
#include "../../services/customers/normalize.c"
#include "../../services/customers/page.c"
#include "../../services/customers/query.c"
#include "../../services/customers/record.c"
#include "../../services/customers/scope.c"
#include "../../services/customers/timeline.c"

#include <stdio.h>

int main(void)
{
    apply_test();
    printf("apply: OK\n");
    return 0;
}
