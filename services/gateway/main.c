/*  rapport-gateway — HTTP/JSON in front of the broker (see gateway.h).
    Exit 0 on SIGTERM or SIGINT, after answering what is in flight. */
#include "gateway.h"

#include <czmq.h>
#include <event2/event.h>
#include <rapport/log.h>
#include <rapport/sched.h>
#include <signal.h>

//  Time the loop keeps running after a stop, to write out the answers to
//  requests that were in flight (loopback clients read them at once).
#define GW_STOP_GRACE_MS 200

typedef struct {
    struct event_base *base;
    gw_gateway_t *gateway;
} app_t;

static void s_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    app_t *app = (app_t *)arg;
    rp_info("gateway: signal %d, stopping", (int)sig);
    gw_gateway_stop(app->gateway);
    struct timeval grace = {0, GW_STOP_GRACE_MS * 1000};
    event_base_loopexit(app->base, &grace);
}

int main(void)
{
    rp_config_t *config = rp_config_new("gateway");
    rp_log_init("gateway", rp_config_get(config, "instance", NULL),
                rp_config_get(config, "log/level", "info"));
    if (rp_sched_init(config)) { //  before any socket: its I/O thread inherits it
        rp_config_destroy(&config);
        return 2;
    }
    //  libevent owns the signals: czmq must not install its own handlers.
    zsys_handler_set(NULL);
    zsys_init();
    zsys_set_linger(0);
    signal(SIGPIPE, SIG_IGN); //  a client that hung up is an error return, not a death

    //  The epoll changelist applies event changes once per loop turn: evhttp
    //  turns reading off and writing on (and back) for every request, and
    //  without it each of those is an epoll_ctl call (strace: 4.5 per GET
    //  without, 2.6 with; the rest are ZeroMQ's). We dup() no fds.
    struct event_config *cfg = event_config_new();
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (!base) {
        rp_error("gateway: no event base");
        return 1;
    }
    gw_gateway_t *gateway = gw_gateway_new(base, config);
    int status = 1;
    if (gateway) {
        app_t app = {base, gateway};
        struct event *term = evsignal_new(base, SIGTERM, s_on_signal, &app);
        struct event *intr = evsignal_new(base, SIGINT, s_on_signal, &app);
        event_add(term, NULL);
        event_add(intr, NULL);
        status = event_base_dispatch(base) < 0 ? 1 : 0;
        gw_gateway_destroy(&gateway);
        event_free(term);
        event_free(intr);
    }
    event_base_free(base);
    rp_config_destroy(&config);
    return status;
}
