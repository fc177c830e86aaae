/*  reminder.c — the reminder record's field table, its series and its
    firings' keys. */
#include "reminder.h"

#include <rapport/duration.h>
#include <rapport/envelope.h>
#include <rapport/intl.h>

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *s_bool(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_BOOLEAN ? NULL : "type";
}

//  An array of at most REMINDER_MAX_OFFSETS ISO 8601 durations.
static const char *s_durations(const msgpack_object *o)
{
    if (!rp_obj_is_array(o))
        return "type";
    if (o->via.array.size > REMINDER_MAX_OFFSETS)
        return "too_many";
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        const char *text;
        size_t len;
        int64_t seconds;
        if (!rp_obj_str(&o->via.array.ptr[i], &text, &len))
            return "type";
        if (len > RP_DURATION_TEXT || rp_duration_parse(text, len, &seconds))
            return "invalid";
    }
    return NULL;
}

static const char *const s_kinds[] = {"task", "visit", "call", "date", "follow_up", NULL};

static const rp_field_t s_fields[REMINDER_FIELDS] = {
    [REMINDER_ID] = {"id", RP_FIELD_SYSTEM},
    [REMINDER_SUBJECT] = {"subject", RP_FIELD_TEXT, .max = 200, .flags = RP_FIELD_REQUIRED},
    [REMINDER_NOTES] = {"notes", RP_FIELD_NOTE, .max = 4000},
    [REMINDER_KIND] = {"kind", RP_FIELD_ENUM, .values = s_kinds, .flags = RP_FIELD_KEPT},
    [REMINDER_DUE_AT] = {"due_at", RP_FIELD_TIME, .flags = RP_FIELD_REQUIRED | RP_FIELD_KEPT},
    [REMINDER_TIME_ZONE] = {"time_zone", RP_FIELD_TEXT, .max = RP_ZONE_MAX, .flags = RP_FIELD_KEPT},
    [REMINDER_ALL_DAY] = {"all_day", RP_FIELD_VALUE, .check = s_bool},
    [REMINDER_REMIND_BEFORE] = {"remind_before", RP_FIELD_VALUE, .check = s_durations},
    [REMINDER_RRULE] = {"rrule", RP_FIELD_TEXT, .max = RP_RECURRENCE_RULE_MAX},
    [REMINDER_EXDATES] = {"exdates", RP_FIELD_TAGS, .max = 19, .items = RP_RECURRENCE_EXDATES},
    [REMINDER_SKIP_MISSED] = {"skip_missed", RP_FIELD_VALUE, .check = s_bool},
    [REMINDER_ASSIGNEE] = {"assignee", RP_FIELD_TEXT, .max = 100, .flags = RP_FIELD_KEPT},
    [REMINDER_TEAM] = {"team", RP_FIELD_TEXT, .max = 100},
    [REMINDER_CUSTOMER_ID] = {"customer_id", RP_FIELD_CODE, .max = 64},
    [REMINDER_OPPORTUNITY_ID] = {"opportunity_id", RP_FIELD_CODE, .max = 64},
    [REMINDER_STATE] = {"state", RP_FIELD_SYSTEM},
    [REMINDER_SNOOZES] = {"snoozes", RP_FIELD_SYSTEM},
    [REMINDER_SNOOZED_UNTIL] = {"snoozed_until", RP_FIELD_SYSTEM},
    [REMINDER_FIRED] = {"fired", RP_FIELD_SYSTEM},
    [REMINDER_NEXT_FIRE_AT] = {"next_fire_at", RP_FIELD_SYSTEM},
    [REMINDER_ARMED_AT] = {"armed_at", RP_FIELD_SYSTEM},
    [REMINDER_DONE_THROUGH] = {"done_through", RP_FIELD_SYSTEM},
    [REMINDER_VERSION] = {"version", RP_FIELD_SYSTEM},
    [REMINDER_CREATED_AT] = {"created_at", RP_FIELD_SYSTEM},
    [REMINDER_UPDATED_AT] = {"updated_at", RP_FIELD_SYSTEM},
};

void reminder_init(rp_record_t *self)
{
    rp_record_init(self, s_fields, REMINDER_FIELDS);
}

const char *reminder_field_name(int field)
{
    assert(field >= 0 && field < REMINDER_FIELDS);
    return s_fields[field].name;
}

//  The fields of utc_ms (UTC) as a struct tm.
static void s_fields_of(int64_t ms, struct tm *tm)
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    gmtime_r(&s, tm);
}

//  The local time of fields read as UTC, made an instant in zone.
static bool s_local_ms(const char *zone, const struct tm *tm, int64_t *ms)
{
    return rp_recurrence_local_ms(zone, tm->tm_year + 1900, tm->tm_mon + 1, tm->tm_mday,
                                  tm->tm_hour, tm->tm_min, tm->tm_sec, ms);
}

