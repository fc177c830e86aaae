/*  testbroker.h — a tiny in-process stand-in for the broker, for self-tests.

    Not the broker: no queues, no leases of its own, no durability. It runs
    in a thread (a zactor) and binds, on loopback ports chosen by the OS:
      - a ROUTER speaking MDP: the `journal` service (journal.append,
        journal.read, journal.head, kept in memory), and plain routing of
        client requests to the one worker last READY for a service
        (answered 503 no_worker when there is none); worker heartbeats are
        echoed so workers stay connected;
      - an XPUB feed: [type, seq, event] per published event, ["$head", seq]
        on demand, and a count of subscriptions so a test can wait until its
        subscriber is really listening (PUB/SUB drops messages before that).

    The test thread drives it: append events with or without publishing them
    (a dropped message), re-publish one (a duplicate), publish $head, grant
    a lease to a writer.
*/
#ifndef RAPPORT_TESTBROKER_H
#define RAPPORT_TESTBROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _rp_testbroker_t rp_testbroker_t;

rp_testbroker_t *rp_testbroker_new(void);
void rp_testbroker_destroy(rp_testbroker_t **self_p);

//  "tcp://127.0.0.1:<port>" of the router and of the feed.
const char *rp_testbroker_endpoint(rp_testbroker_t *self);
const char *rp_testbroker_feed(rp_testbroker_t *self);

//  Append an event {type, id, source: "test", seq, data: {n: seq}} to the
//  journal; publish it on the feed if publish. Returns its seq.
uint64_t rp_testbroker_append(rp_testbroker_t *self, const char *type, bool publish);

//  Publish the stored event seq again.
void rp_testbroker_publish(rp_testbroker_t *self, uint64_t seq);

//  Publish ["$head", head].
void rp_testbroker_head(rp_testbroker_t *self);

//  The journal identity journal.read and journal.head answer from now on
//  ("" at first: none, as a journal from before identities).
void rp_testbroker_set_journal(rp_testbroker_t *self, const char *id);

//  Wait until at least n subscriptions reached the feed; false on timeout.
bool rp_testbroker_wait_subscribers(rp_testbroker_t *self, int n, int timeout_ms);

//  Wait until a worker is READY for service; false on timeout.
bool rp_testbroker_wait_worker(rp_testbroker_t *self, const char *service, int timeout_ms);

//  Send the documented lease.granted message (with a lease token of the
//  test broker's making) to the worker of "<service>.writer". Returns 0,
//  or -1 if it has no worker.
int rp_testbroker_grant(rp_testbroker_t *self, const char *service, uint64_t epoch);

//  The writer and epoch carried by the last journal.append ("" and 0 if
//  none), copied into writer (size bytes); the epoch is 0 as well if that
//  append did not carry the token of the last grant.
uint64_t rp_testbroker_last_epoch(rp_testbroker_t *self, char *writer, size_t size);

void rp_testbroker_test(void);

#endif
