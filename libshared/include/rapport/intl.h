/*  intl.h — the names people give for where and how they live: IANA time
    zones, BCP 47 language tags, ISO 4217 currencies.

    Each check takes untrusted bytes (any length, any content) and either
    refuses them or writes their canonical spelling, so that one zone, tag
    or currency is stored one way whatever case it came in:

      - A time zone is an IANA tz database name ("Asia/Shanghai", "UTC",
        "America/Argentina/Buenos_Aires"), found in the system's compiled
        tz database (TZDIR, else /usr/share/zoneinfo, Debian's tzdata): the
        name must be a TZif file there. Names are case-sensitive, as the
        database's are; "../x", absolute paths and the database's own files
        that are not zones ("zone.tab", "posixrules"…) are refused.
      - A language tag is well-formed by RFC 5646 §2.1 (language, extlang,
        script, region, variants, extensions, private use; the irregular
        grandfathered tags are refused), written in its canonical case
        (language lower, script title, region upper: "zh-Hans-CN").
        Well-formed, not registry-valid: the IANA subtag registry is not on
        a Debian machine as a library, and a well-formed tag is what every
        consumer of locale tags (ICU, browsers) accepts.
      - A currency is an active ISO 4217 alphabetic code ("CNY"), case
        folded to upper; the list is the standard's table of current codes
        (docs/decisions.md says which edition).

    The checks read the file system (the zone) and are meant for writers
    validating a command, never for apply, which stores what the event says.
*/
#ifndef RAPPORT_INTL_H
#define RAPPORT_INTL_H

#include <stdbool.h>
#include <stddef.h>

#define RP_ZONE_MAX      64 //  bytes in a zone name (the longest today is 32)
#define RP_LANGTAG_MAX   64 //  bytes in a language tag we keep
#define RP_CURRENCY_SIZE 4  //  three letters and a NUL

//  True if in[0..len) names a zone of the tz database; out gets it.
bool rp_intl_zone(const char *in, size_t len, char out[RP_ZONE_MAX + 1]);

//  True if in[0..len) is a well-formed language tag; out gets it in
//  canonical case.
bool rp_intl_langtag(const char *in, size_t len, char out[RP_LANGTAG_MAX + 1]);

//  True if in[0..len) is an active ISO 4217 code; out gets it in upper case.
bool rp_intl_currency(const char *in, size_t len, char out[RP_CURRENCY_SIZE]);

void rp_intl_test(void);

#endif
