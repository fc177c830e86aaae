/*  record.h — a service's record described by a field table: customers,
    contacts, activities, users, and every record a service adds.

    A field table lists each field's name, kind, bounds, enum values and
    flags (writable or read-only, required), and optionally a normalizer.
    A record is stored as one MessagePack map with every field of its
    table, in table order (absent values nil), so that applying an update
    is "take the new value where given, else the old one".

    rp_record_t holds one msgpack_object per field. Values borrow from the
    decoded document they came from (rp_record_from_map), or from blocks
    the record owns (normalized strings, phone lists, copies), freed by
    rp_record_reset. A record lives on the stack: init, use, reset.

    Client input is checked and normalized by rp_record_validate into field
    errors ({field, code, message}, rp_field_error_t of rapport/service.h,
    replied with rp_service_reply_invalid). The codes:

        required      missing on create, nil, empty or blanks only
        too_long      more bytes than max
        too_many      more items than the field allows
        type          a value of the wrong MessagePack type
        invalid       not valid for the field (format, enum value…)
        invalid_key   a custom map's key is not 1..64 of [A-Za-z0-9_-]
        out_of_range  a number outside the field's bounds
        unknown       no such field (the key is echoed, cut safely)
        read_only     a field set by the service only

    The version helpers use the fields named "version", "updated_at" and
    "created_at" when the table has them.
*/
#ifndef RAPPORT_RECORD_H
#define RAPPORT_RECORD_H

#include <rapport/envelope.h>
#include <rapport/normalize.h>
#include <rapport/pack.h>
#include <rapport/service.h>

#include <stdbool.h>

#define RP_RECORD_MAX_FIELDS 32

typedef enum {
    RP_FIELD_SYSTEM, //  set by the service only (read_only to clients)
    RP_FIELD_TEXT,   //  one line: 1..max bytes, no control characters
    RP_FIELD_NOTE,   //  free text: 1..max bytes, newlines and tabs allowed
    RP_FIELD_CODE,   //  1..max bytes of [A-Za-z0-9_-] (codes, ids)
    RP_FIELD_ENUM,   //  one of values
    RP_FIELD_PHONE,  //  a phone number, to E.164 (rp_normalize_phone)
    RP_FIELD_PHONES, //  an array of up to items phone numbers, each to E.164
    RP_FIELD_EMAIL,  //  an e-mail address (rp_normalize_email)
    RP_FIELD_DATE,   //  an ISO 8601 date (rp_normalize_date)
    RP_FIELD_TIME,   //  an RFC 3339 time, stored in UTC (rp_normalize_time)
    RP_FIELD_TAGS,   //  an array of up to items texts of 1..max bytes
    RP_FIELD_CUSTOM, //  a map of up to items keys (codes of 1..64 bytes) to
                     //  str (0..max bytes), int, float, bool or nil
    RP_FIELD_AMOUNT, //  a number 0..2^53
    RP_FIELD_MONEY,  //  money: a number 0..10^13, two decimals at most (rapport/money.h)
    RP_FIELD_INT,    //  an integer 0..max
    RP_FIELD_VALUE   //  any value its check accepts (lists of maps…)
} rp_field_kind_t;

//  Flags of a field.
#define RP_FIELD_REQUIRED 1 //  named on create; nil is refused ("required")
#define RP_FIELD_KEPT     2 //  once set, an update cannot clear it with nil
#define RP_FIELD_BLANK                                                                             \
    4 //  text may be empty or blanks; nil and absent
      //  on create store ""

//  A normalizer beyond the kind's own check, for string kinds: the value
//  (checked by the kind) into out (RP_NORMALIZE_MAX bytes), or an error
//  code.
typedef const char *(rp_field_normalize_fn)(const char *in, size_t len, char *out);

//  RP_FIELD_VALUE's check: NULL if value is acceptable (then stored as
//  given), else an error code.
typedef const char *(rp_field_check_fn)(const msgpack_object *value);

