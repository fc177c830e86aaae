/*  recurrence.c — see recurrence.h. */
#include <rapport/recurrence.h>

#include <libical/ical.h>

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEARCH_MAX 1000000 //  occurrences looked at in one call, at most
#define DAY_S      86400

struct _rp_recurrence_t {
    icaltimezone *zone;
    struct icaltimetype start; //  floating: the zone's local time
    bool all_day;
    bool has_rule;
    struct icalrecurrencetype rule;
    size_t exdates;
    struct icaltimetype ex[RP_RECURRENCE_EXDATES];
};

//  ---------------------------------------------------------------------
//  Local times

static bool s_digits(const char *text, size_t at, size_t n, int *out)
{
    *out = 0;
    for (size_t i = at; i < at + n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return false;
        *out = *out * 10 + (text[i] - '0');
    }
    return true;
}

//  "YYYY-MM-DD", "YYYY-MM-DDTHH:MM" or "YYYY-MM-DDTHH:MM:SS", floating.
static bool s_parse_local(const char *text, struct icaltimetype *out, bool *date_only)
{
    size_t len = text ? strlen(text) : 0;
    int year, month, day, hour = 0, minute = 0, second = 0;
    if ((len != 10 && len != 16 && len != 19) || !s_digits(text, 0, 4, &year) || text[4] != '-' ||
        !s_digits(text, 5, 2, &month) || text[7] != '-' || !s_digits(text, 8, 2, &day))
        return false;
    if (len > 10 && (text[10] != 'T' || !s_digits(text, 11, 2, &hour) || text[13] != ':' ||
                     !s_digits(text, 14, 2, &minute)))
        return false;
    if (len == 19 && (text[16] != ':' || !s_digits(text, 17, 2, &second)))
        return false;
    if (year < 1900 || year > 9999 || month < 1 || month > 12 || day < 1 ||
        day > icaltime_days_in_month(month, year) || hour > 23 || minute > 59 || second > 59)
        return false;
    *out = icaltime_null_time();
    out->year = year;
    out->month = month;
    out->day = day;
    out->hour = hour;
    out->minute = minute;
    out->second = second;
    out->is_date = len == 10;
    *date_only = len == 10;
    return true;
}

//  The zone's UTC offset (seconds east) at a UTC instant.
static int s_offset_at(icaltimezone *zone, int64_t utc_s)
{
    struct icaltimetype u =
        icaltime_from_timet_with_zone((time_t)utc_s, 0, icaltimezone_get_utc_timezone());
    int daylight = 0;
    return icaltimezone_get_utc_offset_of_utc_time(zone, &u, &daylight);
}

//  A local time as a UTC instant: the one that reads as that local time
//  (the earlier of two), or, in a gap, the time moved forward by the gap.
static int64_t s_to_utc(icaltimezone *zone, struct icaltimetype local)
{
    local.zone = NULL;
    local.is_date = 0;
    int64_t naive = (int64_t)icaltime_as_timet(local); //  the fields read as UTC
    int before = s_offset_at(zone, naive - DAY_S), after = s_offset_at(zone, naive + DAY_S);
    int64_t a = naive - before, b = naive - after;
    bool a_ok = s_offset_at(zone, a) == before, b_ok = s_offset_at(zone, b) == after;
    if (a_ok && b_ok)
        return a < b ? a : b;
    if (a_ok || b_ok)
        return a_ok ? a : b;
    return naive - before; //  in the gap: the offset before it moves it forward
}

bool rp_recurrence_local_ms(const char *zone, int year, int month, int day, int hour, int minute,
                            int second, int64_t *ms)
{
    icaltimezone *tz = zone ? icaltimezone_get_builtin_timezone(zone) : NULL;
    if (!tz)
        return false;
    struct icaltimetype local = icaltime_null_time();
    local.year = year;
    local.month = month;
    local.day = day;
    local.hour = hour;
    local.minute = minute;
    local.second = second;
    *ms = s_to_utc(tz, local) * 1000;
    return true;
}

//  ---------------------------------------------------------------------
//  A series

rp_recurrence_t *rp_recurrence_new(const char *start, const char *zone, const char *rrule,
                                   const char *const *exdates, const char **error)
{
    rp_recurrence_t *self = calloc(1, sizeof *self);
    assert(self);
    *error = NULL;
    if (!s_parse_local(start, &self->start, &self->all_day))
        *error = "start";
    else if (!zone || strlen(zone) > 64 || !(self->zone = icaltimezone_get_builtin_timezone(zone)))
        *error = "zone";
    else if (rrule) {
        icalerror_clear_errno();
        if (strlen(rrule) > RP_RECURRENCE_RULE_MAX || strchr(rrule, '\n'))
            *error = "rrule";
        else {
            self->rule = icalrecurrencetype_from_string(rrule);
            self->has_rule = true;
            if (icalerrno != ICAL_NO_ERROR || self->rule.freq == ICAL_NO_RECURRENCE ||
                self->rule.freq == ICAL_SECONDLY_RECURRENCE ||
                self->rule.freq == ICAL_MINUTELY_RECURRENCE ||
                self->rule.freq == ICAL_HOURLY_RECURRENCE)
                *error = "rrule";
            icalerror_clear_errno();
        }
    }
    for (size_t i = 0; !*error && exdates && exdates[i]; i++) {
        bool date_only;
        if (i == RP_RECURRENCE_EXDATES || !s_parse_local(exdates[i], &self->ex[i], &date_only) ||
            date_only != self->all_day)
            *error = "exdates";
        else
            self->exdates = i + 1;
    }
    if (*error)
        rp_recurrence_destroy(&self);
    return self;
}

