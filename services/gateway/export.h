/*  export.h — a resource's records as CSV (GET /api/v1/customers/export,
    csvdefs.h): the records a list with the same query would give, as
    text/csv; charset=utf-8: a header row of the definition's columns
    (columns.h), then one row per record, RFC 4180 quoting, CRLF line ends
    — what the resource's import reads back.

    The definition names the service and its list op, which takes the
    list's args plus limit and cursor and answers {items, next_cursor};
    its query function turns the request's query into those args (or
    answers the exchange and returns NULL).

    Streamed: pages of GW_EXPORT_PAGE records from the list op go out as
    HTTP chunks, and the next page is asked for only once the previous
    chunk has been written to the socket, so a slow client holds at most
    one page in memory. An error on the first page is a normal problem
    answer; a failure after the first chunk can only cut the body short
    (the terminating chunk is not sent, so the client sees it incomplete).
*/
#ifndef GW_EXPORT_H
#define GW_EXPORT_H

#include "columns.h"
#include "exchange.h"
#include "seqs.h"
#include "upstream.h"

#define GW_EXPORT_PAGE 200

typedef struct {
    const char *service; //  "customers": any instance reads
    const char *op;      //  "customers.list"
    const gw_columns_t *columns;
    const char *filename; //  Content-Disposition: "customers.csv"
    json_t *(*query)(gw_exchange_t **ex_p);
} gw_export_def_t;

typedef struct _gw_exporter_t gw_exporter_t;

gw_exporter_t *gw_exporter_new(gw_upstream_t *upstream, gw_seqs_t *seqs, int timeout_ms);
void gw_exporter_destroy(gw_exporter_t **self_p);

//  The route: answer the exchange with def's records (def is borrowed and
//  must outlive the answer: a static definition).
void gw_export(gw_exporter_t *self, const gw_export_def_t *def, gw_exchange_t **ex_p);

#endif
