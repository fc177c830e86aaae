/*  mime.c — see mime.h. */
#include <rapport/mime.h>
#include <rapport/normalize.h>
#include <rapport/pack.h>

#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define B64        sodium_base64_VARIANT_ORIGINAL
#define WORD_BYTES 39 //  UTF-8 bytes per encoded-word: 52 base64 + 12 = 64 characters
#define LINE_BYTES 57 //  body bytes per line: 76 base64 characters
#define RAW_MAX    66 //  "Subject: " + 66 = 75

static bool s_address_ok(const char *text)
{
    size_t len = text ? strnlen(text, RP_MIME_ADDRESS_MAX + 1) : 0;
    if (len < 3 || len > RP_MIME_ADDRESS_MAX || !strchr(text, '@'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (text[i] < 0x20 || text[i] > 0x7e)
            return false;
    return true;
}

static bool s_domain_ok(const char *text)
{
    size_t len = text ? strnlen(text, RP_MIME_DOMAIN_MAX + 1) : 0;
    return len > 0 && len <= RP_MIME_DOMAIN_MAX && text[0] != '.' && text[0] != '-' &&
           strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == len;
}

static const char *s_check(const rp_mime_t *m)
{
    if (!s_address_ok(m->from))
        return "bad_from";
    if (!s_address_ok(m->to))
        return "bad_to";
    size_t len = m->subject ? strnlen(m->subject, RP_MIME_SUBJECT_MAX + 1) : 0;
    if (!m->subject || !rp_utf8_valid(m->subject, len) ||
        rp_normalize_text(m->subject, len, RP_MIME_SUBJECT_MAX, 0))
        return "bad_subject";
    len = m->body ? strnlen(m->body, RP_MIME_BODY_MAX + 1) : 0;
    if (!m->body || !rp_utf8_valid(m->body, len) ||
        rp_normalize_text(m->body, len, RP_MIME_BODY_MAX, RP_TEXT_NOTE | RP_TEXT_BLANK))
        return "bad_body";
    if (!m->id || rp_normalize_code(m->id, strnlen(m->id, RP_MIME_ID_MAX + 1), RP_MIME_ID_MAX))
        return "bad_id";
    if (!s_domain_ok(m->domain))
        return "bad_domain";
    return NULL;
}

//  RFC 5322's date-time in UTC, with English names whatever the locale.
static void s_date(FILE *out, int64_t date)
{
    static const char days[][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)date;
    struct tm tm;
    gmtime_r(&t, &tm);
    fprintf(out, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", days[tm.tm_wday], tm.tm_mday,
            months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static bool s_plain_subject(const char *subject, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)subject[i] > 0x7e)
            return false;
    return len <= RAW_MAX && !strstr(subject, "=?");
}

//  Encoded-words of whole characters, one per line after the first.
static void s_subject(FILE *out, const char *subject)
{
    size_t len = strlen(subject);
    if (s_plain_subject(subject, len)) {
        fprintf(out, "Subject: %s\r\n", subject);
        return;
    }
    fputs("Subject:", out);
    for (size_t at = 0; at < len;) {
        size_t take = rp_normalize_cut(subject + at, len - at, WORD_BYTES);
        char b64[sodium_base64_ENCODED_LEN(WORD_BYTES, B64)];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)subject + at, take, B64);
        fprintf(out, "%s=?UTF-8?B?%s?=", at ? "\r\n " : " ", b64);
        at += take;
    }
    fputs("\r\n", out);
}

//  The body with every line end as CRLF ("\r\n", a lone "\n" or "\r").
static char *s_canonical(const char *body, size_t *size)
{
    size_t len = strlen(body), n = 0;
    char *out = malloc(2 * len + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        if (body[i] == '\r' || body[i] == '\n') {
            out[n++] = '\r';
            out[n++] = '\n';
            if (body[i] == '\r' && body[i + 1] == '\n')
                i++;
        } else
            out[n++] = body[i];
    }
    *size = n;
    return out;
}

