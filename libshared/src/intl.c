/*  intl.c — see intl.h. */
#include <rapport/intl.h>

#include <assert.h>
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

//  ---------------------------------------------------------------------
//  Time zones

//  A component of a zone name: what the tz database's names are made of
//  (tzfile's theory.html: ASCII letters, digits, '.', '_', '+', '-'), and
//  never "." or ".." or a leading '.', so the name cannot leave TZDIR.
static bool s_zone_component(const char *s, size_t len)
{
    if (len == 0 || s[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && (!s[i] || !strchr("._+-", s[i])))
            return false;
    return true;
}

static bool s_zone_name(const char *in, size_t len)
{
    if (len == 0 || len > RP_ZONE_MAX)
        return false;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || in[i] == '/') {
            if (!s_zone_component(in + start, i - start))
                return false;
            start = i + 1;
        }
    //  Files of the database that are not zone names, and the posix/ and
    //  right/ copies of every zone (one zone, one spelling).
    static const char *const not_zones[] = {"posixrules", "localtime", "Factory", NULL};
    for (int i = 0; not_zones[i]; i++)
        if (strlen(not_zones[i]) == len && memcmp(in, not_zones[i], len) == 0)
            return false;
    return !(len > 6 && (memcmp(in, "posix/", 6) == 0 || memcmp(in, "right/", 6) == 0));
}

//  True if path is a regular file that starts with the TZif magic.
static bool s_tzif(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    char magic[4];
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              read(fd, magic, sizeof magic) == (ssize_t)sizeof magic &&
              memcmp(magic, "TZif", 4) == 0;
    close(fd);
    return ok;
}

bool rp_intl_zone(const char *in, size_t len, char out[RP_ZONE_MAX + 1])
{
    if (!s_zone_name(in, len))
        return false;
    const char *dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = "/usr/share/zoneinfo";
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%.*s", dir, (int)len, in);
    if (n < 0 || (size_t)n >= sizeof path || !s_tzif(path))
        return false;
    memcpy(out, in, len);
    out[len] = 0;
    return true;
}

//  ---------------------------------------------------------------------
//  Language tags (RFC 5646 §2.1)

typedef enum { S_LANGUAGE, S_EXTLANG, S_SCRIPT, S_REGION, S_VARIANT, S_EXTENSION } s_part_t;

static bool s_all(const char *s, size_t len, int (*is)(int))
{
    for (size_t i = 0; i < len; i++)
        if (!is((unsigned char)s[i]))
            return false;
    return true;
}

static bool s_variant(const char *s, size_t len)
{
    return (len >= 5 && len <= 8) || (len == 4 && isdigit((unsigned char)s[0]));
}

//  Write subtag s[0..len) to out in case: 'l' lower, 'u' upper, 't' title.
static void s_put(char *out, const char *s, size_t len, char how)
{
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        out[i] = (char)(how == 'u' || (how == 't' && i == 0) ? toupper(c) : tolower(c));
    }
}

bool rp_intl_langtag(const char *in, size_t len, char out[RP_LANGTAG_MAX + 1])
{
    if (len == 0 || len > RP_LANGTAG_MAX)
        return false;
    s_part_t next = S_LANGUAGE; //  the earliest part the next subtag may be
    int extlangs = 0;
    bool privateuse = false, singleton = false; //  singleton: awaits its subtag
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && in[i] != '-')
            continue;
        const char *s = in + start;
        size_t n = i - start;
        if (n == 0 || n > 8 || !s_all(s, n, isalnum))
            return false;
        char how = 'l';
        if (privateuse) {
            singleton = false; //  "x-" and anything of 1-8 alphanumerics after it
        } else if (start == 0 && n == 1 && (s[0] == 'x' || s[0] == 'X')) {
            privateuse = singleton = true;
        } else if (next == S_LANGUAGE) {
            if (!s_all(s, n, isalpha) || n == 1)
                return false;
            next = n <= 3 ? S_EXTLANG : S_SCRIPT;
        } else if (singleton) {
            if (n < 2)
                return false;
            singleton = false;
        } else if (n == 1) {
            privateuse = s[0] == 'x' || s[0] == 'X';
            singleton = true;
            next = S_EXTENSION;
        } else if (next == S_EXTENSION) {
            //  A further subtag of the current extension.
        } else if (next <= S_EXTLANG && n == 3 && s_all(s, n, isalpha) && extlangs < 3) {
            extlangs++;
        } else if (next <= S_SCRIPT && n == 4 && s_all(s, n, isalpha)) {
            how = 't';
            next = S_REGION;
        } else if (next <= S_REGION &&
                   ((n == 2 && s_all(s, n, isalpha)) || (n == 3 && s_all(s, n, isdigit)))) {
            how = 'u';
            next = S_VARIANT;
        } else if (next <= S_VARIANT && s_variant(s, n)) {
            next = S_VARIANT;
        } else {
            return false;
        }
        s_put(out + start, s, n, how);
        if (i < len)
            out[i] = '-';
        start = i + 1;
    }
    if (singleton) //  an extension or "x" with nothing after it
        return false;
    out[len] = 0;
    return true;
}

//  ---------------------------------------------------------------------
//  Currencies: ISO 4217's current alphabetic codes (Table A.1), sorted.

