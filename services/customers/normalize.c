/*  normalize.c — phones, e-mails and dates into one canonical form each, so
    that duplicates can be found by comparing bytes. */
#include "normalize.h"
#include <rapport/envelope.h>

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *region;
    const char *code;
} region_t;

//  The regions a deployment is likely to set as its default; international
//  numbers ("+…") work for every country whatever the default.
static const region_t s_regions[] = {{"CN", "86"}, {"HK", "852"}, {"MO", "853"}, {"TW", "886"},
                                     {"SG", "65"}, {"JP", "81"},  {"KR", "82"},  {"US", "1"},
                                     {"CA", "1"},  {"GB", "44"},  {"DE", "49"},  {"FR", "33"}};

const char *normalize_region_code(const char *region)
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
        else if (!strchr(" -.()", c))
            return false;
    }
    digits[n] = 0;
    return true;
}

const char *normalize_phone(const char *in, size_t len, const char *region,
                            char out[NORMALIZE_PHONE_MAX])
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
        cc = normalize_region_code(region);
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

static bool s_label_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool s_domain_valid(const char *domain)
{
    size_t labels = 0;
    const char *label = domain;
    while (true) {
        const char *dot = strchr(label, '.');
        size_t n = dot ? (size_t)(dot - label) : strlen(label);
        if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-')
            return false;
        for (size_t i = 0; i < n; i++)
            if (!s_label_char(label[i]))
                return false;
        labels++;
        if (!dot) {
            for (size_t i = 0; i < n; i++) //  the top-level label is alphabetic
                if (label[i] < 'a' || label[i] > 'z')
                    return false;
            return labels >= 2 && n >= 2;
        }
        label = dot + 1;
    }
}

const char *normalize_email(const char *in, size_t len, char out[NORMALIZE_EMAIL_MAX])
{
    while (len && (in[0] == ' ' || in[0] == '\t')) {
        in++;
        len--;
    }
    while (len && (in[len - 1] == ' ' || in[len - 1] == '\t'))
        len--;
    if (len > 254)
        return "too_long";
    size_t at = len;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c == '@') {
            if (at != len)
                return "invalid";
            at = i;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     (i < at && at == len && strchr("._%+-'", c)) || (at != len && c == '.') ||
                     (at != len && c == '-')))
            return "invalid";
        out[i] = c;
    }
    out[len] = 0;
    if (at == len || at == 0 || at > 64 || out[0] == '.' || out[at - 1] == '.' || strstr(out, ".."))
        return "invalid";
    return s_domain_valid(out + at + 1) ? NULL : "invalid";
}

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

const char *normalize_date(const char *in, size_t len, char out[NORMALIZE_DATE_MAX])
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

const char *normalize_name(const char *in, size_t len, char out[NORMALIZE_NAME_MAX])
{
    if (len >= NORMALIZE_NAME_MAX)
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

static void s_name_is(const char *in, const char *expected)
{
    char out[NORMALIZE_NAME_MAX];
    const char *err = normalize_name(in, strlen(in), out);
    if (expected)
        assert(!err && strcmp(out, expected) == 0);
    else
        assert(err);
}

static void s_phone_is(const char *in, const char *region, const char *expected)
{
    char out[NORMALIZE_PHONE_MAX];
    const char *err = normalize_phone(in, strlen(in), region, out);
    if (expected) {
        if (err || strcmp(out, expected))
            fprintf(stderr, "phone %s: %s / %s\n", in, err ? err : out, expected);
        assert(!err && strcmp(out, expected) == 0);
    } else
        assert(err);
}

static void s_email_is(const char *in, const char *expected)
{
    char out[NORMALIZE_EMAIL_MAX];
    const char *err = normalize_email(in, strlen(in), out);
    if (expected)
        assert(!err && strcmp(out, expected) == 0);
    else
        assert(err);
}

static void s_date_is(const char *in, const char *expected)
{
    char out[NORMALIZE_DATE_MAX];
    const char *err = normalize_date(in, strlen(in), out);
    if (expected)
        assert(!err && strcmp(out, expected) == 0);
    else
        assert(err);
}

void normalize_test(void)
{
    s_phone_is("13800138000", "CN", "+8613800138000");
    s_phone_is("138-0013-8000", "CN", "+8613800138000");
    s_phone_is("+86 138 0013 8000", "CN", "+8613800138000");
    s_phone_is("008613800138000", "CN", "+8613800138000");
    s_phone_is("010-12345678", "CN", "+861012345678");
    s_phone_is("(0755) 8888 1234", "CN", "+8675588881234");
    s_phone_is("+1 (415) 555-0100", "CN", "+14155550100");
    s_phone_is("020 7946 0958", "GB", "+442079460958");
    s_phone_is("1380013800", "CN", NULL); //  10 digits
    s_phone_is("12345678", "CN", NULL);   //  CN without area code
    s_phone_is("138001380001234567", "CN", NULL);
    s_phone_is("phone", "CN", NULL);
    s_phone_is("+86-138x", "CN", NULL);
    s_phone_is("", "CN", NULL);
    s_phone_is("++8613800138000", "CN", NULL);
    s_phone_is("+0123456789", "CN", NULL);
    s_phone_is("13800138000", "XX", NULL);
    assert(strcmp(normalize_region_code("CN"), "86") == 0);
    assert(normalize_region_code(NULL) == NULL);

    s_email_is("Zhang.Wei@Example.COM", "zhang.wei@example.com");
    s_email_is("  li+crm@mail.example.cn ", "li+crm@mail.example.cn");
    s_email_is("a@b.co", "a@b.co");
    s_email_is("no-at.example.com", NULL);
    s_email_is("two@@example.com", NULL);
    s_email_is("a@b@example.com", NULL);
    s_email_is("@example.com", NULL);
    s_email_is("a@localhost", NULL);
    s_email_is("a@-bad.com", NULL);
    s_email_is("a@bad-.com", NULL);
    s_email_is("a@example.c0m", NULL);
    s_email_is("a..b@example.com", NULL);
    s_email_is(".a@example.com", NULL);
    s_email_is("a@exa_mple.com", NULL);
    s_email_is("张@example.com", NULL);
    s_email_is("", NULL);

    s_date_is("2024-02-29", "2024-02-29");
    s_date_is("2024/3/1x", NULL);
    s_date_is("2024/03/01", "2024-03-01");
    s_date_is("20240301", "2024-03-01");
    s_date_is("2023-02-29", NULL);
    s_date_is("1900-02-29", NULL);
    s_date_is("2000-02-29", "2000-02-29");
    s_date_is("2024-13-01", NULL);
    s_date_is("2024-04-31", NULL);
    s_date_is("2024-00-10", NULL);
    s_date_is("2024-01-00", NULL);
    s_date_is("2024-01/01", NULL);
    s_date_is("0999-01-01", NULL);
    s_date_is("", NULL);

    s_name_is("上海星辰贸易有限公司", "上海星辰贸易");
    s_name_is("上海 星辰（贸易）股份有限公司", "上海星辰贸易");
    s_name_is("上海星辰贸易公司", "上海星辰贸易");
    s_name_is("Acme Trading Co., Ltd.", "acmetrading");
    s_name_is("ACME TRADING, INC.", "acmetrading");
    s_name_is("Müller GmbH", "müller");
    s_name_is("有限公司", "有限"); //  one suffix only, and never down to nothing
    s_name_is("公司", "公司");
    s_name_is(" . ", NULL);
}
