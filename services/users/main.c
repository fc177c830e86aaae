/*  rapport-users — the users service: people, roles, teams and their API
    keys (issue 3; docs/users.md).

    Endpoints and data dir from config/users.cfg and the environment
    (RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR).
    Serves "users" (reads) and competes for "users.writer" (writes).
    Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

int main(int argc, char **argv)
{
    static const char *const owns[] = {"user.", NULL}; //  besides "<name>." (fence.h)
    static const rp_service_def_t def = {.name = "users",
                                         .writer = true,
                                         .owns = owns,
                                         .dbnames = users_apply_dbnames,
                                         .apply = users_apply_event,
                                         .ops = users_handlers_ops,
                                         .init = users_handlers_init,
                                         .fini = users_handlers_fini};
    return rp_service_main(&def, argc, argv);
}
