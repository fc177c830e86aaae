/*  webhook.c — see webhook.h. */
#include <rapport/webhook.h>
#include <rapport/random.h>

#include <assert.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define PREFIX     "whsec_"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define B64        sodium_base64_VARIANT_ORIGINAL

const char *rp_webhook_secret_parse(const char *text, rp_webhook_secret_t *secret)
{
    if (!text || strncmp(text, PREFIX, PREFIX_LEN) != 0)
        return "no_prefix";
    const char *b64 = text + PREFIX_LEN;
    size_t len = strnlen(b64, RP_WEBHOOK_SECRET_TEXT);
    if (len == 0 || len >= RP_WEBHOOK_SECRET_TEXT - PREFIX_LEN)
        return len ? "bad_size" : "invalid";
    //  Room for more than the largest key, so a long one is told from bad base64.
    uint8_t key[RP_WEBHOOK_KEY_MAX + 3];
    size_t size = 0;
    int rc = sodium_base642bin(key, sizeof key, b64, len, NULL, &size, NULL, B64);
    if (rc != 0) {
        sodium_memzero(key, sizeof key);
        return "invalid";
    }
    if (size < RP_WEBHOOK_KEY_MIN || size > RP_WEBHOOK_KEY_MAX) {
        sodium_memzero(key, sizeof key);
        return "bad_size";
    }
    memcpy(secret->key, key, size);
    secret->size = size;
    sodium_memzero(key, sizeof key);
    return NULL;
}

void rp_webhook_secret_format(const rp_webhook_secret_t *secret, char text[RP_WEBHOOK_SECRET_TEXT])
{
    memcpy(text, PREFIX, PREFIX_LEN);
    sodium_bin2base64(text + PREFIX_LEN, RP_WEBHOOK_SECRET_TEXT - PREFIX_LEN, secret->key,
                      secret->size, B64);
}

void rp_webhook_secret_generate(rp_webhook_secret_t *secret, char text[RP_WEBHOOK_SECRET_TEXT])
{
    rp_random_bytes(secret->key, RP_WEBHOOK_KEY_NEW);
    secret->size = RP_WEBHOOK_KEY_NEW;
    rp_webhook_secret_format(secret, text);
}

void rp_webhook_secret_wipe(rp_webhook_secret_t *secret)
{
    sodium_memzero(secret, sizeof *secret);
}

static bool s_id_ok(const char *msg_id)
{
    if (!msg_id)
        return false;
    size_t len = strnlen(msg_id, RP_WEBHOOK_ID_MAX + 1);
    return len > 0 && len <= RP_WEBHOOK_ID_MAX;
}

//  The raw MAC of "id.timestamp.body", fed in pieces so the body is not copied.
static void s_mac(const rp_webhook_secret_t *secret, const char *msg_id, int64_t timestamp,
                  const void *body, size_t size, uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
    char stamp[24];
    int n = snprintf(stamp, sizeof stamp, ".%" PRId64 ".", timestamp);
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, secret->key, secret->size);
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)msg_id, strlen(msg_id));
    crypto_auth_hmacsha256_update(&state, (const uint8_t *)stamp, (size_t)n);
    crypto_auth_hmacsha256_update(&state, body, size);
    crypto_auth_hmacsha256_final(&state, mac);
    sodium_memzero(&state, sizeof state);
}

int rp_webhook_sign(const rp_webhook_secret_t *secret, const char *msg_id, int64_t timestamp,
                    const void *body, size_t size, char signature[RP_WEBHOOK_SIGNATURE_TEXT])
{
    if (!s_id_ok(msg_id))
        return -1;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    s_mac(secret, msg_id, timestamp, body, size, mac);
    memcpy(signature, "v1,", 3);
    sodium_bin2base64(signature + 3, RP_WEBHOOK_SIGNATURE_TEXT - 3, mac, sizeof mac, B64);
    return 0;
}

int rp_webhook_header(const rp_webhook_secret_t *const *secrets, size_t count, const char *msg_id,
                      int64_t timestamp, const void *body, size_t size,
                      char header[RP_WEBHOOK_HEADER_TEXT])
{
    if (count < 1 || count > RP_WEBHOOK_SECRETS_MAX)
        return -1;
    char *at = header;
    for (size_t i = 0; i < count; i++) {
        if (i)
            *at++ = ' ';
        if (rp_webhook_sign(secrets[i], msg_id, timestamp, body, size, at) != 0)
            return -1;
        at += strlen(at);
    }
    return 0;
}

