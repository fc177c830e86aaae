/*  webhook.h — Standard Webhooks 1.0 signatures (symmetric, "v1").

    A delivery carries three headers: webhook-id (the message id, the same
    on every retry), webhook-timestamp (the attempt's Unix seconds) and
    webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256 of
    'id.timestamp.body'>". The list is there for rotation: while an
    endpoint has an old and a new secret, each delivery is signed with both
    and the receiver accepts either.

    A secret is "whsec_" and the standard base64 (with padding) of 24 to 64
    random bytes, as the specification asks; generated ones have 32. It is
    parsed once into rp_webhook_secret_t (the raw key) and signed with many
    times. HMAC-SHA256, base64, the random bytes and the constant-time
    comparison are libsodium's (docs/decisions.md, "Webhook signatures").

    Verification is the receiver's side (our tests play it): the timestamp
    must be within RP_WEBHOOK_TOLERANCE of now either way, which stops a
    captured delivery being replayed later, and one of the listed "v1"
    signatures must match; other versions ("v1a", asymmetric) are skipped.
    Inputs are bounded: a message id of at most RP_WEBHOOK_ID_MAX bytes, a
    header of at most RP_WEBHOOK_HEADER_MAX.
*/
#ifndef RAPPORT_WEBHOOK_H
#define RAPPORT_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_WEBHOOK_KEY_MIN        24 //  bytes of a secret's key
#define RP_WEBHOOK_KEY_MAX        64
#define RP_WEBHOOK_KEY_NEW        32 //  what rp_webhook_secret_generate makes
#define RP_WEBHOOK_SECRET_TEXT    96 //  "whsec_" + base64 of 64 bytes + NUL
#define RP_WEBHOOK_SIGNATURE_TEXT 48 //  "v1," + 44 base64 characters + NUL
#define RP_WEBHOOK_SECRETS_MAX    2  //  secrets a header is signed with
#define RP_WEBHOOK_HEADER_TEXT    (RP_WEBHOOK_SECRETS_MAX * RP_WEBHOOK_SIGNATURE_TEXT)
#define RP_WEBHOOK_ID_MAX         256  //  bytes of a message id
#define RP_WEBHOOK_HEADER_MAX     4096 //  bytes of a signature header to verify
#define RP_WEBHOOK_TOLERANCE      300  //  seconds a timestamp may be off now

typedef struct {
    uint8_t key[RP_WEBHOOK_KEY_MAX];
    size_t size;
} rp_webhook_secret_t;

//  Read a secret's text into *secret. NULL when it is one, else why not:
//  "no_prefix" (not "whsec_…"), "invalid" (not base64), "bad_size" (a key
//  of fewer than 24 or more than 64 bytes).
const char *rp_webhook_secret_parse(const char *text, rp_webhook_secret_t *secret);

//  A new secret of RP_WEBHOOK_KEY_NEW bytes from the kernel's CSPRNG, into
//  *secret and, as text, into text.
void rp_webhook_secret_generate(rp_webhook_secret_t *secret, char text[RP_WEBHOOK_SECRET_TEXT]);

//  The text of a secret ("whsec_…").
void rp_webhook_secret_format(const rp_webhook_secret_t *secret, char text[RP_WEBHOOK_SECRET_TEXT]);

//  Wipe a secret's key (sodium_memzero) once it is no longer needed.
void rp_webhook_secret_wipe(rp_webhook_secret_t *secret);

//  The signature "v1,…" of a message: its id (at most RP_WEBHOOK_ID_MAX
//  bytes, NUL-terminated), the attempt's timestamp in seconds and the body
//  exactly as sent. Returns 0, or -1 for an empty or over-long id.
int rp_webhook_sign(const rp_webhook_secret_t *secret, const char *msg_id, int64_t timestamp,
                    const void *body, size_t size, char signature[RP_WEBHOOK_SIGNATURE_TEXT]);

//  The webhook-signature header's value: the signatures by count secrets
//  (1 or 2: the current one first, then the one being rotated out),
//  space-separated. Returns 0, or -1 for a bad count or id.
int rp_webhook_header(const rp_webhook_secret_t *const *secrets, size_t count, const char *msg_id,
                      int64_t timestamp, const void *body, size_t size,
                      char header[RP_WEBHOOK_HEADER_TEXT]);

//  Verify a delivery as a receiver does: msg_id, the webhook-timestamp
//  header's text and the webhook-signature header's, the body, against one
//  secret, at now (Unix seconds). NULL when it verifies, else why not:
//  "bad_id", "bad_timestamp" (not decimal seconds), "too_old", "too_new"
//  (outside the tolerance), "bad_header" (empty or over-long), "no_match"
//  (no v1 signature in the list is the secret's).
const char *rp_webhook_verify(const rp_webhook_secret_t *secret, const char *msg_id,
                              const char *timestamp, const char *header, const void *body,
                              size_t size, int64_t now);

void rp_webhook_test(void);

#endif