void rp_recurrence_destroy(rp_recurrence_t **self_p)
{
    free(*self_p);
    *self_p = NULL;
}

static bool s_excluded(const rp_recurrence_t *self, struct icaltimetype t)
{
    for (size_t i = 0; i < self->exdates; i++)
        if (self->all_day ? icaltime_compare_date_only(t, self->ex[i]) == 0
                          : icaltime_compare(t, self->ex[i]) == 0)
            return true;
    return false;
}

bool rp_recurrence_next(rp_recurrence_t *self, int64_t from_ms, int64_t *at_ms)
{
    int64_t start_ms = s_to_utc(self->zone, self->start) * 1000;
    if (!self->has_rule) {
        *at_ms = start_ms;
        return start_ms >= from_ms && !s_excluded(self, self->start);
    }
    icalrecur_iterator *it = icalrecur_iterator_new(self->rule, self->start);
    if (!it)
        return false;
    //  Far past the start: begin the walk two days before from (the local
    //  time then), not at the start. COUNT needs every occurrence counted.
    if (self->rule.count == 0 && from_ms / 1000 - 2 * DAY_S > start_ms / 1000) {
        struct icaltimetype jump =
            icaltime_from_timet_with_zone((time_t)(from_ms / 1000 - 2 * DAY_S), 0, self->zone);
        jump.zone = NULL;
        jump.is_date = self->all_day;
        if (self->all_day)
            jump.hour = jump.minute = jump.second = 0;
        icalrecur_iterator_set_start(it, jump);
    }
    bool found = false;
    for (int n = 0; n < SEARCH_MAX && !found; n++) {
        struct icaltimetype t = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(t))
            break;
        if (s_excluded(self, t))
            continue;
        int64_t ms = s_to_utc(self->zone, t) * 1000;
        if (ms >= from_ms) {
            *at_ms = ms;
            found = true;
        }
    }
    icalrecur_iterator_free(it);
    return found;
}

//  ---------------------------------------------------------------------
//  Self-test

//  Unix ms of a UTC time "YYYY-MM-DDTHH:MM:SSZ".
static int64_t s_test_utc(const char *text)
{
    struct icaltimetype t = icaltime_null_time();
    int v;
    assert(s_digits(text, 0, 4, &v) && (t.year = v) && s_digits(text, 5, 2, &t.month) &&
           s_digits(text, 8, 2, &t.day) && s_digits(text, 11, 2, &t.hour) &&
           s_digits(text, 14, 2, &t.minute) && s_digits(text, 17, 2, &t.second));
    return (int64_t)icaltime_as_timet(t) * 1000;
}

//  The first n occurrences from the start equal want (UTC times), and
//  asking again from just after each gives the next.
static void s_test_series(const char *start, const char *zone, const char *rule,
                          const char *const *exdates, const char *const *want)
{
    const char *error;
    rp_recurrence_t *r = rp_recurrence_new(start, zone, rule, exdates, &error);
    if (!r)
        fprintf(stderr, "recurrence: %s %s %s: bad %s\n", start, zone, rule, error);
    assert(r);
    int64_t from = 0, at;
    for (size_t i = 0; want[i]; i++) {
        bool found = rp_recurrence_next(r, from, &at);
        if (!found || at != s_test_utc(want[i]))
            fprintf(stderr, "recurrence: %s %s: #%zu is %lld, want %s\n", zone, rule, i,
                    found ? (long long)at : -1LL, want[i]);
        assert(found && at == s_test_utc(want[i]));
        from = at + 1;
    }
    rp_recurrence_destroy(&r);
}