//  Decimal seconds only, as the specification sends them: no sign, no space.
static bool s_timestamp(const char *text, int64_t *value)
{
    if (!text || !*text || strlen(text) > 18)
        return false;
    int64_t v = 0;
    for (const char *c = text; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (*c - '0');
    }
    *value = v;
    return true;
}

//  Does one "v1,<base64>" entry (len bytes) carry mac? Other versions do not.
static bool s_entry_matches(const char *entry, size_t len, const uint8_t *mac)
{
    if (len < 4 || memcmp(entry, "v1,", 3) != 0)
        return false;
    uint8_t given[crypto_auth_hmacsha256_BYTES + 3];
    size_t size = 0;
    if (sodium_base642bin(given, sizeof given, entry + 3, len - 3, NULL, &size, NULL, B64) != 0 ||
        size != crypto_auth_hmacsha256_BYTES)
        return false;
    return sodium_memcmp(given, mac, crypto_auth_hmacsha256_BYTES) == 0;
}

const char *rp_webhook_verify(const rp_webhook_secret_t *secret, const char *msg_id,
                              const char *timestamp, const char *header, const void *body,
                              size_t size, int64_t now)
{
    if (!s_id_ok(msg_id))
        return "bad_id";
    int64_t stamp;
    if (!s_timestamp(timestamp, &stamp))
        return "bad_timestamp";
    if (stamp < now - RP_WEBHOOK_TOLERANCE)
        return "too_old";
    if (stamp > now + RP_WEBHOOK_TOLERANCE)
        return "too_new";
    size_t len = header ? strnlen(header, RP_WEBHOOK_HEADER_MAX + 1) : 0;
    if (len == 0 || len > RP_WEBHOOK_HEADER_MAX)
        return "bad_header";
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    s_mac(secret, msg_id, stamp, body, size, mac);
    bool match = false;
    for (const char *at = header; *at;) {
        size_t entry = strcspn(at, " ");
        match |= s_entry_matches(at, entry, mac);
        at += entry;
        at += strspn(at, " ");
    }
    sodium_memzero(mac, sizeof mac);
    return match ? NULL : "no_match";
}

//  The specification's reference vector, from its libraries' tests
//  (standard-webhooks/standard-webhooks, libraries/*/: TestWebhookSign and
//  its counterparts in every language).
#define REF_SECRET    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define REF_ID        "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define REF_TIMESTAMP 1614265330
#define REF_BODY      "{\"test\": 2432232314}"
#define REF_SIGNATURE "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static void s_test_reference(void)
{
    rp_webhook_secret_t secret;
    assert(rp_webhook_secret_parse(REF_SECRET, &secret) == NULL);
    assert(secret.size == 24);
    char text[RP_WEBHOOK_SECRET_TEXT];
    rp_webhook_secret_format(&secret, text);
    assert(strcmp(text, REF_SECRET) == 0);
    char signature[RP_WEBHOOK_SIGNATURE_TEXT];
    assert(rp_webhook_sign(&secret, REF_ID, REF_TIMESTAMP, REF_BODY, strlen(REF_BODY), signature) ==
           0);
    assert(strcmp(signature, REF_SIGNATURE) == 0);
    assert(!rp_webhook_verify(&secret, REF_ID, "1614265330", REF_SIGNATURE, REF_BODY,
                              strlen(REF_BODY), REF_TIMESTAMP + 299));
    //  Another version first, then ours, as the specification's example header.
    assert(!rp_webhook_verify(&secret, REF_ID, "1614265330", "v1a,aGVsbG8= " REF_SIGNATURE,
                              REF_BODY, strlen(REF_BODY), REF_TIMESTAMP));
    const char *v = rp_webhook_verify(&secret, REF_ID, "1614265330", REF_SIGNATURE, REF_BODY,
                                      strlen(REF_BODY), REF_TIMESTAMP + 301);
    assert(v && strcmp(v, "too_old") == 0);
    v = rp_webhook_verify(&secret, REF_ID, "1614265330", REF_SIGNATURE, REF_BODY, strlen(REF_BODY),
                          REF_TIMESTAMP - 301);
    assert(v && strcmp(v, "too_new") == 0);
    v = rp_webhook_verify(&secret, REF_ID, "1614265330", REF_SIGNATURE, "{\"test\": 2432232315}",
                          strlen(REF_BODY), REF_TIMESTAMP);
    assert(v && strcmp(v, "no_match") == 0);
    v = rp_webhook_verify(&secret, "msg_other", "1614265330", REF_SIGNATURE, REF_BODY,
                          strlen(REF_BODY), REF_TIMESTAMP);
    assert(v && strcmp(v, "no_match") == 0);
    v = rp_webhook_verify(&secret, REF_ID, "1614265331", REF_SIGNATURE, REF_BODY, strlen(REF_BODY),
                          REF_TIMESTAMP);
    assert(v && strcmp(v, "no_match") == 0);
    v = rp_webhook_verify(&secret, REF_ID, "-1614265330", REF_SIGNATURE, REF_BODY, strlen(REF_BODY),
                          REF_TIMESTAMP);
    assert(v && strcmp(v, "bad_timestamp") == 0);
    //  The MAC as another version's signature does not count.
    v = rp_webhook_verify(&secret, REF_ID, "1614265330",
                          "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", REF_BODY,
                          strlen(REF_BODY), REF_TIMESTAMP);
    assert(v && strcmp(v, "no_match") == 0);
    v = rp_webhook_verify(&secret, REF_ID, "1614265330", "", REF_BODY, strlen(REF_BODY),
                          REF_TIMESTAMP);
    assert(v && strcmp(v, "bad_header") == 0);
}

