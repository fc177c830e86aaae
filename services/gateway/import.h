/*  import.h — POST /api/v1/customers/import, streamed (docs/api.md).

    The body (text/csv with a header row, or application/x-ndjson) is parsed
    as it arrives, through evhttp's chunked request callback, and sent to
    the customers writer in batches of GW_IMPORT_BATCH rows (one
    customers.import request each, one journal append each). One batch is
    in flight at a time and at most GW_IMPORT_QUEUE wait; beyond that the
    connection stops reading (backpressure) until the writer catches up, so
    memory stays bounded by a few batches whatever the file's size.

    libevent 2.1 gives no hook between a request's headers and its body on
    the server side (2.2's evhttp_set_newreqcb), so the importer watches
    each connection's input buffer (evhttp_set_bevcb) and, once a request's
    headers are parsed, sets the chunked callback on it. Reaching the
    request from its connection uses the offset of the connection's request
    queue, measured at start on a request we queue ourselves (the public
    `next` link of struct evhttp_request points into it); if it cannot be
    measured the importer logs it and imports still work, unstreamed.

    Query: mode=create|upsert (create), dry_run=true|false (false).
    Answer 200 {created, updated, skipped, rejected: [{line, errors:
    [{field, code, message}]}], dry_run}, rejected in line order (at most
    GW_IMPORT_REJECTED_MAX listed; `rejected_total` counts them all).
    Whole-request errors: 401, 413 over import/max_bytes, 415 another
    content type, 422 bad query or CSV header, 503 when the writer fails.
*/
#ifndef GW_IMPORT_H
#define GW_IMPORT_H

#include "exchange.h"
#include "seqs.h"
#include "upstream.h"

#include <event2/http.h>

#define GW_IMPORT_PATH         "/api/v1/customers/import"
#define GW_IMPORT_BATCH        250
#define GW_IMPORT_BATCH_BYTES  (512 * 1024)
#define GW_IMPORT_QUEUE        2
#define GW_IMPORT_REJECTED_MAX 10000

typedef struct _gw_importer_t gw_importer_t;

//  Who sends a request, from its headers: fills actor (strings valid until
//  the next call) and returns true, or false if the key is not accepted.
typedef bool(gw_import_who_fn)(void *arg, struct evhttp_request *req, gw_actor_t *actor);

gw_importer_t *gw_importer_new(struct event_base *base, struct evhttp *http,
                               gw_upstream_t *upstream, gw_seqs_t *seqs, size_t max_bytes,
                               size_t body_max, int timeout_ms, gw_import_who_fn *who,
                               void *who_arg);
void gw_importer_destroy(gw_importer_t **self_p);

//  The route: the request is complete and authenticated; answer it when
//  its last batch is done.
void gw_import_finish(gw_importer_t *self, gw_exchange_t **ex_p);

#endif
