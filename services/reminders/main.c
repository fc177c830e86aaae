/*  rapport-reminders — reminders (DESIGN.md §2, §5; docs/reminders.md).

    Endpoints, data dir and the default time zone from config/reminders.cfg
    and the environment. Serves "reminders" (reads) and competes for
    "reminders.writer" (writes). Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

int main(int argc, char **argv)
{
    static const char *const owns[] = {"reminder.", "rule.", NULL}; //  besides "<name>." (fence.h)
    static const rp_service_def_t def = {.name = "reminders",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = reminders_apply_dbnames,
                                         .apply = reminders_apply_event,
                                         .ops = reminders_handlers_ops,
                                         .tick = reminders_handlers_tick,
                                         .tick_ms = 200, //  punctual within 1 s
                                         .init = reminders_handlers_init,
                                         .fini = reminders_handlers_fini};
    return rp_service_main(&def, argc, argv);
}