static void s_test_rotation(void)
{
    rp_webhook_secret_t old_secret, new_secret;
    char old_text[RP_WEBHOOK_SECRET_TEXT], new_text[RP_WEBHOOK_SECRET_TEXT];
    rp_webhook_secret_generate(&old_secret, old_text);
    rp_webhook_secret_generate(&new_secret, new_text);
    assert(strncmp(new_text, "whsec_", 6) == 0 && strlen(new_text) == 6 + 44);
    assert(strcmp(old_text, new_text) != 0);
    rp_webhook_secret_t back;
    assert(!rp_webhook_secret_parse(new_text, &back));
    assert(back.size == RP_WEBHOOK_KEY_NEW && memcmp(back.key, new_secret.key, back.size) == 0);
    const rp_webhook_secret_t *both[] = {&new_secret, &old_secret};
    char header[RP_WEBHOOK_HEADER_TEXT];
    assert(rp_webhook_header(both, 2, "msg_1", 1700000000, "{}", 2, header) == 0);
    assert(strchr(header, ' ') && strlen(header) == 2 * 47 + 1);
    assert(!rp_webhook_verify(&old_secret, "msg_1", "1700000000", header, "{}", 2, 1700000000));
    assert(!rp_webhook_verify(&new_secret, "msg_1", "1700000000", header, "{}", 2, 1700000000));
    rp_webhook_secret_t other;
    char other_text[RP_WEBHOOK_SECRET_TEXT];
    rp_webhook_secret_generate(&other, other_text);
    const char *v = rp_webhook_verify(&other, "msg_1", "1700000000", header, "{}", 2, 1700000000);
    assert(v && strcmp(v, "no_match") == 0);
    assert(rp_webhook_header(both, 0, "msg_1", 1, "", 0, header) == -1);
    assert(rp_webhook_header(both, 3, "msg_1", 1, "", 0, header) == -1);
    assert(rp_webhook_header(both, 1, "", 1, "", 0, header) == -1);
    rp_webhook_secret_wipe(&old_secret);
    assert(old_secret.size == 0);
}

static void s_test_secret_errors(void)
{
    rp_webhook_secret_t secret;
    struct {
        const char *text, *error;
    } cases[] = {
        {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "no_prefix"},
        {"whsec_", "invalid"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!", "invalid"},
        {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS", "invalid"}, //  not a whole base64 quantum
        {"whsec_aGVsbG8gd29ybGQ=", "bad_size"},               //  11 bytes
        {"whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
         "AAAAAAAAAAAA",
         "bad_size"}, //  66 bytes
        {NULL, "no_prefix"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *error = rp_webhook_secret_parse(cases[i].text, &secret);
        if (!error || strcmp(error, cases[i].error) != 0)
            fprintf(stderr, "secret %s: %s, want %s\n", cases[i].text ? cases[i].text : "(null)",
                    error ? error : "ok", cases[i].error);
        assert(error && strcmp(error, cases[i].error) == 0);
    }
    //  64 bytes, the largest key, is one.
    uint8_t key[64];
    memset(key, 7, sizeof key);
    char text[RP_WEBHOOK_SECRET_TEXT] = PREFIX;
    sodium_bin2base64(text + PREFIX_LEN, sizeof text - PREFIX_LEN, key, sizeof key, B64);
    assert(!rp_webhook_secret_parse(text, &secret) && secret.size == 64);
}

void rp_webhook_test(void)
{
    assert(sodium_init() >= 0);
    s_test_reference();
    s_test_rotation();
    s_test_secret_errors();
}