void rp_recurrence_test(void)
{
    //  Weekly 09:00 in Berlin across the spring change (29 March 2026) and
    //  the autumn one (25 October): 09:00 local each week.
    s_test_series("2026-03-16T09:00", "Europe/Berlin", "FREQ=WEEKLY;BYDAY=MO,TH", NULL,
                  (const char *const[]){"2026-03-16T08:00:00Z", "2026-03-19T08:00:00Z",
                                        "2026-03-23T08:00:00Z", "2026-03-26T08:00:00Z",
                                        "2026-03-30T07:00:00Z", "2026-04-02T07:00:00Z", NULL});
    s_test_series("2026-10-19T09:00:00", "Europe/Berlin", "FREQ=WEEKLY", NULL,
                  (const char *const[]){"2026-10-19T07:00:00Z", "2026-10-26T08:00:00Z", NULL});
    //  New York changes on other dates (8 March, 1 November 2026).
    s_test_series("2026-03-02T09:00", "America/New_York", "FREQ=WEEKLY;BYDAY=MO", NULL,
                  (const char *const[]){"2026-03-02T14:00:00Z", "2026-03-09T13:00:00Z", NULL});
    s_test_series("2026-10-26T09:00", "America/New_York", "FREQ=WEEKLY;BYDAY=MO", NULL,
                  (const char *const[]){"2026-10-26T13:00:00Z", "2026-11-02T14:00:00Z", NULL});
    //  A local time in the gap moves forward; an ambiguous one takes the first.
    s_test_series("2026-03-22T02:30", "Europe/Berlin", "FREQ=WEEKLY;COUNT=3", NULL,
                  (const char *const[]){"2026-03-22T01:30:00Z", "2026-03-29T01:30:00Z",
                                        "2026-04-05T00:30:00Z", NULL});
    s_test_series("2026-10-25T01:30", "America/New_York", "FREQ=WEEKLY;COUNT=2", NULL,
                  (const char *const[]){"2026-10-25T05:30:00Z", "2026-11-01T05:30:00Z", NULL});
    //  The last Friday of the month; the second Tuesday of March; BYSETPOS.
    s_test_series("2026-01-30T17:00", "Asia/Shanghai", "FREQ=MONTHLY;BYDAY=-1FR", NULL,
                  (const char *const[]){"2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z",
                                        "2026-03-27T09:00:00Z", NULL});
    s_test_series("2026-03-10T09:00", "Europe/Berlin", "FREQ=YEARLY;BYMONTH=3;BYDAY=2TU", NULL,
                  (const char *const[]){"2026-03-10T08:00:00Z", "2027-03-09T08:00:00Z", NULL});
    s_test_series("2026-01-30T09:00", "UTC", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", NULL,
                  (const char *const[]){"2026-01-30T09:00:00Z", "2026-02-27T09:00:00Z",
                                        "2026-03-31T09:00:00Z", NULL});
    //  INTERVAL, UNTIL, EXDATE; an all-day yearly date.
    s_test_series("2026-01-01T08:00", "UTC", "FREQ=DAILY;INTERVAL=10;UNTIL=20260125T000000Z",
                  (const char *const[]){"2026-01-11T08:00", NULL},
                  (const char *const[]){"2026-01-01T08:00:00Z", "2026-01-21T08:00:00Z", NULL});
    s_test_series("2026-05-20", "Asia/Shanghai", "FREQ=YEARLY", NULL,
                  (const char *const[]){"2026-05-19T16:00:00Z", "2027-05-19T16:00:00Z", NULL});
    const char *error;
    rp_recurrence_t *r = rp_recurrence_new(
        "2026-01-01T08:00", "UTC", "FREQ=DAILY;INTERVAL=10;UNTIL=20260125T000000Z", NULL, &error);
    int64_t at;
    assert(!rp_recurrence_next(r, s_test_utc("2026-01-21T08:00:01Z"), &at)); //  ended
    rp_recurrence_destroy(&r);

    //  No cap: the 10,000th week, asked for directly, equals the walk's.
    r = rp_recurrence_new("2026-03-16T09:00", "Europe/Berlin", "FREQ=WEEKLY", NULL, &error);
    int64_t from = s_test_utc("2217-01-01T00:00:00Z");
    assert(rp_recurrence_next(r, from, &at) && at >= from && at - from < 7LL * DAY_S * 1000);
    rp_recurrence_destroy(&r);

    //  One occurrence; refusals.
    r = rp_recurrence_new("2026-12-24T18:00", "Asia/Shanghai", NULL, NULL, &error);
    assert(rp_recurrence_next(r, 0, &at) && at == s_test_utc("2026-12-24T10:00:00Z"));
    assert(!rp_recurrence_next(r, at + 1, &at));
    rp_recurrence_destroy(&r);
    assert(!rp_recurrence_new("2026-02-30T09:00", "UTC", NULL, NULL, &error) &&
           strcmp(error, "start") == 0);
    assert(!rp_recurrence_new("2026-02-03T09:00", "Mars/Olympus", NULL, NULL, &error) &&
           strcmp(error, "zone") == 0);
    assert(!rp_recurrence_new("2026-02-03T09:00", "UTC", "FREQ=SOMETIMES", NULL, &error) &&
           strcmp(error, "rrule") == 0);
    assert(!rp_recurrence_new("2026-02-03T09:00", "UTC", "FREQ=MINUTELY", NULL, &error) &&
           strcmp(error, "rrule") == 0);
    assert(!rp_recurrence_new("2026-02-03T09:00", "UTC", "FREQ=DAILY",
                              (const char *const[]){"2026-02-04", NULL}, &error) &&
           strcmp(error, "exdates") == 0);
    int64_t ms;
    assert(rp_recurrence_local_ms("Europe/Berlin", 2026, 3, 29, 2, 30, 0, &ms) &&
           ms == s_test_utc("2026-03-29T01:30:00Z"));
    assert(!rp_recurrence_local_ms("Nowhere/City", 2026, 3, 29, 2, 30, 0, &ms));
}
