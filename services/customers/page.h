/*  page.h — one page of the entries a customer owns in a database: its
    contacts, activities or timeline, all keyed "<customer id> NUL <rest>"
    so that one customer's entries are adjacent and ordered by <rest>.

    A page walks that range forward (oldest first) or in reverse (newest
    first), starting after a cursor, which is the <rest> of the last entry
    the caller saw (text: callers make <rest> printable and NUL-free). It
    copies up to limit values into a packer, one after another, and gives
    a next cursor only when another entry really follows.
*/
#ifndef CUSTOMERS_PAGE_H
#define CUSTOMERS_PAGE_H

#include <rapport/pack.h>

#include <lmdb.h>
#include <stdbool.h>

#define PAGE_MAX_REST      128 //  bytes of a cursor
#define PAGE_MAX_KEY       (64 + 1 + PAGE_MAX_REST)
#define PAGE_LIMIT_MAX     200
#define PAGE_LIMIT_DEFAULT 50

typedef struct {
    //  in
    const char *owner; //  the customer id
    size_t owner_len;
    const char *after; //  cursor, or NULL for the first page
    size_t after_len;
    bool reverse; //  newest first
    size_t limit;
    //  out
    rp_packer_t *items; //  the values, concatenated (the caller packs the array header)
    size_t count;
    char next[PAGE_MAX_REST + 1]; //  "" when this is the last page
} page_t;

//  Fill page from dbi. 0 or an LMDB error.
int page_read(MDB_txn *txn, MDB_dbi dbi, page_t *page);

//  The key "<owner> NUL <rest>" into out (at least PAGE_MAX_KEY bytes);
//  its length, or 0 if a part is empty or too long.
size_t page_key(char *out, const char *owner, size_t owner_len, const char *rest, size_t rest_len);

//  Every key of owner's range, copied (for moving entries while changing
//  the database): keys[i].mv_data are heap blocks.
typedef struct {
    size_t count;
    MDB_val *keys;
} page_keys_t;

int page_keys(MDB_txn *txn, MDB_dbi dbi, const char *owner, size_t owner_len, page_keys_t *out);
void page_keys_free(page_keys_t *keys);

void page_test(void);

#endif
