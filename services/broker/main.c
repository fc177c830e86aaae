/*  rapport-broker — request router, journal, feed and writer leases.

    The router runs in the main thread; the journal (and the feed it
    publishes) in an actor thread. SIGTERM or SIGINT stops both cleanly:
    czmq's handler sets zsys_interrupted, the router loop sees it within
    one tick, and everything is destroyed in reverse order.
*/
#include "journal.h"
#include "router.h"

#include <rapport/config.h>
#include <rapport/log.h>
#include <rapport/sched.h>

#include <czmq.h>

int main(void)
{
    rp_config_t *config = rp_config_new("broker");
    rp_log_init("broker", rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    if (rp_sched_init(config)) { //  before any socket: its I/O thread inherits it
        rp_config_destroy(&config);
        return 2;
    }
    zsys_init(); //  also catches SIGINT and SIGTERM
    zsys_set_linger(0);
    //  The router never blocks on the pipe, and the journal's replies are
    //  read every turn; a deep pipe lets whole batches queue while it syncs.
    zsys_set_pipehwm(100000);

    const char *data_dir = rp_config_get(config, "data/dir", RP_DEFAULT_DATA_DIR);
    const char *endpoint = rp_config_get(config, "broker/endpoint", RP_DEFAULT_BROKER_ENDPOINT);
    const char *feed = rp_config_get(config, "feed/endpoint", RP_DEFAULT_FEED_ENDPOINT);
    rp_info("broker: starting requests=%s (bind %s) feed=%s (bind %s) data=%s", endpoint,
            rp_config_get(config, "broker/bind", endpoint), feed,
            rp_config_get(config, "feed/bind", feed), data_dir);

    zactor_t *journal = NULL;
    router_t *router = NULL;
    if (zsys_dir_create("%s", data_dir))
        rp_error("broker: cannot create data directory %s", data_dir);
    else if ((journal = journal_new(config)))
        router = router_new(config, journal);

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
