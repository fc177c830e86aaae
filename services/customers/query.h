/*  query.h — customers.list: filters, sort orders and opaque cursors
    (docs/customers.md "Listing").

    Filters (all optional, combined with AND):
        q                      substring of name, short name or code (ASCII
                               case-insensitive, other bytes exact)
        grade, tier, owner, team, region, industry    exact value
        tag                    one of the record's tags, exactly
        created_after          created_at ≥ the value     (a date
        created_before         created_at < the value      "YYYY-MM-DD" or
        last_contacted_before  last_contacted_at < value,  a UTC time
                               or never contacted          "…THH:MM:SS[.fff]Z")
        archived               false (default) or true
    Sort: "" (default: id order, i.e. creation order of the writer's clock),
    created_at, updated_at, name, code, grade, each with "-" for descending.
    Ties are broken by id (descending too for a descending sort).

    Sorted orders walk the `sorted` index that apply maintains with every
    record write (query_index_save): one key per sort field and record,
        sort letter + value (cut at QUERY_INDEX_VALUE bytes) + NUL + id → "".
    A page costs O(log N + scanned) where scanned is the records looked at
    until `limit` matched, capped at QUERY_MAX_SCAN; a selective filter may
    so answer a short (even empty) page with a next_cursor to go on from.
    Names sort by UTF-8 bytes (Unicode code points), not by pinyin.

    The cursor is opaque to clients: base64url of the sort letter, the
    direction and the index key of the last record looked at; a cursor made
    for another sort is refused (422, field cursor).
*/
#ifndef CUSTOMERS_QUERY_H
#define CUSTOMERS_QUERY_H

#include "customer.h"
#include "scope.h"

#include <rapport/service.h>
#include <rapport/store.h>

#define QUERY_LIMIT_MAX     200
#define QUERY_LIMIT_DEFAULT 50
#define QUERY_MAX_SCAN      20000 //  records looked at per page
#define QUERY_INDEX_VALUE   96    //  bytes of a value kept in a sort key
#define QUERY_MAX_TEXT      200   //  bytes of a text filter
#define QUERY_TIME_MAX      25    //  "YYYY-MM-DDTHH:MM:SS.fffZ" and NUL

//  The database apply must open for the sort index.
#define QUERY_DBNAME "sorted"

typedef struct {
    const char *ptr; //  NULL: not filtered
    size_t len;
} query_text_t;

typedef struct {
    query_text_t q, grade, tier, owner, team, region, industry, tag;
    char created_after[QUERY_TIME_MAX];  //  "" when absent
    char created_before[QUERY_TIME_MAX]; //  ""
    char contacted_before[QUERY_TIME_MAX];
    bool archived;
    char sort; //  0 (id order) or a sort letter
    bool descending;
    uint64_t limit;
    uint8_t cursor[1 + 1 + QUERY_INDEX_VALUE + 1 + 64 + 8]; //  the key to go on after
    size_t cursor_len;                                      //  0: from the start
} query_t;

//  Check the request's args into self (strings borrowed from args). Returns
//  the number of errors written (0 when valid).
int query_parse(query_t *self, const msgpack_object *args, rp_field_error_t *errors,
                int max_errors);

//  Does the record pass every filter, and may the actor see it?
bool query_match(const query_t *self, const rp_scope_t *scope, const rp_record_t *record);

//  A time filter's comparable form: a date stays "YYYY-MM-DD", a time
//  becomes "YYYY-MM-DDTHH:MM:SS.fffZ" (stored times have that form, so
//  byte order is time order). Returns false if neither.
bool query_time(const char *in, size_t len, char out[QUERY_TIME_MAX]);

//  Keep the sort index in step with a record about to be stored under id
//  (the previous version, if any, is read from the customers database in
//  the same transaction). Call before the record is written.
int query_index_save(rp_store_t *store, MDB_txn *txn, const char *id, size_t id_len,
                     const rp_record_t *record);

//  The customers.list op (any instance; rp_service_op_fn, arg unused).
void query_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

//  Walk the records of a query in its order from its cursor: fn is called
//  for each record looked at that matches (stop by returning false); at
//  most max_scan are looked at. next gets the cursor to go on from ("" at
//  the end). Returns 0 or an LMDB error.
typedef bool(query_visit_fn)(void *arg, const MDB_val *value, const rp_record_t *record);
int query_walk(rp_store_t *store, MDB_txn *txn, const query_t *query, const rp_scope_t *scope,
               size_t max_scan, query_visit_fn *fn, void *arg, char *next, size_t next_size);

void query_test(void);

#endif
