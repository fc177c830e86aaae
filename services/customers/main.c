/*  rapport-customers — the customers service (DESIGN.md §2, §5; issue 3).

    Endpoints and data dir from config/customers.cfg and the environment
    (RAPPORT_BROKER_ENDPOINT, RAPPORT_FEED_ENDPOINT, RAPPORT_DATA_DIR).
    Serves "customers" (reads) and competes for "customers.writer" (writes).
    Exit 0 on SIGTERM.
*/
#include "apply.h"
#include "handlers.h"
#include <rapport/normalize.h>

#include <rapport/log.h>
#include <rapport/sched.h>
#include <rapport/service.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: rapport-customers  (settings: config/customers.cfg, RAPPORT_*)\n");
        return 2;
    }
    rp_config_t *config = rp_config_new("customers");
    rp_log_init("customers", rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    const char *region = rp_config_get(config, "customers/phone_region", "CN");
    if (!rp_normalize_region_code(region)) {
        rp_error("customers: unsupported customers/phone_region \"%s\"", region);
        rp_config_destroy(&config);
        return 2;
    }
    if (rp_sched_init(config)) { //  before any socket: its I/O thread inherits it
        rp_config_destroy(&config);
        return 2;
    }
    zsys_init(); //  catches SIGTERM and SIGINT: rp_service_run returns
    zsys_set_linger(0);

    handlers_t *handlers = handlers_new(region);
    rp_service_def_t def = {.name = "customers",
                            .writer = true,
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
