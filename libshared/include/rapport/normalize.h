/*  normalize.h — data hygiene on the way in (DESIGN.md §5): every check
    and canonical form a record field needs, once for every service.

    Each function reads untrusted bytes (not NUL-terminated). The
    normalizers write the canonical form into out and return NULL, or
    return a static error code ("required", "too_long", "invalid") and
    leave out unspecified; the checks only return the code. The codes are
    the field error codes of rapport/record.h.

    Canonical forms are fixed, so that duplicates are found by comparing
    bytes: phones in E.164, e-mail lower-cased, dates "YYYY-MM-DD", times
    UTC with milliseconds (fixed width: they sort as text).
*/
#ifndef RAPPORT_NORMALIZE_H
#define RAPPORT_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>

#define RP_NORMALIZE_PHONE_MAX 17  //  "+" and up to 15 digits, NUL
#define RP_NORMALIZE_EMAIL_MAX 255 //  RFC 5321 path limit 254, NUL
#define RP_NORMALIZE_DATE_MAX  11  //  "YYYY-MM-DD", NUL
#define RP_NORMALIZE_TIME_MAX  25  //  "YYYY-MM-DDTHH:MM:SS.mmmZ", NUL
#define RP_NORMALIZE_NAME_MAX  256 //  names are at most 200 bytes
#define RP_NORMALIZE_MAX       256 //  the largest of the above

//  A phone number in international form ("+86 138-0013-8000", "0086…") or
//  national form for region (ISO 3166 alpha-2, e.g. "CN": an 11-digit mobile
//  starting with 1 becomes +86…, a trunk-prefixed "010-…" drops the 0).
//  Spaces, '-', '.', '(' and ')' are ignored. region NULL: international
//  numbers only.
const char *rp_normalize_phone(const char *in, size_t len, const char *region,
                               char out[RP_NORMALIZE_PHONE_MAX]);

//  The calling code of a supported region ("CN" → "86"), or NULL.
const char *rp_normalize_region_code(const char *region);

//  An address local@domain: blanks around it dropped, lower-cased; local
//  part [a-z0-9._%+'-], 1..64 bytes, no leading, trailing or double dot;
//  the domain has at least two labels of [a-z0-9-] and a top-level label
//  of letters (2+) or an IDN "xn--…"; ≤ 254 bytes in all. "required" when
//  only blanks.
const char *rp_normalize_email(const char *in, size_t len, char out[RP_NORMALIZE_EMAIL_MAX]);

//  A calendar date "YYYY-MM-DD" (also "YYYY/MM/DD", "YYYY.MM.DD" and
//  "YYYYMMDD"), checked for real days (leap years included), years
//  1000..9999.
const char *rp_normalize_date(const char *in, size_t len, char out[RP_NORMALIZE_DATE_MAX]);

//  An RFC 3339 date-time ("2026-11-23T16:05:00+08:00", "…T08:05:00.5Z";
//  'T' may be 't' or a space) as UTC with milliseconds
//  ("2026-11-23T08:05:00.000Z"). Years 1000..9999 in UTC.
const char *rp_normalize_time(const char *in, size_t len, char out[RP_NORMALIZE_TIME_MAX]);

//  The form of a company name used to find likely duplicates (not stored
//  as the name): ASCII lower-cased, spaces and punctuation (ASCII and
//  full-width) dropped, then one legal-form suffix removed ("股份有限公司",
//  "有限责任公司", "有限公司", "公司", "co ltd", "ltd", "inc", "llc", "gmbh"…).
//  "invalid" if nothing remains.
const char *rp_normalize_name(const char *in, size_t len, char out[RP_NORMALIZE_NAME_MAX]);

//  A code or id: 1..max bytes of [A-Za-z0-9_-] (customer codes, tax ids,
//  user ids, custom keys). A check: codes are kept as given.
const char *rp_normalize_code(const char *str, size_t len, size_t max);

#define RP_TEXT_NOTE  1 //  newlines and tabs allowed (free text)
#define RP_TEXT_BLANK 2 //  empty or only blanks allowed

//  Text a person typed, at most max bytes: no control characters (a note
//  may have newlines and tabs), not only blanks unless RP_TEXT_BLANK. The
//  decoder checked UTF-8. A check: text is kept as given.
const char *rp_normalize_text(const char *str, size_t len, size_t max, int flags);

//  The longest prefix of str of at most max bytes that ends on a UTF-8
//  character boundary (to echo or cut untrusted text safely).
size_t rp_normalize_cut(const char *str, size_t len, size_t max);

void rp_normalize_test(void);

#endif
