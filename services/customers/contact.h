/*  contact.h — a customer's contacts (DESIGN.md §5): the people at a
    customer, with their phones, e-mail, birthday and notes.

    Record (an rp_record table, rapport/record.h; stored as one map in this order):
        id, customer_id      set by the service
        name                 required, 1..100 bytes
        title                ≤ 100 bytes
        phones               ≤ 10 numbers, each normalized to E.164
        email                lower-cased and checked
        birthday             ISO 8601 date
        notes                personality notes, ≤ 2000 bytes (newlines allowed)
        hobbies              ≤ 1000 bytes (newlines allowed)
        version, created_at, updated_at

    Databases (apply_dbnames):
        contacts       <customer id> NUL <contact id> → the record
        contact_names  <customer id> NUL <contact id> → the name, for the
                       customer list's q search without decoding records
        contact_keys   'p' phone | 'e' e-mail, NUL, <customer id> NUL
                       <contact id> → "": leads matched to contacts (reference.h)

    Events (docs/events.md): customer.contact_added {id, contact_id,
    contact: {field…}}, customer.contact_updated {id, contact_id,
    expected_version?, changes: {field…}}, customer.contact_removed {id,
    contact_id, expected_version?}. apply checks them again (no default
    phone region: the writer stored international numbers) and refuses
    with an outcome: 404 not_found (customer or contact), 409 exists, 412
    version_mismatch, 422 bad_event.
*/
#ifndef CUSTOMERS_CONTACT_H
#define CUSTOMERS_CONTACT_H

#include <rapport/record.h>

#include <rapport/envelope.h>
#include <rapport/store.h>

typedef enum {
    CONTACT_ID,
    CONTACT_CUSTOMER_ID,
    CONTACT_NAME,
    CONTACT_TITLE,
    CONTACT_PHONES,
    CONTACT_EMAIL,
    CONTACT_BIRTHDAY,
    CONTACT_NOTES,
    CONTACT_HOBBIES,
    CONTACT_VERSION,
    CONTACT_CREATED_AT,
    CONTACT_UPDATED_AT,
    CONTACT_FIELDS
} contact_field_t;

#define CONTACT_MAX_ID 64

//  An empty contact record.
void contact_init(rp_record_t *self);

//  True for the customer.contact_* event types.
bool contact_event(const rp_event_t *event);

//  Apply one customer.contact_* event: 0 with *status (200 or a refusal)
//  and *code (NULL or a static code) set, or an LMDB error.
int contact_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                  const char **code);

//  The stored contact (raw MessagePack valid until txn ends). 0 or
//  MDB_NOTFOUND.
int contact_get(rp_store_t *store, MDB_txn *txn, const char *customer_id, size_t customer_id_len,
                const char *contact_id, size_t contact_id_len, MDB_val *value);

//  True if fn answers true for the name of one of the customer's contacts.
typedef bool(contact_name_fn)(void *arg, const char *name, size_t len);
bool contact_name_any(rp_store_t *store, MDB_txn *txn, const char *customer_id, size_t len,
                      contact_name_fn *fn, void *arg);

//  Move every contact of customer from to customer to (merge): new key,
//  customer_id, version + 1, updated_at = time.
int contact_move(rp_store_t *store, MDB_txn *txn, const char *from, size_t from_len, const char *to,
                 size_t to_len, const char *time, size_t time_len);

void contact_test(void);

#endif
