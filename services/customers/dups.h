/*  dups.h — customers.duplicates: likely duplicate pairs among the records
    the caller may see (docs/customers.md "Duplicates").

    args {limit?: 1..200 (50), cursor?} → data {items: [{a, b, reasons}],
    next_cursor}: a and b are {id, code, name} (a's id sorts first), reasons
    the fields they share: "name" (the same normalized name, rapport/normalize.h),
    "phone" (a phone or mobile number of one is a phone or mobile of the
    other) and "email". Archived records are left out. Tax ids are unique in
    the store, so no two records share one; they are not a reason here.

    The pairs come from apply's `similar` index (kind + value + NUL + id):
    records with one key are adjacent there, so a page walks the index from
    the cursor and pairs each entry with the entries after it under the
    same key, at most DUPS_FANOUT of them (a switchboard shared by hundreds
    of records lists its first pairs only). A pair sharing several keys is
    listed once, under the first key it shares in index order. A page costs
    O(scanned × fanout) record reads, with scanned capped at DUPS_MAX_SCAN;
    a page can end short (even empty) with a next_cursor to go on from.
*/
#ifndef CUSTOMERS_DUPS_H
#define CUSTOMERS_DUPS_H

#include <rapport/service.h>

#define DUPS_FANOUT   50
#define DUPS_MAX_SCAN 20000

//  The customers.duplicates op (rp_service_op_fn; arg unused).
void dups_list(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

#endif
