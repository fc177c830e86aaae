/*  customer.h — the customer record (DESIGN.md §5): its fields, how a record
    is held in memory and packed, and how untrusted fields are checked and
    normalized.

    A record is stored as one MessagePack map with every field of the table
    below, in table order (absent values are nil), so that merging an update
    is "take the new value where given, else the old one".

    customer_t holds one msgpack_object per field. Values borrow from the
    decoded document they came from, or from strings the customer_t owns
    (normalized values, generated codes, times), freed by customer_reset.
*/
#ifndef CUSTOMERS_CUSTOMER_H
#define CUSTOMERS_CUSTOMER_H

#include <rapport/pack.h>
#include <rapport/service.h>

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
    CUSTOMER_FIELDS
} customer_field_t;

#define CUSTOMER_MAX_ERRORS 32
#define CUSTOMER_MAX_FIELD  RP_MAX_FIELD //  bytes of a field name echoed in an error

typedef struct {
    msgpack_object values[CUSTOMER_FIELDS]; //  type NIL when absent
    bool given[CUSTOMER_FIELDS];            //  present in the input (nil clears)
    char *owned[CUSTOMER_FIELDS];           //  heap strings values[] point into
} customer_t;

//  One invalid field: {field, code, message}. field is a copy (an unknown
//  key is echoed, cut to CUSTOMER_MAX_FIELD bytes on a UTF-8 boundary).
typedef rp_field_error_t customer_error_t; //  replied with rp_service_reply_invalid

//  The field's wire name ("short_name"); its index by name, or -1.
const char *customer_field_name(int field);
int customer_field_index(const char *name, size_t len);

//  True for fields a client may set (not id, version, times, archived).
bool customer_field_writable(int field);

void customer_init(customer_t *self);
void customer_reset(customer_t *self);

//  Read a map's known fields (unknown keys ignored, missing ones nil).
void customer_from_map(customer_t *self, const msgpack_object *map);

//  Set a field to a copy of a string / an integer / a bool / nil.
void customer_set_str(customer_t *self, int field, const char *str, size_t len);
void customer_set_u64(customer_t *self, int field, uint64_t value);
void customer_set_bool(customer_t *self, int field, bool value);
void customer_set_obj(customer_t *self, int field, const msgpack_object *value);

//  The version (0 when none), and whether an event's data names no
//  expected_version or names this one (else: 412 version_mismatch).
uint64_t customer_version(const customer_t *self);
bool customer_version_expected(const customer_t *self, const msgpack_object *data);

//  Stamp a change made by event: the next version, updated_at its time.
void customer_stamp(customer_t *self, const rp_event_t *event);

//  A string field's bytes (false when nil or not a str).
bool customer_str(const customer_t *self, int field, const char **str, size_t *len);

//  Pack all fields as a map in table order / only the given ones.
void customer_pack(const customer_t *self, msgpack_packer *pk);
void customer_pack_given(const customer_t *self, msgpack_packer *pk);

//  Fill an error for field (copied, cut safely) with a static code.
void customer_error_set(customer_error_t *error, const char *field, size_t len, const char *code);

//  Check and normalize a client's fields from args into self (given[] set
//  for each one), skipping the keys in skip (NULL-terminated: envelope keys
//  such as "id" and "version"). Unknown keys, read-only fields and invalid
//  values become errors. When create is true, name is required and nil
//  values are not allowed for it. Returns the number of errors.
int customer_validate(customer_t *self, const msgpack_object *args, const char *const *skip,
                      bool create, const char *region, customer_error_t *errors, int max_errors);

void customer_test(void);

#endif
