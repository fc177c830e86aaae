/*  record.h — a small record described by a field table: a customer's
    contact (contact.h) or activity (activity.h).

    The same shape as the customer record (customer.h), for tables a
    fraction of its size: untrusted fields are checked and normalized into
    a record_t, held as one msgpack_object per field, and packed as one map
    in table order (absent values nil). Values borrow from the decoded
    document they came from, or from blocks the record owns (normalized
    strings, phone lists), freed by record_reset.

    Field errors use customer_error_t, so one reply shape serves every
    record: {field, code, message}, codes as in docs/customers.md.
*/
#ifndef CUSTOMERS_RECORD_H
#define CUSTOMERS_RECORD_H

#include "customer.h"

#include <rapport/normalize.h>
#include <rapport/pack.h>

#include <stdbool.h>

#define RECORD_MAX_FIELDS 16

typedef enum {
    RECORD_SYSTEM, //  set by the service only (read_only to clients)
    RECORD_TEXT,   //  one line: 1..max bytes, no control characters
    RECORD_NOTE,   //  free text: 1..max bytes, newlines and tabs allowed
    RECORD_ENUM,   //  one of values
    RECORD_PHONES, //  array of up to max phone numbers, each to E.164
    RECORD_EMAIL,  //  lower-cased and checked (rp_normalize_email)
    RECORD_DATE,   //  ISO 8601 date (rp_normalize_date)
    RECORD_TIME    //  RFC 3339 time, stored in UTC (rp_normalize_time)
} record_kind_t;

typedef struct {
    const char *name;
    record_kind_t kind;
    size_t max;
    const char *const *values; //  RECORD_ENUM: NULL-terminated
    bool required;             //  on create; never cleared by nil
} record_field_t;

typedef struct {
    const record_field_t *fields;
    int count;
    msgpack_object values[RECORD_MAX_FIELDS]; //  type NIL when absent
    bool given[RECORD_MAX_FIELDS];            //  present in the input (nil clears)
    void *owned[RECORD_MAX_FIELDS];           //  heap blocks values[] point into
} record_t;

void record_init(record_t *self, const record_field_t *fields, int count);
void record_reset(record_t *self); //  frees what it owns, back to all-nil

//  The index of a field by name, or -1.
int record_index(const record_t *self, const char *name, size_t len);

//  Read a map's known fields (unknown keys ignored, missing ones nil).
void record_from_map(record_t *self, const msgpack_object *map);

//  Set a field to a borrowed value / a copy of a string / an integer.
void record_set_obj(record_t *self, int field, const msgpack_object *value);
void record_set_str(record_t *self, int field, const char *str, size_t len);
void record_set_u64(record_t *self, int field, uint64_t value);

//  The version in field (0 when none), and whether an event's data names
//  no expected_version or names this one (else: 412 version_mismatch).
uint64_t record_version(const record_t *self, int field);
bool record_version_expected(const record_t *self, int field, const msgpack_object *data);

//  Stamp a change made by event: the next version in version_field, its
//  time in updated_field.
void record_stamp(record_t *self, int version_field, int updated_field, const rp_event_t *event);

//  A string field's bytes (false when nil or not a str).
bool record_str(const record_t *self, int field, const char **str, size_t *len);

//  Take changes' given values (borrowed: changes must outlive self's use).
void record_overlay(record_t *self, const record_t *changes);

//  Pack all fields as a map in table order / only the given ones.
void record_pack(const record_t *self, msgpack_packer *pk);
void record_pack_given(const record_t *self, msgpack_packer *pk);

//  Check and normalize a client's fields from args (a map) into self,
//  skipping the keys in skip (NULL-terminated). Unknown keys, read-only
//  fields and invalid values become errors; on create the required
//  fields must be there. region: the default phone region, NULL for
//  international numbers only. Returns the number of errors (≤ max).
int record_validate(record_t *self, const msgpack_object *args, const char *const *skip,
                    bool create, const char *region, customer_error_t *errors, int max);

void record_test(void);

#endif
