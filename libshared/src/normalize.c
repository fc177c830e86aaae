/*  normalize.c — see normalize.h. One canonical form each for phones,
    e-mails, dates, times and company names, and the checks of codes and
    typed text, for every service's records (record.h). */
#include <rapport/normalize.h>
#include <rapport/envelope.h>

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

//  ---------------------------------------------------------------------
//  Phones

typedef struct {
    const char *region;
    const char *code;
} region_t;

//  The regions a deployment is likely to set as its default; international
//  numbers ("+…") work for every country whatever the default.
static const region_t s_regions[] = {{"CN", "86"}, {"HK", "852"}, {"MO", "853"}, {"TW", "886"},
                                     {"SG", "65"}, {"JP", "81"},  {"KR", "82"},  {"US", "1"},
                                     {"CA", "1"},  {"GB", "44"},  {"DE", "49"},  {"FR", "33"}};

const char *rp_normalize_region_code(const char *region)
{
    for (size_t i = 0; region && i < sizeof s_regions / sizeof s_regions[0]; i++)
        if (strcmp(s_regions[i].region, region) == 0)
            return s_regions[i].code;
    return NULL;
}

//  Keep the digits (and a leading '+'); false on any other character.
static bool s_phone_digits(const char *in, size_t len, char *digits, size_t size, bool *plus)
{
    size_t n = 0;
    *plus = false;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= '0' && c <= '9') {
            if (n + 1 >= size)
                return false;
            digits[n++] = c;
        } else if (c == '+' && n == 0 && !*plus)
            *plus = true;
        else if (!c || !strchr(" -.()", c)) //  strchr finds a NUL too
            return false;
    }
    digits[n] = 0;
    return true;
}

const char *rp_normalize_phone(const char *in, size_t len, const char *region,
                               char out[RP_NORMALIZE_PHONE_MAX])
{
    if (len > 40)
        return "too_long";
    char digits[41];
    bool plus;
    if (!s_phone_digits(in, len, digits, sizeof digits, &plus))
        return "invalid";
    const char *national = NULL;
    const char *cc = NULL;
    if (plus)
        national = digits; //  already has its country code
    else if (strncmp(digits, "00", 2) == 0)
        national = digits + 2; //  international call prefix
    else {
        cc = rp_normalize_region_code(region);
        if (!cc)
            return "invalid";
        national = digits;
        if (strcmp(cc, "86") == 0 && national[0] == '1') {
            if (strlen(national) != 11) //  mainland mobiles are 11 digits
                return "invalid";
        } else if (national[0] == '0')
            national++; //  trunk prefix
        else if (strcmp(cc, "86") == 0)
            return "invalid"; //  CN landlines are dialled with their 0 area code
    }
    size_t total = (cc ? strlen(cc) : 0) + strlen(national);
    if (national[0] == '0' && !cc)
        return "invalid"; //  country codes never start with 0
    if (total < 8 || total > 15)
        return "invalid";
    size_t cc_len = cc ? strlen(cc) : 0;
    out[0] = '+';
    memcpy(out + 1, cc ? cc : "", cc_len);
    memcpy(out + 1 + cc_len, national, total - cc_len + 1); //  total ≤ 15: fits
    return NULL;
}

//  ---------------------------------------------------------------------
//  E-mail

static bool s_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

//  Domain labels of [a-z0-9-], 1..63 bytes, not starting or ending with
//  '-'; at least two; the last all letters (2+) or an IDN "xn--" label.
static bool s_domain_valid(const char *domain, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t labels = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && domain[i] != '.') {
            if (!s_is_alnum(domain[i]) && domain[i] != '-')
                return false;
            continue;
        }
        size_t n = i - start;
        if (n == 0 || n > 63 || domain[start] == '-' || domain[i - 1] == '-')
            return false;
        labels++;
        if (i == len) { //  the top-level label
            bool letters = n >= 2;
            for (size_t j = start; j < i; j++)
                letters = letters && domain[j] >= 'a' && domain[j] <= 'z';
            if (!letters && !(n > 4 && memcmp(domain + start, "xn--", 4) == 0))
                return false;
        }
        start = i + 1;
    }
    return labels >= 2;
}

