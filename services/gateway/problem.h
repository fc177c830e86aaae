/*  problem.h — errors as RFC 9457 problem details.

    Body (application/problem+json):
        {type: "/problems/<code>", title, status, detail, code, errors?}
    `code` is stable and machine-readable; `title` is the status's reason
    phrase; `errors` lists field errors [{field, code, message}] when given.
    A 503 (and a 429) carries Retry-After: GW_RETRY_AFTER_S unless the
    exchange already has one.
*/
#ifndef GW_PROBLEM_H
#define GW_PROBLEM_H

#include "exchange.h"

#include <jansson.h>

//  Seconds a client should wait after a 503 before retrying.
#define GW_RETRY_AFTER_S 1

//  Answer a problem and free the exchange.
void gw_problem_send(gw_exchange_t **ex_p, int status, const char *code, const char *detail);

//  The same with field errors (a JSON array, taken over; NULL for none).
void gw_problem_send_errors(gw_exchange_t **ex_p, int status, const char *code, const char *detail,
                            json_t *errors);

//  The problem document alone (new reference).
json_t *gw_problem_new(int status, const char *code, const char *detail, json_t *errors);

#endif
