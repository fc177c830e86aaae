/*  query.h — opportunities.list: the deals' filters, sort orders and
    opaque cursors (docs/opportunities.md § Listing). Modelled on the
    customers list (services/customers/query.h), with its own names: the
    customers' query.o is linked into the same binary.

    Filters (all optional, combined with AND):
        customer_id, pipeline_id, stage, status, owner, team, source,
        lost_reason                        exact value
        competitor                         one of the deal's competitors
        tag                                one of the deal's tags
        q                                  substring of title, quote_no or
                                           the customer's name (ASCII
                                           case-insensitive)
        expected_close_after / _before     expected_close ≥ / < a date
        closed_after / closed_before       closed_at ≥ / <  (date or UTC
        created_after / created_before     created_at ≥ / < time)
        stale=true                         open and stage_entered_at +
                                           the stage's rot_days < now
        amount_min / amount_max            amount ≥ / ≤ (money, compared
                                           in integer hundredths)
        archived                           false (default) or true
    as_of=<date>: the deals as they stood at the end of that day (UTC), read
    from their history: a deal without an entry by then is left out; stage,
    status, amount, expected_close filters (and currency, probability) see
    the as_of values; each item gets "as_of": {stage, status, amount,
    currency, probability, expected_close}. The order is the current
    values' (the index holds those).
    Scoped with rp_scope_allows (read reach) on the deal's owner and team.

    Sort: "" (id order), created_at, updated_at, amount, expected_close,
    title, each with "-" for descending; ties by id. Sorted orders walk the
    `opp_sorted` index, which the deals' single save function keeps in
    step by calling deals_query_index_save before each write of a deal:
        sort letter + value (cut at DEALS_QUERY_INDEX_VALUE bytes; amount
        as 16 hex digits of hundredths) + NUL + id → "".
    A page looks at most DEALS_QUERY_MAX_SCAN deals; a selective filter may
    answer a short page with a next_cursor to go on from.

    The cursor is base64url of the sort letter, the direction and the key
    of the last deal looked at; another sort's cursor is 422 (cursor).
*/
#ifndef OPPORTUNITIES_QUERY_H
#define OPPORTUNITIES_QUERY_H

#include "apply.h"

#include <rapport/record.h>
#include <rapport/scope.h>
#include <rapport/service.h>
#include <rapport/store.h>

#define DEALS_QUERY_LIMIT_MAX     200
#define DEALS_QUERY_LIMIT_DEFAULT 50
#define DEALS_QUERY_MAX_SCAN      20000
#define DEALS_QUERY_INDEX_VALUE   96
#define DEALS_QUERY_MAX_TEXT      200
#define DEALS_QUERY_TIME_MAX      25
#define DEALS_QUERY_MAX_ERRORS    32
#define DEALS_QUERY_DBNAME        "opp_sorted"
#define DEALS_QUERY_DEALS         "opportunities"

typedef struct {
    const char *ptr; //  NULL: not filtered
    size_t len;
} deals_query_text_t;

typedef enum {
    DEALS_Q_CUSTOMER_ID,
    DEALS_Q_PIPELINE_ID,
    DEALS_Q_STAGE,
    DEALS_Q_STATUS,
    DEALS_Q_OWNER,
    DEALS_Q_TEAM,
    DEALS_Q_SOURCE,
    DEALS_Q_LOST_REASON,
    DEALS_Q_EXACT //  the count of exact filters
} deals_query_exact_t;

typedef enum {
    DEALS_Q_CLOSE_AFTER,
    DEALS_Q_CLOSE_BEFORE,
    DEALS_Q_CLOSED_AFTER,
    DEALS_Q_CLOSED_BEFORE,
    DEALS_Q_CREATED_AFTER,
    DEALS_Q_CREATED_BEFORE,
    DEALS_Q_TIMES
} deals_query_time_t;

typedef struct {
    deals_query_text_t exact[DEALS_Q_EXACT];
    deals_query_text_t q, competitor, tag;
    char times[DEALS_Q_TIMES][DEALS_QUERY_TIME_MAX]; //  "" when absent
    bool stale;
    char now[32];   //  the reading's time (stale), set by the op
    char as_of[32]; //  "" or the end of the as_of day, "YYYY-MM-DDT23:59:59.999Z"
    bool has_min, has_max;
    int64_t amount_min, amount_max; //  hundredths
    bool archived;
    char sort; //  0 (id order) or a sort letter
    bool descending;
    uint64_t limit;
    uint8_t cursor[2 + 1 + DEALS_QUERY_INDEX_VALUE + 1 + OPPORTUNITIES_MAX_ID + 8];
    size_t cursor_len;
} deals_query_t;

//  Check the request's args into self (strings borrowed from args); the
//  number of errors written.
int deals_query_parse(deals_query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                      int max_errors);

//  A stored amount (a number with at most 2 decimals) in hundredths.
bool deals_query_hundredths(const msgpack_object *o, int64_t *out);

//  Does the deal (the stored map) pass every filter, and may the actor
//  see it? The store and txn serve q (the customer's name) and stale (the
//  pipeline's rot_days).
bool deals_query_match(const deals_query_t *self, const rp_scope_t *scope, rp_store_t *store,
                       MDB_txn *txn, const msgpack_object *deal);

//  Keep opp_sorted in step with deal (the map about to be stored under id;
//  the previous version is read from the opportunities database in the
//  same transaction). Call before the deal is written.
int deals_query_index_save(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len,
                           const msgpack_object *deal);

//  The deal (stored map) as it stood at query->as_of: a new document, the
//  map with stage, status, amount, currency, probability and
//  expected_close replaced by its last history entry's by then (status
//  from the stage's kind in the pipeline); NULL when it had no entry yet.
rp_doc_t *deals_query_as_of(rp_store_t *store, MDB_txn *txn, const char *until,
                            const msgpack_object *deal);

//  Walk the deals of a query in its order from its cursor (as query_walk);
//  with as_of, fn sees the deal as of then.
typedef bool(deals_query_visit_fn)(void *arg, const MDB_val *value, const msgpack_object *deal);
int deals_query_walk(rp_store_t *store, MDB_txn *txn, const deals_query_t *query,
                     const rp_scope_t *scope, size_t max_scan, deals_query_visit_fn *fn, void *arg,
                     char *next, size_t next_size);

//  The opportunities.list op (any instance; arg unused).
void deals_query_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                      const rp_request_t *req);

void deals_query_test(void);

#endif
