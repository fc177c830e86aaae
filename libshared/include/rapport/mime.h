/*  mime.h — the text of one notification e-mail (RFC 5322 with MIME), to
    hand to SMTP as it is.

    A notification's title and body are UTF-8, often Chinese. Headers are
    ASCII, so the subject is written as RFC 2047 encoded-words in base64
    ("=?UTF-8?B?…?="), each of at most 64 characters (the limit is 75)
    holding whole UTF-8 characters only, folded onto lines of at most 76
    (a short printable-ASCII subject is written as it is). The body is
    text/plain; charset=UTF-8 in base64, lines of 76 characters: base64
    because 8bit needs the server's 8BITMIME and quoted-printable would
    triple Chinese text. Line ends are CRLF throughout, the body's
    included (its lines are made CRLF before encoding, MIME's canonical
    form of text).

    Message-ID is <notification id@domain>: a retry of one notification is
    the same message, which receivers and their filters can tell. Date is
    the given time in UTC.

    From and To are one address each, printable ASCII ("a@b.example" or
    "Rapport <a@b.example>"); a display name needing encoding is refused,
    as is anything with a line break (header injection). Sizes are bounded
    (RP_MIME_*_MAX).
*/
#ifndef RAPPORT_MIME_H
#define RAPPORT_MIME_H

#include <stddef.h>
#include <stdint.h>

#define RP_MIME_ADDRESS_MAX 320     //  bytes of From or To
#define RP_MIME_SUBJECT_MAX 998     //  bytes of the subject's UTF-8
#define RP_MIME_BODY_MAX    1048576 //  bytes of the body's UTF-8
#define RP_MIME_ID_MAX      64      //  bytes of a notification id
#define RP_MIME_DOMAIN_MAX  253     //  bytes of the Message-ID's domain

typedef struct {
    const char *from;
    const char *to;
    const char *subject; //  UTF-8, no control characters
    const char *body;    //  UTF-8, newlines and tabs allowed
    const char *id;      //  the notification id: [A-Za-z0-9_-]
    const char *domain;  //  the Message-ID's right-hand side
    int64_t date;        //  Unix seconds
} rp_mime_t;

//  The message's text, NUL-terminated, for the caller to free(); or NULL
//  with *error (may be NULL) saying which part is wrong: "bad_from",
//  "bad_to", "bad_subject", "bad_body", "bad_id", "bad_domain" (NULL with
//  *error NULL: out of memory).
char *rp_mime_message(const rp_mime_t *mime, const char **error);

void rp_mime_test(void);

#endif
