/*  customers.h — the /api/v1/customers routes, mapped onto the customers
    service's ops (docs/customers.md; HTTP reference in docs/api.md).

        GET    /api/v1/customers              customers.list (query: q, grade, tier,
                                              owner, team, archived, limit, cursor)
        POST   /api/v1/customers              customers.writer customers.create;
                                              201 + Location; X-Rapport-Allow-Duplicate:
                                              true → args.allow_duplicate
        GET    /api/v1/customers/{id}         customers.get; ETag: "<version>"
        PATCH  /api/v1/customers/{id}         customers.update; If-Match → args.version
        DELETE /api/v1/customers/{id}         customers.archive; If-Match → args.version
        POST   /api/v1/customers/{id}/restore customers.restore; If-Match → args.version

    The actor is the authenticated caller (the exchange's, set by auth), so
    per-user keys need no change here. Writes take Idempotency-Key.
*/
#ifndef GW_CUSTOMERS_H
#define GW_CUSTOMERS_H

#include "exchange.h"
#include "cache.h"
#include "forward.h"

typedef struct _gw_customers_t gw_customers_t;

//  cache (may be NULL) keeps GET answers (cache.h); seqs gives each
//  caller's last seen seq, which a kept answer must have reached.
gw_customers_t *gw_customers_new(gw_forwarder_t *forwarder, gw_seqs_t *seqs, gw_cache_t *cache,
                                 size_t body_max);
void gw_customers_destroy(gw_customers_t **self_p);

//  Each answers the exchange, now or when the service replies. id is the
//  decoded path parameter.
void gw_customers_list(gw_customers_t *self, gw_exchange_t **ex_p);
void gw_customers_create(gw_customers_t *self, gw_exchange_t **ex_p);
void gw_customers_get(gw_customers_t *self, gw_exchange_t **ex_p, const char *id);
void gw_customers_update(gw_customers_t *self, gw_exchange_t **ex_p, const char *id);
void gw_customers_archive(gw_customers_t *self, gw_exchange_t **ex_p, const char *id);
void gw_customers_restore(gw_customers_t *self, gw_exchange_t **ex_p, const char *id);

void gw_customers_test(void);

#endif
