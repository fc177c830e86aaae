/*  import.h — a resource's records from a CSV or NDJSON upload, streamed
    (POST /api/v1/customers/import, docs/api.md; the resources are in
    csvdefs.h).

    The body (text/csv with a header row of the definition's columns, or
    application/x-ndjson, one JSON object a line) is read as it arrives —
    the intake (intake.h) takes it out of evhttp's way, so evhttp never
    holds it — parsed, and sent to the definition's service (its writer)
    in batches of GW_IMPORT_BATCH rows: one request to the definition's op
    each, args {session, mode, dry_run, final, rows: [{line, record}]},
    answered {created, updated, skipped, rejected: [{line, errors}]}. One
    batch is in flight at a time and at most GW_IMPORT_QUEUE wait; beyond
    that the intake stops reading the socket (backpressure) until the
    writer catches up, so memory stays bounded by a few batches whatever
    the file's size.

    Query: mode=create|upsert (create), dry_run=true|false (false).
    Answer 200 {created, updated, skipped, rejected: [{line, errors:
    [{field, code, message}]}], dry_run}, rejected in line order (at most
    GW_IMPORT_REJECTED_MAX listed; `rejected_total` counts them all).
    Whole-request errors: 400 a body whose framing is refused or broken,
    401, 413 over import/max_bytes, 415 another content type, 422 bad
    query or CSV header, 503 when the writer fails, 500 import_not_streamed
    for an import that reached its route without passing the intake (it is
    never read into memory whole).
*/
#ifndef GW_IMPORT_H
#define GW_IMPORT_H

#include "columns.h"
#include "exchange.h"
#include "seqs.h"
#include "upstream.h"

#include <event2/http.h>

#define GW_IMPORT_BATCH        250
#define GW_IMPORT_BATCH_BYTES  (512 * 1024)
#define GW_IMPORT_QUEUE        2
#define GW_IMPORT_REJECTED_MAX 10000

//  A resource that imports: its path, the service and op its batches go
//  to, and its columns.
typedef struct {
    const char *path;    //  "/api/v1/customers/import"
    const char *service; //  "customers.writer"
    const char *op;      //  "customers.import"
    const gw_columns_t *columns;
    bool create_only; //  mode=upsert is 422 (records with no natural key)
} gw_import_def_t;

typedef struct _gw_importer_t gw_importer_t;

//  NULL (logged) if imports cannot be streamed with this libevent: the
//  gateway must not start without it.
gw_importer_t *gw_importer_new(struct event_base *base, struct evhttp *http,
                               gw_upstream_t *upstream, gw_seqs_t *seqs, size_t max_bytes,
                               int timeout_ms);
void gw_importer_destroy(gw_importer_t **self_p);

//  Stream POSTs to def->path (def is borrowed: a static definition).
void gw_importer_add(gw_importer_t *self, const gw_import_def_t *def);

//  Every request, as the server's request callback receives it, before
//  anything answers it (the intake keeps pace with evhttp through it).
void gw_importer_seen(gw_importer_t *self, struct evhttp_request *req);

//  The route for a def's path: the request is authenticated (the
//  exchange's actor set) and its body not read yet; answer it when its
//  last batch is done.
void gw_import_finish(gw_importer_t *self, gw_exchange_t **ex_p);

#endif