const char *rp_normalize_email(const char *in, size_t len, char out[RP_NORMALIZE_EMAIL_MAX])
{
    while (len && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        len--;
    }
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    if (len == 0)
        return "required";
    if (len > RP_NORMALIZE_EMAIL_MAX - 1)
        return "too_long";
    size_t at = len;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '@') {
            if (at != len)
                return "invalid"; //  a second '@'
            at = i;
        } else if (at == len && !s_is_alnum(c) && !(c && strchr("._%+-'", c)))
            return "invalid"; //  (strchr finds a NUL too)
        out[i] = c;
    }
    out[len] = 0;
    if (at == len || at == 0 || at > 64 || out[0] == '.' || out[at - 1] == '.' ||
        memmem(out, at, "..", 2))
        return "invalid";
    return s_domain_valid(out + at + 1, len - at - 1) ? NULL : "invalid";
}

//  ---------------------------------------------------------------------
//  Dates and times

static int s_number(const char *s, size_t n)
{
    int value = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

const char *rp_normalize_date(const char *in, size_t len, char out[RP_NORMALIZE_DATE_MAX])
{
    char compact[9];
    if (len == 10 && in[4] == in[7] && strchr("-/.", in[4]) && in[4]) {
        memcpy(compact, in, 4);
        memcpy(compact + 4, in + 5, 2);
        memcpy(compact + 6, in + 8, 2);
    } else if (len == 8)
        memcpy(compact, in, 8);
    else
        return "invalid";
    int year = s_number(compact, 4), month = s_number(compact + 4, 2),
        day = s_number(compact + 6, 2);
    if (year < 1000 || !rp_date_valid(year, month, day))
        return "invalid";
    memcpy(out, compact, 4); //  digits checked above: copy, do not format
    out[4] = '-';
    memcpy(out + 5, compact + 4, 2);
    out[7] = '-';
    memcpy(out + 8, compact + 6, 2);
    out[10] = 0;
    return NULL;
}

//  The bounds of a time the CRM keeps: years 1000..9999 in UTC, so every
//  normalized time is 24 characters and sorts as text.
#define TIME_MIN_MS (-30610224000000LL) //  1000-01-01T00:00:00Z
#define TIME_END_MS 253402300800000LL   //  10000-01-01T00:00:00Z

const char *rp_normalize_time(const char *in, size_t len, char out[RP_NORMALIZE_TIME_MAX])
{
    int64_t ms;
    if (len > 40 || !rp_time_parse(in, len, &ms) || ms < TIME_MIN_MS || ms >= TIME_END_MS)
        return "invalid";
    char text[32]; //  in these bounds: exactly 24 characters
    rp_time_format(ms, text);
    memcpy(out, text, RP_NORMALIZE_TIME_MAX);
    return NULL;
}

const char *rp_normalize_code(const char *str, size_t len, size_t max)
{
    if (len == 0)
        return "required";
    if (len > max)
        return "too_long";
    for (size_t i = 0; i < len; i++) { //  str is not NUL-terminated: no strspn
        char c = str[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return "invalid";
    }
    return NULL;
}

const char *rp_normalize_text(const char *str, size_t len, size_t max, int flags)
{
    if (len > max)
        return "too_long";
    bool note = flags & RP_TEXT_NOTE, blank = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)str[i];
        bool space = c == ' ' || (note && (c == '\n' || c == '\r' || c == '\t'));
        if ((c < 0x20 || c == 0x7f) && !space)
            return "invalid";
        if (!space)
            blank = false;
    }
    return blank && !(flags & RP_TEXT_BLANK) ? "required" : NULL;
}

size_t rp_normalize_cut(const char *str, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max && ((unsigned char)str[max] & 0xC0) == 0x80)
        max--; //  str[max] continues a character: end before it starts
    return max;
}

