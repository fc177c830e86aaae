/*  journal.h — the durable, totally ordered event log (an actor thread).

    The journal runs in its own thread (a czmq zactor) so that fsyncs never
    stall request routing. It owns the journal's LMDB environment and the PUB
    socket of the feed. The router talks to it over the actor pipe with these
    messages, all handled in arrival order (that order is what makes fencing
    safe: lease changes and appends are serialized on one pipe):

      router → journal             journal → router
      ["REQ", client, body]        ["REP", client, body]
      ["GRANT", service, ticket]   ["GRANTED", service, ticket, epoch(8 B BE), lease token]
      ["REVOKE", service]          (nothing)
      ["LEASES"]                   ["LEASES", (service, epoch(8 B BE))…]

    REQ carries the raw body of a request for service "journal"; REP carries
    the reply body for that client (the router adds the MDP frames). GRANT
    asks for the next epoch of <service>.writer: the journal persists it
    (synchronously) and marks the lease live with that epoch and a new lease
    token (fence.h), which only the holder is told; ticket is opaque and
    returned as given (epoch 0 and an empty token: refused). REVOKE marks
    the lease vacant, so appends with its epoch are refused from then on.
    LEASES (sent once by the router at start) asks for every service ever
    granted a lease, with its last epoch; it is answered at once, outside
    the batch order.
*/
#ifndef RAPPORT_BROKER_JOURNAL_H
#define RAPPORT_BROKER_JOURNAL_H

#include <czmq.h>
#include <rapport/config.h>

//  Start the journal thread: open <data_dir>/broker/journal, bind the feed
//  on feed_bind. Returns NULL if it cannot start (reason logged).
zactor_t *journal_new(rp_config_t *config);

//  The highest committed seq (readable from any thread).
uint64_t journal_head(void);

void journal_test(void);

#endif
