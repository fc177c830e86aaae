/*  relations.h — the ops on what hangs off a customer: its contacts,
    activities and timeline, its assignment and merges (docs/customers.md
    § Relations; records in contact.h and activity.h, events in
    docs/events.md).

    Reads, on "customers" (any instance, min_seq honoured):
        customers.contacts.list    {id, limit?, cursor?}
        customers.contacts.get     {id, contact_id}
        customers.activities.list  {id, limit?, cursor?}     newest first
        customers.timeline         {id, limit?, cursor?}     newest first
        customers.orders           {id, limit?, cursor?}     newest first (order.h)
        customers.unmatched.list   {limit?, cursor?}         admins: the unmatched queue
    Writes, on "customers.writer" (one event each, idem honoured):
        customers.contacts.create  {id, field…}                customer.contact_added
        customers.contacts.update  {id, contact_id, version?, field…}   …contact_updated
        customers.contacts.delete  {id, contact_id, version?} customer.contact_removed
        customers.activities.create {id, field…}               customer.activity_logged
        customers.assign           {id, owner, team?, version?}  customer.assigned
        customers.merge            {id, from: [ids]}            customer.merged
        customers.unmatched.match  {id, customer_id}  admins: customer.event_matched

    Scope is the customer's (scope.h): a customer outside the caller's
    scope is 404 not_found, for reads and writes alike; writes need a role
    that may change customers (403); assign needs admin, or a manager
    whose team the customer is in and stays in.
*/
#ifndef CUSTOMERS_RELATIONS_H
#define CUSTOMERS_RELATIONS_H

#include <rapport/service.h>

typedef struct _relations_t relations_t;

//  region: the default phone region ("CN") for contacts' phones.
relations_t *relations_new(const char *region);
void relations_destroy(relations_t **self_p);

//  The ops above, for the customers op table (handlers.h); arg: the
//  customers_handlers_t.
rp_service_op_fn relations_contacts_list, relations_contacts_get, relations_activities_list,
    relations_timeline, relations_contacts_create, relations_contacts_update,
    relations_contacts_delete, relations_activities_create, relations_assign, relations_merge,
    relations_orders_list, relations_unmatched_list, relations_unmatched_match;

#endif
