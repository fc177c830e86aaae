/*  schedule.c — see schedule.h. */
#include <rapport/schedule.h>
#include <rapport/duration.h>
#include <rapport/items.h>

#include <assert.h>
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

//  "5s", "5m", "2h", "1d" as the ISO 8601 text rp_duration_parse reads;
//  anything else is passed on as it is.
static const char *s_entry(const char *text, size_t len, int64_t *seconds)
{
    char iso[RP_DURATION_TEXT + 4];
    size_t digits = 0;
    while (digits < len && text[digits] >= '0' && text[digits] <= '9')
        digits++;
    if (digits > 0 && digits == len - 1 && digits < RP_DURATION_TEXT - 3 &&
        strchr("smhd", text[digits])) {
        char unit = text[digits];
        snprintf(iso, sizeof iso, "P%s%.*s%c", unit == 'd' ? "" : "T", (int)digits, text,
                 unit - 'a' + 'A');
        return rp_duration_parse(iso, strlen(iso), seconds);
    }
    return rp_duration_parse(text, len, seconds);
}

const char *rp_schedule_parse(const char *text, rp_schedule_t *schedule, size_t *bad_at)
{
    schedule->count = 0;
    if (bad_at)
        *bad_at = 0;
    if (!text || !text[strspn(text, " \t")])
        return "empty";
    if (strnlen(text, RP_SCHEDULE_TEXT_MAX + 1) > RP_SCHEDULE_TEXT_MAX)
        return "too_many";
    const char *at = text, *item;
    size_t len;
    while (rp_items_next(&at, &item, &len)) {
        if (bad_at)
            *bad_at = schedule->count;
        const char *error = schedule->count == RP_SCHEDULE_MAX
                                ? "too_many"
                                : s_entry(item, len, &schedule->delay[schedule->count]);
        if (error) {
            schedule->count = 0;
            return error;
        }
        schedule->count++;
    }
    return NULL;
}

void rp_schedule_default(rp_schedule_t *schedule)
{
    const char *error = rp_schedule_parse(RP_SCHEDULE_DEFAULT, schedule, NULL);
    assert(!error);
}

bool rp_schedule_delay(const rp_schedule_t *schedule, size_t attempt, uint32_t random,
                       int64_t *delay_ms)
{
    if (attempt >= schedule->count)
        return false;
    int64_t base = schedule->delay[attempt] * 1000;
    //  random over [0, 2^32) as a spread over [-10 %, +10 %), in steps of 1/2^16.
    int64_t step = (int64_t)(random >> 16) - 32768;
    *delay_ms = base + base / 10 * step / 32768;
    return true;
}

bool rp_schedule_retry_after(const char *value, int64_t now, int64_t *seconds)
{
    if (!value)
        return false;
    value += strspn(value, " \t");
    size_t len = strnlen(value, 64);
    while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= 64)
        return false;
    char text[64];
    memcpy(text, value, len);
    text[len] = 0;
    int64_t wait = 0;
    if (strspn(text, "0123456789") == len) {
        for (size_t i = 0; i < len && wait <= RP_SCHEDULE_RETRY_AFTER_MAX; i++)
            wait = wait * 10 + (text[i] - '0');
    } else {
        //  curl_getdate reads RFC 9110's three date forms (and more).
        time_t when = curl_getdate(text, NULL);
        if (when == -1)
            return false;
        wait = (int64_t)when - now;
    }
    *seconds = wait < 0                             ? 0
               : wait > RP_SCHEDULE_RETRY_AFTER_MAX ? RP_SCHEDULE_RETRY_AFTER_MAX
                                                    : wait;
    return true;
}

int64_t rp_schedule_at_least(int64_t delay_ms, int64_t retry_after)
{
    if (retry_after >= 0 && retry_after * 1000 > delay_ms)
        return retry_after * 1000;
    return delay_ms;
}