typedef struct {
    const char *name;
    rp_field_kind_t kind;
    size_t max;                       //  bytes of a value (of an item for TAGS, CUSTOM);
                                      //  INT: the largest value
    size_t items;                     //  PHONES, TAGS, CUSTOM: the most items
    const char *const *values;        //  ENUM: NULL-terminated
    int flags;                        //  RP_FIELD_*
    rp_field_normalize_fn *normalize; //  NULL: the kind's alone
    rp_field_check_fn *check;         //  RP_FIELD_VALUE: the whole check
} rp_field_t;

typedef struct {
    const rp_field_t *fields;
    int count;
    msgpack_object values[RP_RECORD_MAX_FIELDS]; //  type NIL when absent
    bool given[RP_RECORD_MAX_FIELDS];            //  set, or present in the input (nil clears)
    void *owned[RP_RECORD_MAX_FIELDS];           //  heap blocks values[] point into
} rp_record_t;

//  An empty record of a table of count fields (≤ RP_RECORD_MAX_FIELDS).
void rp_record_init(rp_record_t *self, const rp_field_t *fields, int count);
void rp_record_reset(rp_record_t *self); //  frees what it owns, back to all-nil

//  The index of a field by name in a table, or -1.
int rp_fields_index(const rp_field_t *fields, int count, const char *name, size_t len);
int rp_record_index(const rp_record_t *self, const char *name, size_t len);

//  Read a map's known fields (unknown keys ignored, missing ones nil).
void rp_record_from_map(rp_record_t *self, const msgpack_object *map);

//  Set a field to a borrowed value / a copy of any value / a copy of a
//  string / an integer / a bool / nil.
void rp_record_set_obj(rp_record_t *self, int field, const msgpack_object *value);
void rp_record_set_copy(rp_record_t *self, int field, const msgpack_object *value);
void rp_record_set_str(rp_record_t *self, int field, const char *str, size_t len);
void rp_record_set_u64(rp_record_t *self, int field, uint64_t value);
void rp_record_set_bool(rp_record_t *self, int field, bool value);
void rp_record_set_nil(rp_record_t *self, int field);

//  A string field's bytes (false when nil or not a str); an integer field
//  (0 when absent); a bool field (false when absent).
bool rp_record_str(const rp_record_t *self, int field, const char **str, size_t *len);
uint64_t rp_record_u64(const rp_record_t *self, int field);
bool rp_record_bool(const rp_record_t *self, int field);

//  Take changes' given values, copying what changes owns (normalized
//  values), so changes can be reset at once; other values stay borrowed
//  from the document changes was read from.
void rp_record_overlay(rp_record_t *self, const rp_record_t *changes);

//  Pack all fields as a map in table order / only the given ones.
void rp_record_pack(const rp_record_t *self, msgpack_packer *pk);
void rp_record_pack_given(const rp_record_t *self, msgpack_packer *pk);

//  Check and normalize a client's fields from args (a map) into self
//  (given[] set for each), skipping the keys in skip (NULL-terminated:
//  envelope keys such as "id"). Unknown keys (a key that is not a string
//  too), read-only fields and invalid values become errors; on create the
//  required fields must be there. region: the default phone region, NULL
//  for international numbers only. Returns the number of errors (≤ max).
int rp_record_validate(rp_record_t *self, const msgpack_object *args, const char *const *skip,
                       bool create, const char *region, rp_field_error_t *errors, int max);

//  The record's version (0 when none).
uint64_t rp_record_version(const rp_record_t *self);

//  True if an event's data names an expected_version that is not the
//  record's (the answer is then 412 version_mismatch).
bool rp_record_stale(const rp_record_t *self, const msgpack_object *data);

//  Stamp a change made by event: the next version, updated_at the event's
//  time; when that makes version 1, created_at too.
void rp_record_stamp(rp_record_t *self, const rp_event_t *event);

//  Fill an error for field (copied, cut to RP_MAX_FIELD bytes on a UTF-8
//  boundary) with a static code and that code's standard message.
void rp_field_error_set(rp_field_error_t *error, const char *field, size_t len, const char *code);

void rp_record_test(void);

#endif
