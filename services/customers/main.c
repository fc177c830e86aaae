/*  rapport-customers — the customers service (DESIGN.md §2, §5; issue 3).

    Endpoints and data dir from config/customers.cfg and the environment
    (RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR).
    Serves "customers" (reads) and competes for "customers.writer" (writes).
    Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

int main(int argc, char **argv)
{
    static const char *const owns[] = {"customer.", NULL}; //  besides "<name>." (fence.h)
    static const rp_service_def_t def = {.name = "customers",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = customers_apply_dbnames,
                                         .apply = customers_apply_event,
                                         .ops = customers_handlers_ops,
                                         .tick = customers_handlers_tick,
                                         .gauges = customers_handlers_gauges,
                                         .init = customers_handlers_init,
                                         .fini = customers_handlers_fini};
    return rp_service_main(&def, argc, argv);
}