bool reminder_local(const char *zone, int64_t utc_ms, bool date_only, char out[20])
{
    //  Find the offset o with local(utc + o) == utc: guess from the offset
    //  near the instant, then once more from the guess's own offset.
    int64_t s_ms = utc_ms - ((utc_ms % 1000) + 1000) % 1000; //  whole seconds
    int64_t local = s_ms, back;
    struct tm tm;
    for (int round = 0; round < 3; round++) {
        s_fields_of(local, &tm);
        if (!s_local_ms(zone, &tm, &back))
            return false;
        if (back == s_ms)
            break;
        local += s_ms - back;
    }
    s_fields_of(local, &tm);
    char text[64];
    if (date_only)
        snprintf(text, sizeof text, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    else
        snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    size_t len = strlen(text) < 19 ? strlen(text) : 19;
    memcpy(out, text, len);
    out[len] = 0;
    return true;
}

static char *s_cstr(const rp_record_t *self, int field)
{
    const char *str;
    size_t len;
    return rp_record_str(self, field, &str, &len) ? strndup(str, len) : NULL;
}

rp_recurrence_t *reminder_series(const rp_record_t *self, const char **field)
{
    const char *due;
    size_t due_len;
    int64_t due_ms;
    char *zone = s_cstr(self, REMINDER_TIME_ZONE);
    char *rule = s_cstr(self, REMINDER_RRULE);
    const msgpack_object *ex = &self->values[REMINDER_EXDATES];
    uint32_t n = ex->type == MSGPACK_OBJECT_ARRAY ? ex->via.array.size : 0;
    char **exdates = calloc(n + 1, sizeof *exdates);
    assert(exdates);
    for (uint32_t i = 0; i < n; i++) {
        const char *str;
        size_t len;
        exdates[i] = rp_obj_str(&ex->via.array.ptr[i], &str, &len) ? strndup(str, len) : strdup("");
    }
    bool all_day = rp_record_bool(self, REMINDER_ALL_DAY);
    char start[20];
    rp_recurrence_t *series = NULL;
    const char *error = NULL;
    *field = NULL;
    if (!rp_record_str(self, REMINDER_DUE_AT, &due, &due_len) ||
        !rp_time_parse(due, due_len, &due_ms))
        *field = "due_at";
    else if (!zone || !reminder_local(zone, due_ms, all_day, start))
        *field = "time_zone";
    else if (!(series = rp_recurrence_new(start, zone, rule && *rule ? rule : NULL,
                                          n ? (const char *const *)exdates : NULL, &error)))
        *field = !error                          ? "rrule"
                 : strcmp(error, "zone") == 0    ? "time_zone"
                 : strcmp(error, "start") == 0   ? "due_at"
                 : strcmp(error, "exdates") == 0 ? "exdates"
                                                 : "rrule";
    for (uint32_t i = 0; i < n; i++)
        free(exdates[i]);
    free(exdates);
    free(zone);
    free(rule);
    return series;
}

size_t reminder_offsets(const rp_record_t *self, int64_t offsets[REMINDER_MAX_OFFSETS])
{
    const msgpack_object *o = &self->values[REMINDER_REMIND_BEFORE];
    size_t count = 0;
    for (uint32_t i = 0;
         rp_obj_is_array(o) && i < o->via.array.size && count < REMINDER_MAX_OFFSETS; i++) {
        const char *text;
        size_t len;
        int64_t seconds;
        if (rp_obj_str(&o->via.array.ptr[i], &text, &len) &&
            !rp_duration_parse(text, len, &seconds)) {
            bool seen = false;
            for (size_t k = 0; k < count; k++)
                seen = seen || offsets[k] == seconds;
            if (!seen)
                offsets[count++] = seconds;
        }
    }
    if (count == 0)
        offsets[count++] = 0;
    return count;
}

void reminder_key(const char *id, size_t id_len, int64_t occurrence_ms, int64_t offset_s,
                  char out[REMINDER_KEY_MAX])
{
    snprintf(out, REMINDER_KEY_MAX, "%.*s/%" PRId64 "/%" PRId64, (int)(id_len > 64 ? 64 : id_len),
             id, occurrence_ms, offset_s);
}

//  ---------------------------------------------------------------------

static rp_doc_t *s_test_doc(rp_packer_t *p)
{
    rp_doc_t *doc = rp_doc_new(p->buffer.data, p->buffer.size, NULL);
    assert(doc);
    return doc;
}

void reminder_test(void)
{
    assert(strcmp(reminder_field_name(REMINDER_REMIND_BEFORE), "remind_before") == 0);
    //  Local times: Berlin in winter (+01:00) and summer (+02:00), Shanghai.
    char local[20];
    int64_t ms;
    assert(rp_time_parse("2026-03-23T08:00:00Z", 20, &ms));
    assert(reminder_local("Europe/Berlin", ms, false, local));
    assert(strcmp(local, "2026-03-23T09:00:00") == 0);
    assert(rp_time_parse("2026-07-01T07:30:00Z", 20, &ms));
    assert(reminder_local("Europe/Berlin", ms, false, local));
    assert(strcmp(local, "2026-07-01T09:30:00") == 0);
    assert(rp_time_parse("2026-12-31T20:00:00Z", 20, &ms));
    assert(reminder_local("Asia/Shanghai", ms, true, local));
    assert(strcmp(local, "2027-01-01") == 0);
    assert(!reminder_local("Nowhere/Else", ms, false, local));

    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 6);
    rp_pack_kv_cstr(&p.pk, "subject", "拜访客户");
    rp_pack_kv_cstr(&p.pk, "due_at", "2026-03-23T09:00:00+01:00");
    rp_pack_kv_cstr(&p.pk, "time_zone", "Europe/Berlin");
    rp_pack_kv_cstr(&p.pk, "rrule", "FREQ=WEEKLY;BYDAY=MO;COUNT=3");
    rp_pack_kv_cstr(&p.pk, "kind", "visit");
    rp_pack_cstr(&p.pk, "remind_before");
    msgpack_pack_array(&p.pk, 3);
    rp_pack_cstr(&p.pk, "PT1H");
    rp_pack_cstr(&p.pk, "P1D");
    rp_pack_cstr(&p.pk, "PT1H");
    rp_doc_t *doc = s_test_doc(&p);
    rp_record_t r;
    reminder_init(&r);
    rp_field_error_t errors[REMINDER_MAX_ERRORS];
    assert(rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors,
                              REMINDER_MAX_ERRORS) == 0);
    assert(rp_obj_streq(&r.values[REMINDER_DUE_AT], "2026-03-23T08:00:00.000Z"));
    int64_t offsets[REMINDER_MAX_OFFSETS];
    assert(reminder_offsets(&r, offsets) == 2 && offsets[0] == 3600 && offsets[1] == 86400);
    const char *field;
    rp_recurrence_t *series = reminder_series(&r, &field);
    assert(series && !field);
    //  09:00 Berlin: 08:00Z before the 29 March change, 07:00Z after.
    int64_t at, want;
    assert(rp_recurrence_next(series, 0, &at));
    assert(rp_time_parse("2026-03-23T08:00:00Z", 20, &want) && at == want);
    assert(rp_recurrence_next(series, at + 1, &at));
    assert(rp_time_parse("2026-03-30T07:00:00Z", 20, &want) && at == want);
    assert(rp_recurrence_next(series, at + 1, &at));
    assert(!rp_recurrence_next(series, at + 1, &at)); //  COUNT=3
    rp_recurrence_destroy(&series);
    char key[REMINDER_KEY_MAX];
    reminder_key("r1", 2, want, 3600, key);
    assert(strcmp(key, "r1/1774854000000/3600") == 0);

    //  A bad rule and a bad zone are named by the series.
    rp_record_set_str(&r, REMINDER_RRULE, "FREQ=SOMETIMES", 14);
    assert(!reminder_series(&r, &field) && strcmp(field, "rrule") == 0);
    rp_record_set_nil(&r, REMINDER_RRULE);
    rp_record_set_str(&r, REMINDER_TIME_ZONE, "Mars/Olympus", 12);
    assert(!reminder_series(&r, &field) && strcmp(field, "time_zone") == 0);
    rp_record_reset(&r);
    rp_doc_destroy(&doc);

    //  Bad values, each named.
    rp_packer_reset(&p);
    msgpack_pack_map(&p.pk, 5);
    rp_pack_kv_cstr(&p.pk, "due_at", "tomorrow");
    rp_pack_kv_cstr(&p.pk, "kind", "party");
    rp_pack_cstr(&p.pk, "remind_before");
    msgpack_pack_array(&p.pk, 1);
    rp_pack_cstr(&p.pk, "P1M");
    rp_pack_kv_cstr(&p.pk, "all_day", "yes");
    rp_pack_kv_cstr(&p.pk, "state", "done");
    doc = s_test_doc(&p);
    reminder_init(&r);
    int n = rp_record_validate(&r, rp_doc_root(doc), NULL, true, NULL, errors, REMINDER_MAX_ERRORS);
    static const char *const want_errors[][2] = {
        {"due_at", "invalid"}, {"kind", "invalid"},    {"remind_before", "invalid"},
        {"all_day", "type"},   {"state", "read_only"}, {"subject", "required"}};
    assert(n == 6);
    for (int i = 0; i < n; i++)
        assert(strcmp(errors[i].field, want_errors[i][0]) == 0 &&
               strcmp(errors[i].code, want_errors[i][1]) == 0);
    rp_record_reset(&r);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&p);
}
