/*  bench_router — request round trips through the broker's router.

    Usage: bench_router BROKER_ENDPOINT [REQUESTS]

    One MDP worker (credit 256) echoes; one client keeps 256 requests in
    flight. Beside it, the same client against a bare ROUTER that echoes
    (a direct DEALER↔ROUTER round trip, no broker), measured in the same
    run: the ratio is what the broker's routing costs.
*/
#include <rapport/envelope.h>

#include <czmq.h>
#include <pthread.h>

#define WINDOW 256

static const char *s_service = "bench.echo";

//  An MDP worker that announces credit and echoes every body.
static void *worker_run(void *arg)
{
    zsock_t *dealer = zsock_new_dealer((const char *)arg);
    assert(dealer);
    zsock_set_rcvtimeo(dealer, 100);
    const uint8_t options[] = {0x81, 0xa6, 'c', 'r', 'e', 'd', 'i', 't', 0xcd, 0x01, 0x00};
    zmsg_t *ready = zmsg_new();
    zmsg_addstr(ready, "");
    zmsg_addstr(ready, "MDPW01");
    zmsg_addmem(ready, "\x01", 1);
    zmsg_addstr(ready, s_service);
    zmsg_addmem(ready, options, sizeof options);
    zmsg_send(&ready, dealer);
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv(dealer);
        if (!msg)
            continue;
        zframe_t *empty = zmsg_pop(msg), *proto = zmsg_pop(msg), *cmd = zmsg_pop(msg);
        bool request = cmd && zframe_size(cmd) == 1 && *zframe_data(cmd) == 2;
        bool stop = cmd && zframe_size(cmd) == 1 && *zframe_data(cmd) == 5;
        if (request) {
            //  [client, "", body] → REPLY [client, "", body]
            zframe_t *reply = zframe_new("\x03", 1);
            zmsg_prepend(msg, &reply);
            zmsg_pushstr(msg, "MDPW01");
            zmsg_pushstr(msg, "");
            zmsg_send(&msg, dealer);
        }
        zframe_destroy(&empty), zframe_destroy(&proto), zframe_destroy(&cmd);
        zmsg_destroy(&msg);
        if (stop)
            break;
    }
    zsock_send(dealer, "ssb", "", "MDPW01", "\x05", (size_t)1);
    zsock_destroy(&dealer);
    return NULL;
}

//  A bare ROUTER that echoes whatever it gets.
static void *echo_run(void *arg)
{
    zsock_t *router = arg;
    while (true) {
        zmsg_t *msg = zmsg_recv(router);
        if (!msg)
            break;
        if (zmsg_size(msg) == 2) { //  [identity, "STOP"]
            zmsg_destroy(&msg);
            break;
        }
        zmsg_send(&msg, router);
    }
    return NULL;
}

//  Keep WINDOW requests in flight until `total` replies came back.
static double client_run(const char *endpoint, long total)
{
    zsock_t *dealer = zsock_new_dealer(endpoint);
    assert(dealer);
    zsock_set_rcvtimeo(dealer, 5000);
    rp_packer_t packer;
    rp_packer_init(&packer);
    long sent = 0, received = 0;
    int64_t start = zclock_usecs();
    while (received < total) {
        while (sent < total && sent - received < WINDOW) {
            rp_packer_reset(&packer);
            rp_request_pack(&packer.pk, (uint64_t)++sent, "echo", 0, NULL, 0);
            zsock_send(dealer, "sssb", "", "MDPC01", s_service, packer.buffer.data,
                       packer.buffer.size);
        }
        zmsg_t *msg = zmsg_recv(dealer);
        if (!msg)
            break;
        zmsg_destroy(&msg);
        received++;
    }
    double rate = received / ((zclock_usecs() - start) / 1e6);
    rp_packer_destroy(&packer);
    zsock_destroy(&dealer);
    return received == total ? rate : 0;
}

//  Wait until the broker says the worker is registered (MMI).
static void wait_ready(const char *endpoint)
{
    zsock_t *dealer = zsock_new_dealer(endpoint);
    zsock_set_rcvtimeo(dealer, 1000);
    for (int i = 0; i < 100; i++) {
        zsock_send(dealer, "ssss", "", "MDPC01", "mmi.service", s_service);
        char *empty = NULL, *proto = NULL, *service = NULL, *code = NULL;
        if (zsock_recv(dealer, "ssss", &empty, &proto, &service, &code) == 0) {
            bool ok = code && streq(code, "200");
            zstr_free(&empty), zstr_free(&proto), zstr_free(&service), zstr_free(&code);
            if (ok)
                break;
        }
        zclock_sleep(20); //  MMI has no "wait for registration" verb
    }
    zsock_destroy(&dealer);
}

int main(int argc, char *argv[])
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_router BROKER_ENDPOINT [REQUESTS]\n");
        return 2;
    }
    long total = argc > 2 ? atol(argv[2]) : 200000;
    zsys_init();
    zsys_set_linger(0);

    zsock_t *router = zsock_new_router("tcp://127.0.0.1:*");
    assert(router);
    char *direct = zsock_last_endpoint(router); //  the port the OS chose
    pthread_t echo;
    pthread_create(&echo, NULL, echo_run, router);
    double reference = client_run(direct, total);
    zsock_t *stop = zsock_new_dealer(direct);
    zsock_send(stop, "s", "STOP");
    pthread_join(echo, NULL);
    zsock_destroy(&stop);
    zsock_destroy(&router);
    zstr_free(&direct);

    pthread_t worker;
    pthread_create(&worker, NULL, worker_run, (void *)argv[1]);
    wait_ready(argv[1]);
    double routed = client_run(argv[1], total);
    zsys_interrupted = 1;
    pthread_join(worker, NULL);

    printf("request round trips/s (%ld requests, %d in flight)\n", total, WINDOW);
    printf("  %-44s %10.0f   1.00x\n", "reference: direct DEALER<->ROUTER echo", reference);
    printf("  %-44s %10.0f %6.2fx\n", "through the broker, one MDP worker", routed,
           routed / reference);
    return routed > 0 ? 0 : 1;
}