//  ---------------------------------------------------------------------
//  Company names

//  Full-width and CJK punctuation people type in company names (UTF-8).
static const char *const s_wide_punct[] = {"\u3000", "\uff08", "\uff09", "\u3001", "\uff0c",
                                           "\u3002", "\u00b7", "\u30fb", "\uff0e", "\uff06",
                                           "\u2014", "\u3010", "\u3011", NULL};

//  Longest first: "股份有限公司" before "有限公司" before "公司".
static const char *const s_suffixes[] = {"\u80a1\u4efd\u6709\u9650\u516c\u53f8", //  股份有限公司
                                         "\u6709\u9650\u8d23\u4efb\u516c\u53f8", //  有限责任公司
                                         "\u6709\u9650\u516c\u53f8",             //  有限公司
                                         "\u516c\u53f8",                         //  公司
                                         "coltd",
                                         "corporation",
                                         "company",
                                         "limited",
                                         "gmbh",
                                         "corp",
                                         "inc",
                                         "llc",
                                         "ltd",
                                         "co",
                                         NULL};

const char *rp_normalize_name(const char *in, size_t len, char out[RP_NORMALIZE_NAME_MAX])
{
    if (len >= RP_NORMALIZE_NAME_MAX)
        return "too_long";
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)in[i];
        if (c < 0x80) {
            if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'))
                out[n++] = (char)c;
            else if (c >= 'A' && c <= 'Z')
                out[n++] = (char)(c - 'A' + 'a');
            i++; //  ASCII spaces, punctuation, controls: dropped
            continue;
        }
        bool dropped = false;
        for (const char *const *p = s_wide_punct; *p && !dropped; p++) {
            size_t plen = strlen(*p);
            if (i + plen <= len && memcmp(in + i, *p, plen) == 0) {
                i += plen;
                dropped = true;
            }
        }
        if (!dropped)
            out[n++] = in[i++];
    }
    out[n] = 0;
    for (const char *const *p = s_suffixes; *p; p++) {
        size_t plen = strlen(*p);
        if (n > plen && memcmp(out + n - plen, *p, plen) == 0) {
            n -= plen;
            out[n] = 0;
            break;
        }
    }
    return n ? NULL : "invalid";
}

//  ---------------------------------------------------------------------
//  Self-test: every case of the customers' and users' normalizers they
//  replace, and the cases where the two used to differ.

typedef const char *(normalizer_fn)(const char *in, size_t len, char *out);

//  fn turns in into expected, or refuses it (expected NULL).
static void s_is(normalizer_fn *fn, const char *in, size_t len, const char *expected)
{
    char out[RP_NORMALIZE_MAX];
    const char *err = fn(in, len, out);
    if (expected) {
        if (err || strcmp(out, expected))
            fprintf(stderr, "%s: %s / %s\n", in, err ? err : out, expected);
        assert(!err && strcmp(out, expected) == 0);
    } else
        assert(err);
}

//  The phone normalizer in the shape of the others, in s_region.
static const char *s_region;
static const char *s_phone_in(const char *in, size_t len, char *out)
{
    return rp_normalize_phone(in, len, s_region, out);
}

static void s_phone_is(const char *in, size_t len, const char *region, const char *expected)
{
    s_region = region;
    s_is(s_phone_in, in, len, expected);
}

static void s_check_is(const char *err, const char *expected)
{
    assert(expected ? err && strcmp(err, expected) == 0 : err == NULL);
}

#define PHONE(in, region, expected) s_phone_is(in, strlen(in), region, expected)
#define EMAIL(in, expected)         s_is(rp_normalize_email, in, strlen(in), expected)
#define DATE(in, expected)          s_is(rp_normalize_date, in, strlen(in), expected)
#define TIME(in, expected)          s_is(rp_normalize_time, in, strlen(in), expected)
#define NAME(in, expected)          s_is(rp_normalize_name, in, strlen(in), expected)

