/*  mdp.h — the Majordomo (RFC 7/MDP 0.1) constants of docs/protocol.md.

    Client ↔ broker:  ["", "MDPC01", service, body]  (both directions)
    Worker → broker:  ["", "MDPW01", READY, service, options?]
                      ["", "MDPW01", REPLY, client, "", body]
                      ["", "MDPW01", HEARTBEAT] / ["", "MDPW01", DISCONNECT]
    Broker → worker:  ["", "MDPW01", REQUEST, client, "", body]
                      ["", "MDPW01", HEARTBEAT] / ["", "MDPW01", DISCONNECT]

    A DEALER peer sends the leading empty frame itself.
*/
#ifndef RAPPORT_MDP_H
#define RAPPORT_MDP_H

#include <stddef.h>
#include <string.h>

#define MDPC_CLIENT "MDPC01"
#define MDPW_WORKER "MDPW01"

//  Worker commands: one byte, in the frame after the protocol header.
#define MDPW_READY      0x01
#define MDPW_REQUEST    0x02
#define MDPW_REPLY      0x03
#define MDPW_HEARTBEAT  0x04
#define MDPW_DISCONNECT 0x05

//  Heartbeats every 2.5 s both ways; a peer silent for 3 intervals is dead.
#define MDP_HEARTBEAT_INTERVAL 2500
#define MDP_HEARTBEAT_LIVENESS 3

//  A worker that lost its broker reconnects after 250 ms, doubling up to 8 s.
#define MDP_RECONNECT_MIN 250
#define MDP_RECONNECT_MAX 8000

//  Credit extension: READY may carry {credit: N}, 1 ≤ N ≤ MDP_CREDIT_MAX.
#define MDP_CREDIT_MAX 1024

//  Service names are short printable strings (the broker bounds them too).
#define MDP_SERVICE_MAX 255

//  The largest message a broker accepts (router/max_message default); our
//  peers refuse to build anything bigger.
#define MDP_MESSAGE_MAX (4 * 1024 * 1024)

//  Suffix of the lease service: "<service>.writer".
#define MDP_WRITER_SUFFIX ".writer"

//  The length of a service name without MDP_WRITER_SUFFIX: len itself
//  unless name (len bytes) is a writer's, "<service>.writer" with a
//  non-empty service.
static inline size_t rp_mdp_base_len(const char *name, size_t len)
{
    size_t suffix = sizeof MDP_WRITER_SUFFIX - 1;
    return len > suffix && memcmp(name + len - suffix, MDP_WRITER_SUFFIX, suffix) == 0
               ? len - suffix
               : len;
}

#endif
