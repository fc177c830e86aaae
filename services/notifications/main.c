/*  rapport-notifications — the inbox (DESIGN.md §2, §5;
    docs/notifications.md).

    Endpoints, data dir, retention and the purge period from
    config/notifications.cfg and the environment. Serves "notifications"
    (reads) and competes for "notifications.writer" (writes, the purge).
    Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

int main(int argc, char **argv)
{
    static const char *const owns[] = {"notification.", NULL}; //  besides "<name>." (fence.h)
    static const rp_service_def_t def = {.name = "notifications",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = notifications_apply_dbnames,
                                         .apply = notifications_apply_event,
                                         .ops = notifications_handlers_ops,
                                         .tick = notifications_handlers_tick,
                                         .tick_ms = 200,
                                         .init = notifications_handlers_init,
                                         .fini = notifications_handlers_fini};
    return rp_service_main(&def, argc, argv);
}
