/*  rapport-broker — request router, journal, feed and writer leases.

    The router runs in the main thread; the journal (and the feed it
    publishes) in an actor thread. SIGTERM or SIGINT stops both cleanly.
*/
#include "journal.h"
#include "router.h"

#include <rapport/config.h>
#include <rapport/log.h>

#include <czmq.h>

int main(void)
{
    rp_config_t *config = rp_config_new("broker");
    rp_log_init("broker", rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    zsys_init();
    zsys_set_linger(0);
    //  The router never blocks on the pipe, and the journal's replies are
    //  read every turn; a deep pipe lets whole batches queue while it syncs.
    zsys_set_pipehwm(100000);

    zactor_t *journal = journal_new(config);
    router_t *router = journal ? router_new(config, journal) : NULL;
    int status = 1;
    if (router) {
        rp_info("broker: ready");
        router_run(router);
        rp_info("broker: stopping");
        status = 0;
    }
    router_destroy(&router);
    zactor_destroy(&journal);
    rp_config_destroy(&config);
    return status;
}
