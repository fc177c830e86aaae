/*  preferences.h — a user's own settings: the time zone, locale and
    currency they work in (GET/PUT /api/v1/users/me/preferences;
    docs/users.md § Preferences).

    One record per user id in the store's "preferences" database:
        {id, time_zone, locale, currency, version, created_at, updated_at}
    each setting nil until set. The writer checks the values with rp_intl
    (rapport/intl.h: a zone of the tz database, a well-formed BCP 47 tag,
    an active ISO 4217 code; 422 with field errors otherwise) and appends
        user.preferences_set {id, preferences: {time_zone, locale,
                              currency}, expected_version?}
    with all three settings (a PUT: an absent or nil one is cleared).
    Apply stores what the event says. The other services learn a user's
    time zone from this event on the feed (DESIGN.md §7), never by a call.

    Anyone with a user id sets and reads their own preferences (readonly
    and integrator keys too: these are the caller's, not the company's
    data); an admin may name another user's id over MDP.
*/
#ifndef USERS_PREFERENCES_H
#define USERS_PREFERENCES_H

#include <rapport/apply.h>
#include <rapport/record.h>
#include <rapport/service.h>

#define PREFERENCES_DB "preferences"

typedef enum {
    PREFERENCES_ID,
    PREFERENCES_TIME_ZONE,
    PREFERENCES_LOCALE,
    PREFERENCES_CURRENCY,
    PREFERENCES_VERSION,
    PREFERENCES_CREATED_AT,
    PREFERENCES_UPDATED_AT,
    PREFERENCES_FIELDS
} preferences_field_t;

//  An empty record of the preferences' field table (rapport/record.h).
void preferences_init(rp_record_t *self);

//  Init self and check a client's settings (a map) into it: unknown keys,
//  read-only fields and values that are not a zone, a tag or a code are
//  errors, worded for people. Returns the number of errors.
int preferences_validate(rp_record_t *self, const msgpack_object *given,
                         rp_field_error_t errors[PREFERENCES_FIELDS]);

//  Pack the event's {time_zone, locale, currency}: every setting, nil
//  where self has none.
void preferences_pack_settings(const rp_record_t *self, msgpack_packer *pk);

//  Pack the record of a user who never set anything: every setting nil,
//  version 0.
void preferences_pack_unset(msgpack_packer *pk, const char *id, size_t len);

//  The apply row of user.preferences_set (rapport/apply.h).
int preferences_apply(rp_apply_t *apply);

//  The ops users.preferences (read) and users.set_preferences (write),
//  in preferences_ops.c; arg is the users_handlers_t.
rp_service_op_fn preferences_get;
rp_service_op_fn preferences_set;

void preferences_test(void);

#endif
