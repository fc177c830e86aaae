/*  append.h — a writer's appends, gathered into shared journal.appends.

    A writer serves a turn's worth of write requests at once (up to 64,
    service.c), and each write used to make its own journal.append: a
    message to the broker, a hop to the journal thread and back, a reply,
    a decode — per write, on a path where every message wakes two threads
    in two processes. Appends that may share are gathered instead, and the
    service sends what it gathered in one journal.append at the end of the
    turn (rp_service_append does this).

    A group of two or more is sent in parts, one per write, in the order
    the writes were added (journal.append {events, parts: [{count, idem?}]},
    docs/protocol.md § Journal, "Shared appends"); the journal decides
    each part as an append of its own. So each write keeps:
      - its events contiguous and in the order given, appended whole or
        not at all, and its own seqs;
      - its idempotency key: a retry gets the seqs of its first append,
        whether either was shared or alone;
      - its own answer: a part refused (a bad event) refuses that write
        only; a request refused whole (a stale epoch) or lost (a timeout,
        503 if it could not be sent) answers every member alike, as each
        would have been answered alone.
    A group of one is a plain append, its key in the envelope.
    What may share: an append of at most RP_APPENDS_SHARE_EVENTS events and
    RP_APPENDS_SHARE_BYTES bytes. A larger one (an import batch) goes
    alone, and first closes the group gathered before it, so the journal
    sees appends in the order the writer made them. A group holds at most
    RP_APPENDS_GROUP_EVENTS events (so at most that many parts, the
    journal's RP_JOURNAL_PARTS_MAX) and RP_APPENDS_GROUP_BYTES bytes,
    under the journal's least journal/max_events and the router's message
    size. A journal from before parts ignores them and appends the events
    as one, answering seqs only: each member then gets its slice of them.

    Use: rp_appends_add as writes come, then at the end of the turn
    rp_appends_take each ready group (packed as one journal.append) and
    send it; hand its reply (or a failure) to rp_appends_replied. Groups
    in flight belong to the rp_appends_t: destroying it frees them without
    calling their members (as a stopping service drops its calls).
*/
#ifndef RAPPORT_APPEND_H
#define RAPPORT_APPEND_H

#include <rapport/journal.h>

#define RP_APPENDS_SHARE_EVENTS 16
#define RP_APPENDS_SHARE_BYTES  (64 * 1024)
#define RP_APPENDS_GROUP_EVENTS 100
#define RP_APPENDS_GROUP_BYTES  (512 * 1024)

typedef struct _rp_appends_t rp_appends_t;
typedef struct _rp_append_group_t rp_append_group_t;
typedef struct _rp_service_t rp_service_t; //  service.h

//  A member's answer: the journal's reply, and on status 200 the seqs of
//  this member's events, first..last (0, 0 otherwise); service is what
//  rp_appends_replied was given.
typedef void(rp_appended_fn)(void *arg, rp_service_t *service, const rp_reply_t *reply,
                             uint64_t first, uint64_t last);

rp_appends_t *rp_appends_new(void);
void rp_appends_destroy(rp_appends_t **self_p);

//  Gather an append. idem NULL or "" for none. Returns 0, or -1 (nothing
//  gathered, fn will not be called) if count is 0 or over the journal's
//  maximum or an event is not one well-formed MessagePack map.
int rp_appends_add(rp_appends_t *self, const rp_journal_event_t *events, size_t count,
                   const char *idem, int timeout_ms, rp_appended_fn *fn, void *arg);

//  How many groups are gathered and not yet taken.
size_t rp_appends_waiting(rp_appends_t *self);

//  The next group to send, oldest first, packed as journal.append with id
//  and writer (name, epoch, token) into packer (reset first); *timeout_ms gets the
//  shortest of its members'. NULL when nothing is gathered. The group is
//  in flight until rp_appends_replied.
rp_append_group_t *rp_appends_take(rp_appends_t *self, rp_packer_t *packer, uint64_t id,
                                   const rp_journal_writer_t *writer, int *timeout_ms);

//  Answer every member of a group in the order added, then free it. A
//  shared append whose reply does not hold exactly its events' seqs
//  answers each member 502.
void rp_appends_replied(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service,
                        const rp_reply_t *reply);

//  Answer every member of a group that could not be sent (503), then free it.
void rp_appends_unsent(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service);

void rp_appends_test(void);

#endif