static const char s_currencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD",
    "CAD", "CDF", "CHE", "CHF", "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP",
    "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP",
    "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS",
    "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD",
    "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MXV", "MYR", "MZN", "NAD", "NGN",
    "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR",
    "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SLL",
    "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY",
    "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES",
    "VND", "VUV", "WST", "XAF", "XAG", "XAU", "XBA", "XBB", "XBC", "XBD", "XCD", "XCG", "XDR",
    "XOF", "XPD", "XPF", "XPT", "XSU", "XUA", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
};
#define CURRENCIES (sizeof s_currencies / sizeof s_currencies[0])

static int s_code_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 3);
}

bool rp_intl_currency(const char *in, size_t len, char out[RP_CURRENCY_SIZE])
{
    if (len != 3)
        return false;
    char code[4];
    for (size_t i = 0; i < 3; i++) {
        if (!isalpha((unsigned char)in[i]))
            return false;
        code[i] = (char)toupper((unsigned char)in[i]);
    }
    code[3] = 0;
    if (!bsearch(code, s_currencies, CURRENCIES, sizeof s_currencies[0], s_code_cmp))
        return false;
    memcpy(out, code, 4);
    return true;
}

//  ---------------------------------------------------------------------
//  Self-test

static bool s_tag(const char *in, const char *want)
{
    char out[RP_LANGTAG_MAX + 1];
    bool ok = rp_intl_langtag(in, strlen(in), out);
    return want ? ok && strcmp(out, want) == 0 : !ok;
}

static bool s_zone(const char *in)
{
    char out[RP_ZONE_MAX + 1];
    return rp_intl_zone(in, strlen(in), out) && strcmp(out, in) == 0;
}

void rp_intl_test(void)
{
    //  The table is sorted (bsearch) and holds three upper-case letters.
    for (size_t i = 0; i < CURRENCIES; i++) {
        assert(strlen(s_currencies[i]) == 3);
        assert(i == 0 || memcmp(s_currencies[i - 1], s_currencies[i], 3) < 0);
    }
    char code[RP_CURRENCY_SIZE];
    assert(rp_intl_currency("cny", 3, code) && strcmp(code, "CNY") == 0);
    assert(rp_intl_currency("EUR", 3, code) && strcmp(code, "EUR") == 0);
    assert(!rp_intl_currency("XXX", 3, code)); //  "no currency" is not one
    assert(!rp_intl_currency("ABC", 3, code));
    assert(!rp_intl_currency("CN", 2, code));
    assert(!rp_intl_currency("CNYY", 4, code));
    assert(!rp_intl_currency("C1Y", 3, code));
    assert(!rp_intl_currency("\xe5\x85\x83", 3, code));

    assert(s_tag("zh-CN", "zh-CN"));
    assert(s_tag("ZH-hans-cn", "zh-Hans-CN"));
    assert(s_tag("en", "en"));
    assert(s_tag("de-CH-1996", "de-CH-1996"));
    assert(s_tag("sl-rozaj-biske", "sl-rozaj-biske"));
    assert(s_tag("es-419", "es-419"));
    assert(s_tag("zh-yue-HK", "zh-yue-HK"));
    assert(s_tag("en-US-u-ca-gregory", "en-US-u-ca-gregory"));
    assert(s_tag("en-x-private", "en-x-private"));
    assert(s_tag("x-whatever", "x-whatever"));
    assert(s_tag("zh-Hant-TW-x-a-b", "zh-Hant-TW-x-a-b"));
    assert(s_tag("", NULL));
    assert(s_tag("e", NULL));
    assert(s_tag("en-", NULL));
    assert(s_tag("-en", NULL));
    assert(s_tag("en--US", NULL));
    assert(s_tag("en_US", NULL));
    assert(s_tag("english-us", "english-US")); //  5-8 letters: a registered language
    assert(s_tag("en-US-u", NULL));            //  a singleton needs a subtag
    assert(s_tag("en-US-x", NULL));
    assert(s_tag("en-a-b", NULL)); //  extension subtags are 2-8 long
    assert(s_tag("123", NULL));
    assert(s_tag("en-abcdefghi", NULL));
    assert(s_tag("zh-\xe4\xb8\xad", NULL));
    assert(s_tag("en-US-CA", NULL)); //  two regions
    assert(s_tag("en-Latn-Cyrl", NULL));

    //  Zones come from the system database (tzdata, tools/deps.sh).
    assert(s_zone("Asia/Shanghai"));
    assert(s_zone("UTC"));
    assert(s_zone("America/Argentina/Buenos_Aires"));
    assert(s_zone("Etc/GMT+8"));
    assert(!s_zone("asia/shanghai"));
    assert(!s_zone("Asia/Nowhere"));
    assert(!s_zone("Asia"));  //  a directory
    assert(!s_zone("Asia/")); //  an empty component
    assert(!s_zone("/etc/passwd"));
    assert(!s_zone("../../etc/passwd"));
    assert(!s_zone("Asia/../UTC"));
    assert(!s_zone("zone.tab"));
    assert(!s_zone("posixrules"));
    assert(!s_zone("posix/Asia/Shanghai"));
    assert(!s_zone(""));
    char out[RP_ZONE_MAX + 1];
    assert(!rp_intl_zone("UTC\0x", 5, out));
    assert(!rp_intl_zone("Asia/Shanghai", 3, out)); //  "Asi"
}
