/*  export.h — GET /api/v1/customers/export: the customers a list with the
    same query would give (listquery.h, without limit and cursor), as CSV
    (text/csv; charset=utf-8): a header row of columns.h's columns, then
    one row per record, RFC 4180 quoting, CRLF line ends — what
    POST /api/v1/customers/import reads back.

    Streamed: pages of GW_EXPORT_PAGE records from customers.list go out as
    HTTP chunks, and the next page is asked for only once the previous
    chunk has been written to the socket, so a slow client holds at most
    one page in memory. An error on the first page is a normal problem
    answer; a failure after the first chunk can only cut the body short
    (the terminating chunk is not sent, so the client sees it incomplete).
*/
#ifndef GW_EXPORT_H
#define GW_EXPORT_H

#include "exchange.h"
#include "seqs.h"
#include "upstream.h"

#define GW_EXPORT_PAGE 200

typedef struct _gw_exporter_t gw_exporter_t;

gw_exporter_t *gw_exporter_new(gw_upstream_t *upstream, gw_seqs_t *seqs, int timeout_ms);
void gw_exporter_destroy(gw_exporter_t **self_p);

void gw_export(gw_exporter_t *self, gw_exchange_t **ex_p);

#endif
