/*  feed_consumer — a journal feed consumer for the system tests.

    feed_consumer --feed EP --broker EP --from SEQ --count N
                  [--drop SEQ]... [--timeout-ms T]

    Joins the feed with cursor SEQ (rp_feed: subscribe, replay, follow) and
    prints "seq type" per delivered event, one line each, flushed. Exits 0
    once N events were delivered, 1 on timeout (default 30 s), 2 on bad
    arguments. --drop S throws the fed message with seq S away before
    rp_feed sees it, so gap recovery must fetch it from the journal.
*/
#include <rapport/feed.h>
#include <rapport/log.h>
#include <rapport/pack.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DROPS 64

typedef struct {
    uint64_t wanted;
    uint64_t delivered;
} consumer_t;

static int s_print(void *arg, uint64_t seq, const char *type, size_t type_len, const uint8_t *event,
                   size_t size)
{
    (void)event;
    (void)size;
    consumer_t *self = (consumer_t *)arg;
    if (self->delivered >= self->wanted)
        return 1; //  enough: leave the rest in the journal
    printf("%" PRIu64 " %.*s\n", seq, (int)type_len, type);
    fflush(stdout);
    self->delivered++;
    return 0;
}

//  True if the message is an event whose seq is in drops.
static bool s_dropped(zmsg_t *msg, const uint64_t *drops, size_t count)
{
    if (zmsg_size(msg) != 3)
        return false;
    zmsg_first(msg);
    zframe_t *seq = zmsg_next(msg);
    if (zframe_size(seq) != 8)
        return false;
    uint64_t value = rp_seq_get(zframe_data(seq));
    for (size_t i = 0; i < count; i++)
        if (drops[i] == value)
            return true;
    return false;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: feed_consumer --feed EP --broker EP --from SEQ --count N "
                    "[--drop SEQ]... [--timeout-ms T]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *feed_ep = NULL, *broker_ep = NULL;
    uint64_t from = 0, drops[MAX_DROPS];
    size_t drop_count = 0;
    long long timeout_ms = 30000;
    consumer_t consumer = {0, 0};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value)
            return s_usage();
        if (streq(argv[i], "--feed"))
            feed_ep = value;
        else if (streq(argv[i], "--broker"))
            broker_ep = value;
        else if (streq(argv[i], "--from"))
            from = strtoull(value, NULL, 10);
        else if (streq(argv[i], "--count"))
            consumer.wanted = strtoull(value, NULL, 10);
        else if (streq(argv[i], "--drop") && drop_count < MAX_DROPS)
            drops[drop_count++] = strtoull(value, NULL, 10);
        else if (streq(argv[i], "--timeout-ms"))
            timeout_ms = strtoll(value, NULL, 10);
        else
            return s_usage();
        i++;
    }
    if (!feed_ep || !broker_ep)
        return s_usage();
    rp_log_init("feed_consumer", NULL, getenv("RAPPORT_LOG_LEVEL"));

    rp_feed_t *feed = rp_feed_new(feed_ep, broker_ep, from, s_print, &consumer);
    if (!feed)
        return 1;
    int64_t end = zclock_mono() + timeout_ms;
    int64_t sync_at = 0; //  replay until one works; then the feed drives it
    bool synced = false;
    while (consumer.delivered < consumer.wanted && zclock_mono() < end && !zsys_interrupted) {
        if (!synced && zclock_mono() >= sync_at) {
            synced = rp_feed_sync(feed) != -1;
            sync_at = zclock_mono() + 500;
            continue;
        }
        zmq_pollitem_t item = {zsock_resolve(rp_feed_sock(feed)), 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, 100) != 1)
            continue;
        zmsg_t *msg = zmsg_recv(rp_feed_sock(feed));
        if (msg && s_dropped(msg, drops, drop_count))
            zmsg_destroy(&msg);
        else
            rp_feed_handle(feed, &msg);
    }
    rp_feed_destroy(&feed);
    return consumer.delivered >= consumer.wanted ? 0 : 1;
}
