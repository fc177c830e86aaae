/*  relations.h — the routes under a customer: contacts, activities,
    timeline, assignment and merge, mapped onto the customers service's
    relation ops (docs/customers.md § Relations; HTTP reference in
    docs/api.md).

        GET    …/customers/{id}/contacts        customers.contacts.list (limit, cursor)
        POST   …/customers/{id}/contacts        customers.contacts.create; 201 + Location
        GET    …/customers/{id}/contacts/{cid}  customers.contacts.get; ETag
        PATCH  …/customers/{id}/contacts/{cid}  customers.contacts.update; If-Match → version
        DELETE …/customers/{id}/contacts/{cid}  customers.contacts.delete; If-Match → version
        GET    …/customers/{id}/activities      customers.activities.list (limit, cursor)
        POST   …/customers/{id}/activities      customers.activities.create; 201
        GET    …/customers/{id}/timeline        customers.timeline (limit, cursor)
        POST   …/customers/{id}/assign          customers.assign {owner, team?}; If-Match
        POST   …/customers/{id}/merge           customers.merge {from: [ids]}

    The path names the customer (and the contact); the body never does.
    Writes take Idempotency-Key. The actor is the exchange's.
*/
#ifndef GW_RELATIONS_H
#define GW_RELATIONS_H

#include "exchange.h"
#include "forward.h"

typedef struct _gw_relations_t gw_relations_t;

gw_relations_t *gw_relations_new(gw_forwarder_t *forwarder, size_t body_max);
void gw_relations_destroy(gw_relations_t **self_p);

//  Each answers the exchange, now or when the service replies. id is the
//  decoded customer id; the contact routes read the contact id from the
//  path's last segment.
void gw_relations_contacts_list(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_contacts_create(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_contact_get(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_contact_update(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_contact_delete(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_activities_list(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_activities_create(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_timeline(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_assign(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);
void gw_relations_merge(gw_relations_t *self, gw_exchange_t **ex_p, const char *id);

//  The last segment of a path, percent-decoded: NUL-free UTF-8 of 1..max
//  bytes (heap, caller frees), or NULL.
char *gw_relations_last_segment(const char *path, size_t max);

void gw_relations_test(void);

#endif
