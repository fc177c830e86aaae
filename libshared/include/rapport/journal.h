/*  journal.h — the client side of the broker's `journal` service
    (docs/protocol.md § Journal): append, read, head.

    Events are handed over already packed (each one a MessagePack map, see
    docs/events.md); they are spliced into the request unchanged. The
    journal sets seq, specversion and time, checks types and ownership:

      journal.append {events, writer?, epoch?, token?}  → data {seqs, duplicate?}
      journal.append {events, parts, …}         → data {parts: [{status, seqs…}]}
      journal.read   {from_seq, max?}           → data {events, head}
      journal.head   {}                         → data {head}

    The _pack functions build a request body for asynchronous use (send
    with rp_client_send, correlate by id); the others wait for the reply.
*/
#ifndef RAPPORT_JOURNAL_H
#define RAPPORT_JOURNAL_H

#include <rapport/client.h>

#define RP_JOURNAL_SERVICE    "journal"
#define RP_JOURNAL_READ_MAX   1000 //  events per journal.read page
#define RP_JOURNAL_APPEND_MAX 1000 //  events per append

//  One packed event.
typedef struct {
    const void *data;
    size_t size;
} rp_journal_event_t;

//  True if the bytes are exactly one well-formed MessagePack map (what an
//  append may splice into its request).
bool rp_journal_event_valid(const rp_journal_event_t *event);

//  The writer an append is made as: the service, its lease epoch and the
//  lease token it was granted with (worker.h), all three needed for the
//  journal to take an append in its name (docs/protocol.md § Journal,
//  "Ownership and fencing").
typedef struct {
    const char *name;
    uint64_t epoch;
    const char *token; //  NULL: none
} rp_journal_writer_t;

//  Pack a journal.append request. writer NULL (an integrator's append) or
//  its NULL / 0 parts are left out, as is idem when NULL. Returns 0, or -1
//  if count is 0 or over the maximum or an event is not one well-formed
//  MessagePack map.
int rp_journal_pack_append(rp_packer_t *packer, uint64_t id, const rp_journal_event_t *events,
                           size_t count, const rp_journal_writer_t *writer, const char *idem);

//  A shared append (docs/protocol.md § Journal, "Shared appends"): the
//  events in parts, each its own append to the journal, with its own key.
#define RP_JOURNAL_PARTS_MAX 100 //  parts per append

//  One part: the next count events, and its idem key (NULL: none).
typedef struct {
    size_t count;
    const char *idem;
} rp_journal_part_t;

//  Pack a journal.append in parts. -1 as rp_journal_pack_append, or if
//  there are no parts, more than RP_JOURNAL_PARTS_MAX, or their counts do
//  not add up to count.
int rp_journal_pack_append_parts(rp_packer_t *packer, uint64_t id, const rp_journal_event_t *events,
                                 size_t count, const rp_journal_part_t *parts, size_t parts_n,
                                 const rp_journal_writer_t *writer);

//  Part index of a shared append's reply, as the reply an append of its
//  own would have had: *part gets its status, error code and message (data
//  is the part's answer), and on 200 first and last its seqs. False if
//  the reply holds no such part (or the whole request was refused: read
//  reply->status then).
bool rp_journal_append_part(const rp_reply_t *reply, size_t index, rp_reply_t *part,
                            uint64_t *first, uint64_t *last);

//  The seqs of an append reply: first and last (contiguous), and whether the
//  idem key had been seen (nothing was appended again). False if the reply
//  is not a successful append reply.
bool rp_journal_append_seqs(const rp_reply_t *reply, uint64_t *first, uint64_t *last,
                            bool *duplicate);

//  Append and wait. Returns the reply's status (200 when appended; 409
//  stale_epoch, 403 not_owner or bad_token, 422 bad_event, 503, 504 timeout …), or -1
//  if the request could not be sent. On 200 sets *last_seq. Refusals are
//  logged with their code and message.
int rp_journal_append(rp_client_t *client, const rp_journal_event_t *events, size_t count,
                      const rp_journal_writer_t *writer, const char *idem, int timeout_ms,
                      uint64_t *last_seq);

//  Pack a journal.read request for up to max events from from_seq.
void rp_journal_pack_read(rp_packer_t *packer, uint64_t id, uint64_t from_seq, size_t max);

//  Read one page and wait. Returns the reply document (the caller destroys
//  it) with *reply parsed, or NULL if the request could not be sent. On
//  status 200, rp_journal_read_page gives the events and head.
rp_doc_t *rp_journal_read(rp_client_t *client, uint64_t from_seq, size_t max, int timeout_ms,
                          rp_reply_t *reply);

//  The events array and head of a journal.read reply; false if malformed.
bool rp_journal_read_page(const rp_reply_t *reply, const msgpack_object **events, uint64_t *head);

//  The journal's head seq. Returns the reply status (200 on success).
int rp_journal_head(rp_client_t *client, int timeout_ms, uint64_t *head);

void rp_journal_test(void);

#endif
