/*  duration.c — see duration.h. */
#include <rapport/duration.h>

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *rp_duration_parse(const char *text, size_t len, int64_t *seconds)
{
    if (!text || len < 3 || len > RP_DURATION_TEXT || toupper((unsigned char)text[0]) != 'P')
        return "invalid";
    static const char date_units[] = "WD", time_units[] = "HMS";
    static const int64_t date_s[] = {7 * 86400, 86400}, time_s[] = {3600, 60, 1};
    int64_t total = 0, value = 0;
    bool in_time = false, digits = false, any = false;
    int last = -1; //  designators in order, each once
    for (size_t i = 1; i < len; i++) {
        int c = toupper((unsigned char)text[i]);
        if (c >= '0' && c <= '9') {
            if (value > RP_DURATION_MAX)
                return "out_of_range";
            value = value * 10 + (c - '0');
            digits = true;
            continue;
        }
        if (c == 'T') {
            if (in_time || digits)
                return "invalid";
            in_time = true;
            last = -1;
            continue;
        }
        if (!digits)
            return "invalid";
        if (!in_time && (c == 'Y' || c == 'M'))
            return "unsupported";
        const char *units = in_time ? time_units : date_units;
        const char *at = strchr(units, c);
        if (c == 0 || !at || (int)(at - units) <= last)
            return "invalid";
        last = (int)(at - units);
        int64_t unit = in_time ? time_s[last] : date_s[last];
        if (value > RP_DURATION_MAX / unit)
            return "out_of_range";
        total += value * unit;
        if (total > RP_DURATION_MAX)
            return "out_of_range";
        value = 0;
        digits = false;
        any = true;
    }
    if (digits || !any || (in_time && last < 0))
        return "invalid";
    *seconds = total;
    return NULL;
}

void rp_duration_format(int64_t seconds, char out[RP_DURATION_TEXT])
{
    if (seconds <= 0) {
        snprintf(out, RP_DURATION_TEXT, "PT0S");
        return;
    }
    int64_t days = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60,
            s = seconds % 60;
    size_t n = (size_t)snprintf(out, RP_DURATION_TEXT, "P");
    if (days)
        n += (size_t)snprintf(out + n, RP_DURATION_TEXT - n, "%lldD", (long long)days);
    if (h || m || s)
        n += (size_t)snprintf(out + n, RP_DURATION_TEXT - n, "T");
    if (h)
        n += (size_t)snprintf(out + n, RP_DURATION_TEXT - n, "%lldH", (long long)h);
    if (m)
        n += (size_t)snprintf(out + n, RP_DURATION_TEXT - n, "%lldM", (long long)m);
    if (s)
        snprintf(out + n, RP_DURATION_TEXT - n, "%lldS", (long long)s);
}

static int64_t s_test(const char *text, const char *want_error)
{
    int64_t seconds = -1;
    const char *error = rp_duration_parse(text, strlen(text), &seconds);
    if ((error == NULL) != (want_error == NULL) ||
        (error && want_error && strcmp(error, want_error) != 0))
        fprintf(stderr, "duration %s: %s, want %s\n", text, error ? error : "ok",
                want_error ? want_error : "ok");
    assert((error == NULL) == (want_error == NULL));
    assert(!error || !want_error || strcmp(error, want_error) == 0);
    return seconds;
}

void rp_duration_test(void)
{
    assert(s_test("P3D", NULL) == 3 * 86400);
    assert(s_test("PT3S", NULL) == 3);
    assert(s_test("PT1H30M", NULL) == 5400);
    assert(s_test("P1W", NULL) == 7 * 86400);
    assert(s_test("P1DT1S", NULL) == 86401);
    assert(s_test("pt24h", NULL) == 86400);
    assert(s_test("PT0S", NULL) == 0);
    s_test("P1M", "unsupported");
    s_test("P1Y2D", "unsupported");
    s_test("P", "invalid");
    s_test("PT", "invalid");
    s_test("P1DT", "invalid");
    s_test("P1H", "invalid");    //  hours belong after T
    s_test("PT1D", "invalid");   //  days before it
    s_test("PT1S1M", "invalid"); //  out of order
    s_test("PT1M1M", "invalid"); //  twice
    s_test("P1.5D", "invalid");
    s_test("-P1D", "invalid");
    s_test("3D", "invalid");
    s_test("P99999999999D", "out_of_range");
    s_test("P3661D", "out_of_range");
    char text[RP_DURATION_TEXT];
    rp_duration_format(5400, text);
    assert(strcmp(text, "PT1H30M") == 0);
    rp_duration_format(3 * 86400, text);
    assert(strcmp(text, "P3D") == 0);
    rp_duration_format(86401, text);
    assert(strcmp(text, "P1DT1S") == 0);
    rp_duration_format(0, text);
    assert(strcmp(text, "PT0S") == 0);
    int64_t back;
    assert(!rp_duration_parse(text, strlen(text), &back) && back == 0);
}