static bool s_body(FILE *out, const char *body)
{
    size_t size;
    char *text = s_canonical(body, &size);
    if (!text)
        return false;
    for (size_t at = 0; at < size; at += LINE_BYTES) {
        size_t take = size - at < LINE_BYTES ? size - at : LINE_BYTES;
        char line[sodium_base64_ENCODED_LEN(LINE_BYTES, B64)];
        sodium_bin2base64(line, sizeof line, (const unsigned char *)text + at, take, B64);
        fprintf(out, "%s\r\n", line);
    }
    free(text);
    return true;
}

char *rp_mime_message(const rp_mime_t *mime, const char **error)
{
    const char *why = s_check(mime);
    if (error)
        *error = why;
    if (why)
        return NULL;
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        return NULL;
    s_date(out, mime->date);
    fprintf(out, "From: %s\r\nTo: %s\r\n", mime->from, mime->to);
    s_subject(out, mime->subject);
    fprintf(out, "Message-ID: <%s@%s>\r\n", mime->id, mime->domain);
    fputs("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
          "Content-Transfer-Encoding: base64\r\n\r\n",
          out);
    bool ok = s_body(out, mime->body);
    if (fclose(out) != 0 || !ok) {
        free(text);
        return NULL;
    }
    return text;
}

//  ---------------------------------------------------------------------
//  Self-test: a receiver's view of the message.

//  Every line ends CRLF and is at most max characters long.
static void s_expect_lines(const char *text, size_t max)
{
    for (const char *at = text; *at;) {
        const char *lf = strchr(at, '\n');
        assert(lf && lf > at && lf[-1] == '\r');
        size_t len = (size_t)(lf - at) - 1;
        assert(len <= max);
        at = lf + 1;
    }
}

//  The subject header's encoded-words decoded and joined.
static void s_decode_subject(const char *text, char *out, size_t size)
{
    const char *at = strstr(text, "\r\nSubject:");
    assert(at);
    at += 10;
    size_t n = 0;
    const char *end = strstr(at, "\r\nMessage-ID:");
    while ((at = strstr(at, "=?UTF-8?B?")) && at < end) {
        at += 10;
        const char *close = strstr(at, "?=");
        assert(close && close - at <= 75 - 12);
        size_t got = 0;
        int rc = sodium_base642bin((unsigned char *)out + n, size - n - 1, at, (size_t)(close - at),
                                   NULL, &got, NULL, B64);
        assert(rc == 0);
        n += got;
        at = close + 2;
    }
    out[n] = 0;
}

static char *s_decode_body(const char *text, size_t *size)
{
    const char *at = strstr(text, "\r\n\r\n");
    assert(at);
    char *b64 = malloc(strlen(at) + 1), *bin = malloc(strlen(at) + 1);
    assert(b64 && bin);
    size_t n = 0;
    for (at += 4; *at; at++)
        if (*at != '\r' && *at != '\n')
            b64[n++] = *at;
    int rc = sodium_base642bin((unsigned char *)bin, strlen(text), b64, n, NULL, size, NULL, B64);
    assert(rc == 0);
    free(b64);
    bin[*size] = 0;
    return bin;
}