void rp_normalize_test(void)
{
    PHONE("13800138000", "CN", "+8613800138000");
    PHONE("138-0013-8000", "CN", "+8613800138000");
    PHONE("+86 138 0013 8000", "CN", "+8613800138000");
    PHONE("008613800138000", "CN", "+8613800138000");
    PHONE("010-12345678", "CN", "+861012345678");
    PHONE("(0755) 8888 1234", "CN", "+8675588881234");
    PHONE("+1 (415) 555-0100", "CN", "+14155550100");
    PHONE("+1 (415) 555-0100", NULL, "+14155550100");
    PHONE("020 7946 0958", "GB", "+442079460958");
    PHONE("1380013800", "CN", NULL); //  10 digits
    PHONE("12345678", "CN", NULL);   //  CN without area code
    PHONE("138001380001234567", "CN", NULL);
    PHONE("phone", "CN", NULL);
    PHONE("+86-138x", "CN", NULL);
    PHONE("", "CN", NULL);
    PHONE("++8613800138000", "CN", NULL);
    PHONE("+0123456789", "CN", NULL);
    PHONE("13800138000", "XX", NULL);
    PHONE("13800138000", NULL, NULL); //  national, with no default region
    s_phone_is("138\0"
               "00138000",
               12, "CN", NULL);
    assert(strcmp(rp_normalize_region_code("CN"), "86") == 0);
    assert(rp_normalize_region_code(NULL) == NULL);

    //  customers' cases
    EMAIL("Zhang.Wei@Example.COM", "zhang.wei@example.com");
    EMAIL("  li+crm@mail.example.cn ", "li+crm@mail.example.cn");
    EMAIL("a@b.co", "a@b.co");
    EMAIL("no-at.example.com", NULL);
    EMAIL("two@@example.com", NULL);
    EMAIL("a@b@example.com", NULL);
    EMAIL("@example.com", NULL);
    EMAIL("a@localhost", NULL);
    EMAIL("a@-bad.com", NULL);
    EMAIL("a@bad-.com", NULL);
    EMAIL("a@example.c0m", NULL);
    EMAIL("a..b@example.com", NULL);
    EMAIL(".a@example.com", NULL);
    EMAIL("a@exa_mple.com", NULL);
    EMAIL("张@example.com", NULL);
    EMAIL("", NULL);
    //  users' cases
    EMAIL("  li+crm@mail.example.cn\t", "li+crm@mail.example.cn");
    EMAIL("o'brien@x-y.example.org", "o'brien@x-y.example.org");
    EMAIL("a@b.xn--fiqs8s", "a@b.xn--fiqs8s"); //  an IDN top level (users accepted it)
    EMAIL("a.@example.com", NULL);
    EMAIL("a@example", NULL);
    EMAIL("a@-x.com", NULL);
    EMAIL("a@x..com", NULL);
    EMAIL("a@x.c0m", NULL);
    EMAIL("a b@example.com", NULL);
    EMAIL("张伟@example.com", NULL);
    //  blanks only are "required" (users' code); a NUL is no local character
    char out[RP_NORMALIZE_EMAIL_MAX];
    s_check_is(rp_normalize_email(" \t", 2, out), "required");
    s_check_is(rp_normalize_email("a@example.c0m", 13, out), "invalid");
    s_is(rp_normalize_email, "a\0b@example.com", 15, NULL);
    char longest[300];
    memset(longest, 'a', sizeof longest);
    memcpy(longest + 60, "@example.com", 12);
    s_check_is(rp_normalize_email(longest, 255, out), "too_long");

    DATE("2024-02-29", "2024-02-29");
    DATE("2024/3/1x", NULL);
    DATE("2024/03/01", "2024-03-01");
    DATE("20240301", "2024-03-01");
    DATE("2023-02-29", NULL);
    DATE("1900-02-29", NULL);
    DATE("2000-02-29", "2000-02-29");
    DATE("2024-13-01", NULL);
    DATE("2024-04-31", NULL);
    DATE("2024-00-10", NULL);
    DATE("2024-01-00", NULL);
    DATE("2024-01/01", NULL);
    DATE("0999-01-01", NULL);
    DATE("", NULL);

    TIME("2026-11-23T08:05:00Z", "2026-11-23T08:05:00.000Z");
    TIME("2026-11-23t08:05:00.5z", "2026-11-23T08:05:00.500Z");
    TIME("2026-11-23 16:05:00.123456+08:00", "2026-11-23T08:05:00.123Z");
    TIME("2026-01-01T02:00:00+08:00", "2025-12-31T18:00:00.000Z");
    TIME("2024-02-28T23:30:00-01:00", "2024-02-29T00:30:00.000Z");
    TIME("2026-11-23T08:05:00", NULL);  //  no offset
    TIME("2026-02-29T08:05:00Z", NULL); //  not a leap year
    TIME("2026-11-23T24:00:00Z", NULL);
    TIME("2026-11-23T08:05:60Z", NULL);
    TIME("2026-11-23T08:05:00.Z", NULL);
    TIME("2026-11-23T08:05:00+0800", NULL);
    TIME("2026-11-23T08:05:00Zjunk", NULL);
    TIME("1000-01-01T00:30:00+01:00", NULL); //  before year 1000 in UTC
    TIME("２026-11-23T08:05:00Z", NULL);

    NAME("上海星辰贸易有限公司", "上海星辰贸易");
    NAME("上海 星辰（贸易）股份有限公司", "上海星辰贸易");
    NAME("上海星辰贸易公司", "上海星辰贸易");
    NAME("Acme Trading Co., Ltd.", "acmetrading");
    NAME("ACME TRADING, INC.", "acmetrading");
    NAME("Müller GmbH", "müller");
    NAME("有限公司", "有限"); //  one suffix only, and never down to nothing
    NAME("公司", "公司");
    NAME(" . ", NULL);

    s_check_is(rp_normalize_code("0192aa00bb11cc22dd33", 20, 64), NULL);
    s_check_is(rp_normalize_code("A-b_9", 5, 5), NULL);
    s_check_is(rp_normalize_code("", 0, 64), "required");
    s_check_is(rp_normalize_code("abcdef", 6, 5), "too_long");
    s_check_is(rp_normalize_code("bad id!", 7, 64), "invalid");
    s_check_is(rp_normalize_code("91310000 X", 10, 50), "invalid");
    s_check_is(rp_normalize_code("a\0b", 3, 64), "invalid");

    s_check_is(rp_normalize_text("王五", 6, 6, 0), NULL);
    s_check_is(rp_normalize_text("王五王五", 12, 6, 0), "too_long");
    s_check_is(rp_normalize_text("a\x01"
                                 "b",
                                 3, 10, 0),
               "invalid");
    s_check_is(rp_normalize_text("a\x7f", 2, 10, 0), "invalid");
    s_check_is(rp_normalize_text("line\nline", 9, 10, 0), "invalid");
    s_check_is(rp_normalize_text("line\nline", 9, 10, RP_TEXT_NOTE), NULL);
    s_check_is(rp_normalize_text("tab\tok but bell \a", 17, 100, RP_TEXT_NOTE), "invalid");
    s_check_is(rp_normalize_text("  ", 2, 10, 0), "required");
    s_check_is(rp_normalize_text("", 0, 10, 0), "required");
    s_check_is(rp_normalize_text(" \n", 2, 10, RP_TEXT_NOTE), "required");
    s_check_is(rp_normalize_text("", 0, 10, RP_TEXT_BLANK), NULL);
    s_check_is(rp_normalize_text("  ", 2, 10, RP_TEXT_BLANK), NULL);

    const char *text = "张三丰";
    assert(rp_normalize_cut(text, 9, 9) == 9 && rp_normalize_cut(text, 9, 20) == 9);
    assert(rp_normalize_cut(text, 9, 8) == 6 && rp_normalize_cut(text, 9, 2) == 0);
}
