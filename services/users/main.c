/*  rapport-users — the users service: people, roles, teams and their API
    keys (issue 3; docs/users.md).

    Endpoints and data dir from config/users.cfg and the environment
    (RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR).
    Serves "users" (reads) and competes for "users.writer" (writes).
    Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"

#include <rapport/log.h>
#include <rapport/sched.h>
#include <rapport/service.h>

#include <sodium.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: rapport-users  (settings: config/users.cfg, RAPPORT_*)\n");
        return 2;
    }
    rp_config_t *config = rp_config_new("users");
    rp_log_init("users", rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    if (sodium_init() < 0) { //  keys come from its random generator
        rp_error("users: libsodium failed to initialise");
        rp_config_destroy(&config);
        return 1;
    }
    if (rp_sched_init(config)) { //  before any socket: its I/O thread inherits it
        rp_config_destroy(&config);
        return 2;
    }
    zsys_init(); //  catches SIGTERM and SIGINT: rp_service_run returns
    zsys_set_linger(0);

    handlers_t *handlers = handlers_new();
    rp_service_def_t def = {.name = "users",
                            .writer = true,
                            .owns = (const char *const[]){"user.", NULL},
                            .dbnames = apply_dbnames,
                            .apply = apply_event,
                            .request = handlers_request,
                            .arg = handlers};
    int status = 1;
    rp_service_t *service = rp_service_new(&def, config);
    if (service) {
        status = rp_service_run(service) == 0 ? 0 : 1;
        rp_service_destroy(&service);
    }
    handlers_destroy(&handlers);
    rp_config_destroy(&config);
    return status;
}