static void s_test_chinese(void)
{
    //  Each Chinese character is 3 bytes: 40 of them need four encoded-words.
    const char *subject = "提醒：客户张三的生日在明天，请记得发送祝福并安排拜访。"
                          "跟进事项已逾期三天，经理已收到通知。";
    rp_mime_t m = {.from = "Rapport <noreply@rapport.example>",
                   .to = "li.si@example.com",
                   .subject = subject,
                   .body = "第一行\n第二行：订单 #42 已付款。\r\nDone.\n",
                   .id = "0192aa00bb11cc22dd33",
                   .domain = "rapport.example",
                   .date = 1796318509};
    const char *error = "unset";
    char *text = rp_mime_message(&m, &error);
    assert(text && !error);
    s_expect_lines(text, 76);
    assert(strncmp(text, "Date: Thu, 03 Dec 2026 17:21:49 +0000\r\n", 39) == 0);
    assert(strstr(text, "\r\nFrom: Rapport <noreply@rapport.example>\r\n"));
    assert(strstr(text, "\r\nTo: li.si@example.com\r\n"));
    assert(strstr(text, "\r\nMessage-ID: <0192aa00bb11cc22dd33@rapport.example>\r\n"));
    assert(strstr(text, "\r\nMIME-Version: 1.0\r\n"));
    assert(strstr(text, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
    assert(strstr(text, "\r\nContent-Transfer-Encoding: base64\r\n\r\n"));
    char decoded[RP_MIME_SUBJECT_MAX + 1];
    s_decode_subject(text, decoded, sizeof decoded);
    assert(strcmp(decoded, subject) == 0);
    size_t size;
    char *body = s_decode_body(text, &size);
    assert(strcmp(body, "第一行\r\n第二行：订单 #42 已付款。\r\nDone.\r\n") == 0);
    free(body);
    free(text);
}

static void s_test_long_body(void)
{
    char body[1000];
    for (size_t i = 0; i < sizeof body - 1; i++)
        body[i] = (char)('a' + i % 26);
    body[sizeof body - 1] = 0;
    rp_mime_t m = {.from = "a@b.example",
                   .to = "c@d.example",
                   .subject = "Deal won",
                   .body = body,
                   .id = "n-1",
                   .domain = "b.example",
                   .date = 0};
    char *text = rp_mime_message(&m, NULL);
    assert(text);
    s_expect_lines(text, 76);
    assert(strstr(text, "\r\nSubject: Deal won\r\n"));
    assert(strstr(text, "Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
    const char *first = strstr(text, "\r\n\r\n") + 4;
    assert(strchr(first, '\r') - first == 76);
    size_t size;
    char *back = s_decode_body(text, &size);
    assert(size == sizeof body - 1 && strcmp(back, body) == 0);
    free(back);
    free(text);
    //  Encoded when it looks like an encoded-word, or is long.
    m.subject = "=?UTF-8?B?5byg5LiJ?=";
    text = rp_mime_message(&m, NULL);
    char decoded[RP_MIME_SUBJECT_MAX + 1];
    s_decode_subject(text, decoded, sizeof decoded);
    assert(strcmp(decoded, m.subject) == 0);
    free(text);
}

static void s_test_refused(void)
{
    rp_mime_t good = {.from = "a@b.example",
                      .to = "c@d.example",
                      .subject = "s",
                      .body = "",
                      .id = "n1",
                      .domain = "b.example"};
    struct {
        rp_mime_t m;
        const char *error;
    } cases[] = {
        {good, NULL},          {good, "bad_from"},    {good, "bad_to"},      {good, "bad_to"},
        {good, "bad_subject"}, {good, "bad_subject"}, {good, "bad_subject"}, {good, "bad_body"},
        {good, "bad_id"},      {good, "bad_id"},      {good, "bad_domain"},
    };
    cases[1].m.from = "Bob <b@x.example>\r\nBcc: all@x.example";
    cases[2].m.to = "张三 <z@x.example>";
    cases[3].m.to = NULL;
    cases[4].m.subject = "line\r\nBcc: x@y";
    cases[5].m.subject = "\xe5\xbc"; //  a character cut short
    cases[6].m.subject = "";
    cases[7].m.body = "bell\a";
    cases[8].m.id = "a@b";
    cases[9].m.id = "";
    cases[10].m.domain = "b.example>";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *error = "unset";
        char *text = rp_mime_message(&cases[i].m, &error);
        assert((text != NULL) == (cases[i].error == NULL));
        assert(cases[i].error ? error && strcmp(error, cases[i].error) == 0 : !error);
        free(text);
    }
}

void rp_mime_test(void)
{
    s_test_chinese();
    s_test_long_body();
    s_test_refused();
}
