/*  listquery.h — the query string of a customers list (GET
    /api/v1/customers) or export, checked and typed into customers.list
    args (docs/api.md "List customers").

    Accepted: q, grade (A–E), tier (lead…strategic), owner, team, region,
    industry, tag, created_after, created_before, last_contacted_before
    (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS[.fff]Z), sort (created_at,
    updated_at, name, code, grade, each with an optional "-"), archived
    (true/false) and, for paging, limit (1..200) and cursor. An unknown
    name is a 400 (request.h); every bad value is listed in one 422.
*/
#ifndef GW_LISTQUERY_H
#define GW_LISTQUERY_H

#include "exchange.h"

#include <jansson.h>
#include <stdbool.h>

//  The args, or NULL with the exchange answered. paging: limit and cursor
//  are accepted.
json_t *gw_list_query(gw_exchange_t **ex_p, bool paging);

void gw_list_query_test(void);

#endif
