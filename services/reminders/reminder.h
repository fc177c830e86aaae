/*  reminder.h — the reminder record (docs/reminders.md § A reminder): its
    field table over rp_record (rapport/record.h), and its series and
    firings (rapport/recurrence.h, rapport/duration.h).

    Stored as one MessagePack map with every field below in table order
    (absent values nil). due_at is stored in UTC (RP_FIELD_TIME) and read
    as a local time in time_zone for the series: a 09:00 Berlin meeting
    created in winter stays at 09:00 Berlin in summer.

    A firing is an occurrence minus one of remind_before (the occurrence
    itself when none): its key is "<id>/<occurrence ms>/<offset s>".
*/
#ifndef REMINDERS_REMINDER_H
#define REMINDERS_REMINDER_H

#include <rapport/recurrence.h>
#include <rapport/record.h>

typedef enum {
    REMINDER_ID,
    REMINDER_SUBJECT,
    REMINDER_NOTES,
    REMINDER_KIND,
    REMINDER_DUE_AT,
    REMINDER_TIME_ZONE,
    REMINDER_ALL_DAY,
    REMINDER_REMIND_BEFORE,
    REMINDER_RRULE,
    REMINDER_EXDATES,
    REMINDER_SKIP_MISSED,
    REMINDER_ASSIGNEE,
    REMINDER_TEAM,
    REMINDER_CUSTOMER_ID,
    REMINDER_OPPORTUNITY_ID,
    REMINDER_STATE,         //  read-only: pending, fired, snoozed, done, cancelled
    REMINDER_SNOOZES,       //  read-only: how many snoozes
    REMINDER_SNOOZED_UNTIL, //  read-only
    REMINDER_FIRED,         //  read-only: [{at, offset, key}] the last ones
    REMINDER_NEXT_FIRE_AT,  //  read-only: the agenda's entry (nil: none)
    REMINDER_ARMED_AT,      //  read-only: firings of a series from here on
    REMINDER_DONE_THROUGH,  //  read-only: occurrences up to here are done
    REMINDER_VERSION,
    REMINDER_CREATED_AT,
    REMINDER_UPDATED_AT,
    REMINDER_FIELDS
} reminder_field_t;

#define REMINDER_MAX_ERRORS   32
#define REMINDER_MAX_OFFSETS  5 //  remind_before's durations
#define REMINDER_ZONE_DEFAULT "Asia/Shanghai"
#define REMINDER_KEY_MAX      128 //  a firing's key
#define REMINDER_FIRED_KEPT   10  //  fired entries kept in the record

//  An empty reminder record.
void reminder_init(rp_record_t *self);

//  The field's wire name ("due_at").
const char *reminder_field_name(int field);

//  utc_ms as the local time "YYYY-MM-DDTHH:MM:SS" (or the date
//  "YYYY-MM-DD" when date_only) in zone into out. False for an unknown zone.
bool reminder_local(const char *zone, int64_t utc_ms, bool date_only, char out[20]);

//  The reminder's series from its due_at, time_zone, all_day, rrule and
//  exdates: NULL with *field set to the field that is wrong ("due_at",
//  "time_zone", "rrule", "exdates") when one is.
rp_recurrence_t *reminder_series(const rp_record_t *self, const char **field);

//  remind_before as seconds into offsets (at most REMINDER_MAX_OFFSETS;
//  {0} when none): the count.
size_t reminder_offsets(const rp_record_t *self, int64_t offsets[REMINDER_MAX_OFFSETS]);

//  The key of a firing into out.
void reminder_key(const char *id, size_t id_len, int64_t occurrence_ms, int64_t offset_s,
                  char out[REMINDER_KEY_MAX]);

void reminder_test(void);

#endif
