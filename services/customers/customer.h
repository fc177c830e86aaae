/*  customer.h — the customer record (DESIGN.md §5): its field table, an
    rp_record (rapport/record.h: held in memory, packed, checked and
    normalized by rp_record_validate).

    A record is stored as one MessagePack map with every field of the table
    below, in table order (absent values are nil), so that merging an update
    is "take the new value where given, else the old one".

    The table's rules: name required and never nil; code 1..32 of
    [A-Za-z0-9_-], generated when absent on create, never cleared once
    given; phones to E.164 in the default region (customers/phone_region);
    e-mail and dates normalized; tags ≤ 50 texts of ≤ 50 bytes; custom ≤ 50
    keys; credit_limit 0..2^53 (in the grading currency, grading.h); id,
    version, times, archived, last_contacted_at, grade_manual and
    tier_manual are the service's.
*/
#ifndef CUSTOMERS_CUSTOMER_H
#define CUSTOMERS_CUSTOMER_H

#include <rapport/record.h>

#include <stdbool.h>

typedef enum {
    CUSTOMER_ID,
    CUSTOMER_CODE,
    CUSTOMER_NAME,
    CUSTOMER_SHORT_NAME,
    CUSTOMER_TYPE,
    CUSTOMER_GRADE,
    CUSTOMER_TIER,
    CUSTOMER_NATURE,
    CUSTOMER_OWNER,
    CUSTOMER_TEAM,
    CUSTOMER_PHONE,
    CUSTOMER_MOBILE,
    CUSTOMER_FAX,
    CUSTOMER_EMAIL,
    CUSTOMER_WEBSITE,
    CUSTOMER_COUNTRY,
    CUSTOMER_REGION,
    CUSTOMER_ADDRESS,
    CUSTOMER_POSTCODE,
    CUSTOMER_TAX_ID,
    CUSTOMER_INDUSTRY,
    CUSTOMER_REGISTERED_ON,
    CUSTOMER_TAGS,
    CUSTOMER_CUSTOM,
    CUSTOMER_CREDIT_LIMIT,
    CUSTOMER_VERSION,
    CUSTOMER_CREATED_AT,
    CUSTOMER_UPDATED_AT,
    CUSTOMER_ARCHIVED,
    CUSTOMER_LAST_CONTACTED_AT, //  the latest activity's time (activity.h)
    CUSTOMER_GRADE_MANUAL,      //  the grade was set by hand: orders leave it (grading.h)
    CUSTOMER_TIER_MANUAL,       //  the tier was set by hand: orders leave it
    CUSTOMER_FIELDS
} customer_field_t;

#define CUSTOMER_MAX_ERRORS 32

//  An empty customer record.
void customer_init(rp_record_t *self);

//  The field's wire name ("short_name").
const char *customer_field_name(int field);

void customer_test(void);

#endif
