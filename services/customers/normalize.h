/*  normalize.h — data hygiene on the way in (DESIGN.md §5): phone numbers to
    E.164, e-mail addresses lower-cased and checked, dates to ISO 8601.

    Each function reads untrusted bytes (not NUL-terminated), writes the
    normalized form into out and returns NULL, or returns a static error code
    ("invalid", "too_long") and leaves out unspecified.
*/
#ifndef CUSTOMERS_NORMALIZE_H
#define CUSTOMERS_NORMALIZE_H

#include <stddef.h>

#define NORMALIZE_PHONE_MAX 17  //  "+" and up to 15 digits, NUL
#define NORMALIZE_EMAIL_MAX 255 //  RFC 5321 path limit 254, NUL
#define NORMALIZE_DATE_MAX  11  //  "YYYY-MM-DD", NUL
#define NORMALIZE_NAME_MAX  256 //  names are at most 200 bytes

//  A phone number in international form ("+86 138-0013-8000", "0086…") or
//  national form for region (ISO 3166 alpha-2, e.g. "CN": an 11-digit mobile
//  starting with 1 becomes +86…, a trunk-prefixed "010-…" drops the 0).
//  Spaces, '-', '.', '(' and ')' are ignored.
const char *normalize_phone(const char *in, size_t len, const char *region,
                            char out[NORMALIZE_PHONE_MAX]);

//  The calling code of a supported region ("CN" → "86"), or NULL.
const char *normalize_region_code(const char *region);

//  An address local@domain: trimmed, lower-cased; the domain has at least
//  two labels of [a-z0-9-] and an alphabetic top-level label.
const char *normalize_email(const char *in, size_t len, char out[NORMALIZE_EMAIL_MAX]);

//  A calendar date "YYYY-MM-DD" (also "YYYY/MM/DD", "YYYY.MM.DD" and
//  "YYYYMMDD"), checked for real days (leap years included), years
//  1000..9999.
const char *normalize_date(const char *in, size_t len, char out[NORMALIZE_DATE_MAX]);

//  The form of a company name used to find likely duplicates (not stored
//  as the name): ASCII lower-cased, spaces and punctuation (ASCII and
//  full-width) dropped, then one legal-form suffix removed ("股份有限公司",
//  "有限责任公司", "有限公司", "公司", "co ltd", "ltd", "inc", "llc", "gmbh"…).
//  "invalid" if nothing remains.
const char *normalize_name(const char *in, size_t len, char out[NORMALIZE_NAME_MAX]);

void normalize_test(void);

#endif
