/*  client.h — an asynchronous MDP client (RFC 7 "MDPC01") on one DEALER.

    Many requests may be in flight at once (pipelining); replies are
    correlated by the request body's `id`, which the caller takes from
    rp_client_next_id and packs into the body with rp_request_pack:

        uint64_t id = rp_client_next_id (client);
        rp_packer_t packer;
        rp_packer_init (&packer);
        rp_request_pack (&packer.pk, id, "journal.head", 0, NULL, 1);
        rp_pack_cstr (&packer.pk, "args");
        msgpack_pack_map (&packer.pk, 0);
        rp_client_send (client, "journal", id, packer.buffer.data,
                        packer.buffer.size, 5000);
        ...
        rp_reply_t reply;
        rp_doc_t *doc = rp_client_recv (client, &reply, 1000);
        //  reply.id, reply.status, reply.data borrow from doc
        rp_doc_destroy (&doc);

    Every request has a deadline. A request that passes it yields a reply
    made up here, {id, status: 504, error: {code: "timeout"}}, so a caller
    always gets exactly one answer per request; a real reply arriving later
    for it is dropped, as is any reply whose id is not in flight.

    Reconnecting is left to libzmq: requests sent while the broker is away
    are queued on the socket (up to its high-water mark) or time out.
    mmi.* services answer plain bytes without an id: use a raw socket for
    those.
*/
#ifndef RAPPORT_CLIENT_H
#define RAPPORT_CLIENT_H

#include <czmq.h>
#include <rapport/envelope.h>
#include <rapport/pack.h>

//  Default deadline when a caller passes timeout_ms ≤ 0.
#define RP_CLIENT_TIMEOUT 5000

//  Largest reply accepted (a bigger one makes libzmq drop the connection
//  and the request time out): a full journal.read page can exceed the
//  broker's 4 MiB request bound.
#define RP_CLIENT_REPLY_MAX (64 * 1024 * 1024)

typedef struct _rp_client_t rp_client_t;

//  Connect a DEALER to the broker's router endpoint (tcp://host:port).
rp_client_t *rp_client_new(const char *endpoint);

//  Close the socket; requests still in flight are forgotten.
void rp_client_destroy(rp_client_t **self_p);

//  The socket, to poll for readability in an event loop. Read replies with
//  rp_client_recv (…, 0), never directly from the socket.
zsock_t *rp_client_sock(rp_client_t *self);

//  A fresh request id (1, 2, 3, …).
uint64_t rp_client_next_id(rp_client_t *self);

//  Send a request body (a MessagePack map whose `id` is the given id) to a
//  service, with a deadline timeout_ms from now. Returns 0, or -1 if the
//  arguments are bad (empty or over-long service, body over MDP_MESSAGE_MAX,
//  id already in flight) or the socket would not take it in time.
int rp_client_send(rp_client_t *self, const char *service, uint64_t id, const void *body,
                   size_t size, int timeout_ms);

//  The next reply (real or timed out), waiting up to timeout_ms (0: do not
//  wait, -1: until one comes). Returns the decoded body, which the caller
//  destroys, and fills *reply with pointers into it; NULL if none came.
rp_doc_t *rp_client_recv(rp_client_t *self, rp_reply_t *reply, int timeout_ms);

//  Send one request and wait for its reply (or its 504), keeping replies to
//  other requests for later rp_client_recv calls. Those kept replies are
//  not signalled on the socket: an event loop drains them with
//  rp_client_recv (…, 0) after a call (see rp_client_ready).
rp_doc_t *rp_client_call(rp_client_t *self, const char *service, uint64_t id, const void *body,
                         size_t size, int timeout_ms, rp_reply_t *reply);

//  True if rp_client_recv (…, 0) would return a reply without reading the
//  socket (kept by rp_client_call, or a deadline passed).
bool rp_client_ready(rp_client_t *self);

//  Requests in flight (sent, no reply yet).
size_t rp_client_pending(rp_client_t *self);

//  Milliseconds until the earliest deadline of a request in flight (0 if
//  one has passed), or -1 if none is in flight: a loop's poll timeout.
int rp_client_next_timeout(rp_client_t *self);

void rp_client_test(void);

#endif