static void s_test_parse(void)
{
    rp_schedule_t s;
    rp_schedule_default(&s);
    static const int64_t want[] = {0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400};
    assert(s.count == 10 && memcmp(s.delay, want, sizeof want) == 0);
    assert(!rp_schedule_parse("0s,1s,1s,1s", &s, NULL));
    assert(s.count == 4 && s.delay[0] == 0 && s.delay[3] == 1);
    assert(!rp_schedule_parse(" PT0S , PT5M,P1D, 1d ,pt1h30m", &s, NULL));
    assert(s.count == 5 && s.delay[1] == 300 && s.delay[2] == 86400 && s.delay[3] == 86400);
    assert(s.delay[4] == 5400);
    size_t bad = 99;
    static const char *const wrong[][2] = {
        {"", "empty"},          {"  ", "empty"},       {"0s,,1s", "invalid"},
        {"0s,1x", "invalid"},   {"0s,-1s", "invalid"}, {"0s,5", "invalid"},
        {"0s,1.5s", "invalid"}, {"0s,5S", "invalid"},  {"0s,P1M", "unsupported"},
        {"0s,5M", "invalid"},   {"0s,s", "invalid"},   {"0s,99999999999d", "out_of_range"},
        {"0s,", "invalid"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        const char *error = rp_schedule_parse(wrong[i][0], &s, &bad);
        if (!error || strcmp(error, wrong[i][1]) != 0)
            fprintf(stderr, "schedule '%s': %s, want %s\n", wrong[i][0], error ? error : "ok",
                    wrong[i][1]);
        assert(error && strcmp(error, wrong[i][1]) == 0 && s.count == 0);
        assert(strcmp(wrong[i][1], "empty") == 0 || bad == 1);
    }
    char many[RP_SCHEDULE_MAX * 3 + 8] = "";
    for (int i = 0; i <= RP_SCHEDULE_MAX; i++)
        strcat(many, i ? ",1s" : "1s");
    const char *error = rp_schedule_parse(many, &s, &bad);
    assert(error && strcmp(error, "too_many") == 0 && bad == RP_SCHEDULE_MAX);
    many[strlen(many) - 3] = 0;
    assert(!rp_schedule_parse(many, &s, NULL) && s.count == RP_SCHEDULE_MAX);
}

static void s_test_delay(void)
{
    rp_schedule_t s;
    rp_schedule_default(&s);
    int64_t ms = -1;
    assert(rp_schedule_delay(&s, 0, 0, &ms) && ms == 0);
    assert(rp_schedule_delay(&s, 1, 0x80000000u, &ms) && ms == 5000); //  the middle: none
    assert(rp_schedule_delay(&s, 1, 0, &ms) && ms == 4500);           //  -10 %
    assert(rp_schedule_delay(&s, 1, 0xFFFFFFFFu, &ms) && ms > 5490 && ms < 5500);
    assert(rp_schedule_delay(&s, 9, 0, &ms) && ms == 86400LL * 900);
    for (uint32_t r = 0; r < 0xFFFF0000u; r += 0x01234567u) {
        assert(rp_schedule_delay(&s, 5, r, &ms));
        assert(ms >= 18000LL * 900 && ms <= 18000LL * 1100);
    }
    assert(!rp_schedule_delay(&s, 10, 0, &ms));
    assert(!rp_schedule_parse("P3660D", &s, NULL)); //  the largest duration, jitter and all
    assert(rp_schedule_delay(&s, 0, 0xFFFFFFFFu, &ms) && ms > 0);
}

static void s_test_retry_after(void)
{
    int64_t now = 1445412480; //  Wed, 21 Oct 2015 07:28:00 GMT
    int64_t wait = -1;
    assert(rp_schedule_retry_after("2", now, &wait) && wait == 2);
    assert(rp_schedule_retry_after(" 120 ", now, &wait) && wait == 120);
    assert(rp_schedule_retry_after("0", now, &wait) && wait == 0);
    assert(rp_schedule_retry_after("99999999999999999999", now, &wait));
    assert(wait == RP_SCHEDULE_RETRY_AFTER_MAX);
    assert(rp_schedule_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now, &wait) && wait == 30);
    assert(rp_schedule_retry_after("Wednesday, 21-Oct-15 07:29:00 GMT", now, &wait) && wait == 60);
    assert(rp_schedule_retry_after("Wed Oct 21 07:28:10 2015", now, &wait) && wait == 10);
    assert(rp_schedule_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now, &wait) && wait == 0);
    assert(rp_schedule_retry_after("Fri, 21 Oct 2016 07:28:00 GMT", now, &wait));
    assert(wait == RP_SCHEDULE_RETRY_AFTER_MAX);
    assert(!rp_schedule_retry_after("", now, &wait));
    assert(!rp_schedule_retry_after("-5", now, &wait));
    assert(!rp_schedule_retry_after("soon", now, &wait));
    assert(!rp_schedule_retry_after(NULL, now, &wait));
    assert(rp_schedule_at_least(500, 2) == 2000);
    assert(rp_schedule_at_least(5000, 2) == 5000);
    assert(rp_schedule_at_least(5000, -1) == 5000);
    assert(rp_schedule_at_least(0, 0) == 0);
}

void rp_schedule_test(void)
{
    s_test_parse();
    s_test_delay();
    s_test_retry_after();
}
