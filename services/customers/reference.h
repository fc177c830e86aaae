/*  reference.h — which stored customer an integrator's event means: by
    its reference {id} | {code} | {tax_id}, or (activity.logged,
    lead.captured) by a phone number or an e-mail address.

    Phones are read as E.164 (a national number in the grading's
    phone_region, grading.h, so every instance reads it alike) and matched
    against customers' phone and mobile, then their contacts' phones;
    e-mails, normalized, against customers' e-mail, then their contacts'
    (the likely-duplicates index, apply.h "similar", and contact.h
    contact_keys). When several share one, the first by id is taken.
*/
#ifndef CUSTOMERS_REFERENCE_H
#define CUSTOMERS_REFERENCE_H

#include <rapport/pack.h>
#include <rapport/store.h>

//  Each writes the customer's id into out (APPLY_MAX_ID + 1 bytes) and
//  returns its length; 0 when nobody matches.
size_t reference_customer(rp_store_t *store, MDB_txn *txn, const msgpack_object *data, char *out);
size_t reference_phone(rp_store_t *store, MDB_txn *txn, const char *phone, size_t len, char *out);
size_t reference_email(rp_store_t *store, MDB_txn *txn, const char *email, size_t len, char *out);
//  By name: the normalized names match (rp_normalize_name: "甲 有限公司" ~ "甲公司").
size_t reference_name(rp_store_t *store, MDB_txn *txn, const char *name, size_t len, char *out);

void reference_test(void);

#endif
