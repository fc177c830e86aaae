/*  rapport-opportunities — the sales pipeline (DESIGN.md §2, §5;
    docs/opportunities.md).

    Endpoints and data dir from config/opportunities.cfg and the
    environment. Serves "opportunities" (reads) and competes for
    "opportunities.writer" (writes). Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

int main(int argc, char **argv)
{
    static const char *const owns[] = {"opportunity.", NULL}; //  besides "<name>." (fence.h)
    static const rp_service_def_t def = {.name = "opportunities",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = opportunities_apply_dbnames,
                                         .apply = opportunities_apply_event,
                                         .ops = opportunities_handlers_ops,
                                         .tick = opportunities_handlers_tick,
                                         .init = opportunities_handlers_init,
                                         .fini = opportunities_handlers_fini};
    return rp_service_main(&def, argc, argv);
}
