//  The customers sources a store-level self-test needs, compiled into its
//  translation unit (unit tests link with librapport.a only). Included by
//  the test_customers_*.c that run apply, its records and the queries.
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
