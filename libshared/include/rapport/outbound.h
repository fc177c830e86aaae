/*  outbound.h — webhook POSTs and SMTP sends that never block a service's
    loop: the delivery engine.

    A delivery can take its full timeout (15 s by default) and a guard
    check resolves a name, which blocks; a service's loop answers requests
    and applies events meanwhile. So the engine is a czmq actor (its own
    thread) running libcurl's multi interface: the owner hands it jobs and
    reads one result per accepted job from rp_outbound_sock, a socket its
    zpoller or zloop watches like any other (docs/decisions.md, "The
    outbound engine").

    HTTP POST (rp_outbound_post), the delivery rules:
      - the URL is checked by the address guard on the engine's thread just
        before the transfer (rapport/netguard.h: what the name resolves to
        then, against the allow-list given at creation), and the transfer
        is pinned to the addresses checked (CURLOPT_RESOLVE), so a second
        lookup cannot send it elsewhere;
      - redirects are not followed: a 3xx is a failure ("http_302");
      - only 2xx is success; the timeout covers the whole transfer;
      - the response's Retry-After (any status; the service honours it on
        429 and 503) is read by rp_schedule_retry_after;
      - the first RP_OUTBOUND_EXCERPT bytes of the response body are kept,
        and the transfer's latency measured.
    SMTP (rp_outbound_mail): smtp:// (optionally STARTTLS, required or
    opportunistic) or smtps://, AUTH with a user and password when given,
    MAIL FROM, RCPT TO each recipient, DATA the message text (from
    rapport/mime.h). A 4xx reply is a failure to retry later; a 5xx is
    permanent (result.permanent).

    Bounds: at most max_total transfers at once and max_per_host to one
    host:port (a receiver is not flooded by a burst to it); the others wait
    in order in a queue of at most queue_max jobs, and a job beyond is
    refused at once ("queue_full") — the owner keeps it for later, nothing
    grows without bound. Destroy cancels what is queued and in flight;
    their results are not sent.

    In a service's loop:

        rp_outbound_t *outbound = rp_outbound_new(&(rp_outbound_config_t){.allow = &allow});
        zloop_reader(loop, rp_outbound_sock(outbound), s_on_result, self);
        ...
        rp_outbound_post_t job = {.id = attempt_id, .url = url, .headers = headers,
                                  .header_count = 4, .body = body, .size = size};
        if (rp_outbound_post(outbound, &job, &error) != 0)
            ... keep the attempt for later (queue_full) or record it failed (bad_job)
        ...
        static int s_on_result(zloop_t *loop, zsock_t *sock, void *arg)
        {
            rp_outbound_result_t result;
            if (rp_outbound_recv(outbound, &result) == 0)
                ... record the attempt: result.ok, result.status, result.error …
            return 0;
        }

    Errors, in result.error ("" on success): the guard's "refused_address",
    "unresolved", "bad_url", "bad_scheme"; "timeout", "connect", "tls",
    "network" (the connection broke), "http_<code>" (a non-2xx answer),
    "smtp_<code>" (a 4xx or 5xx reply), "curl_<n>" (another libcurl error).
*/
#ifndef RAPPORT_OUTBOUND_H
#define RAPPORT_OUTBOUND_H

#include <rapport/netguard.h>

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_OUTBOUND_ID_MAX      256   //  bytes of a job id
#define RP_OUTBOUND_ERROR_MAX   32    //  bytes of an error name
#define RP_OUTBOUND_EXCERPT     4096  //  bytes of a response body kept
#define RP_OUTBOUND_HEADERS_MAX 32    //  headers of a POST
#define RP_OUTBOUND_RCPT_MAX    16    //  recipients of a mail
#define RP_OUTBOUND_TIMEOUT_MS  15000 //  a transfer's default timeout

typedef struct _rp_outbound_t rp_outbound_t;

typedef struct {
    const rp_netguard_allow_t *allow; //  addresses let through (NULL: none)
    size_t max_total;                 //  transfers at once (0: 16)
    size_t max_per_host;              //  … to one host:port (0: 4)
    size_t queue_max;                 //  jobs waiting (0: 1024)
    int64_t timeout_ms;               //  per transfer (0: RP_OUTBOUND_TIMEOUT_MS)
} rp_outbound_config_t;

//  Start an engine (its thread, its curl multi handle); config NULL: the
//  defaults, nothing allowed past the guard. NULL if the thread cannot
//  start.
rp_outbound_t *rp_outbound_new(const rp_outbound_config_t *config);

//  Cancel what is queued and in flight, stop the thread.
void rp_outbound_destroy(rp_outbound_t **self_p);

//  The socket results arrive on: poll it for reading, then rp_outbound_recv.
zsock_t *rp_outbound_sock(rp_outbound_t *self);

//  A webhook delivery: everything is copied, the caller keeps its buffers.
typedef struct {
    const char *id;             //  the caller's job id, returned with the result
    const char *url;            //  http:// or https://
    const char *const *headers; //  "Name: value", no CR or LF
    size_t header_count;        //  at most RP_OUTBOUND_HEADERS_MAX
    const void *body;           //  sent as it is
    size_t size;
    int64_t timeout_ms; //  0: the engine's
} rp_outbound_post_t;

typedef enum {
    RP_OUTBOUND_TLS_NONE,     //  smtp:// in the clear
    RP_OUTBOUND_TLS_TRY,      //  STARTTLS when the server offers it
    RP_OUTBOUND_TLS_STARTTLS, //  STARTTLS or fail ("tls")
} rp_outbound_tls_t;          //  (smtps:// is TLS from the start whatever this says)

//  An e-mail: everything is copied.
typedef struct {
    const char *id;  //  the caller's job id
    const char *url; //  smtp://host[:port] or smtps://host[:port]
    rp_outbound_tls_t tls;
    const char *user; //  AUTH when not NULL
    const char *password;
    const char *from;      //  the envelope's MAIL FROM: "a@b.example"
    const char *const *to; //  RCPT TO each
    size_t to_count;       //  1 to RP_OUTBOUND_RCPT_MAX
    const char *text;      //  the message (rp_mime_message), CRLF lines
    int64_t timeout_ms;    //  0: the engine's
} rp_outbound_mail_t;

//  Hand a job to the engine. Returns 0 (one result will follow), or -1
//  with *error (may be NULL): "queue_full" (max_total + queue_max jobs are
//  already accepted and their results not yet read), "bad_job" (no id or
//  URL, an id over RP_OUTBOUND_ID_MAX, a header with CR or LF or too many,
//  no recipient or too many, no text).
int rp_outbound_post(rp_outbound_t *self, const rp_outbound_post_t *job, const char **error);
int rp_outbound_mail(rp_outbound_t *self, const rp_outbound_mail_t *job, const char **error);

typedef struct {
    char id[RP_OUTBOUND_ID_MAX + 1];
    bool ok;             //  2xx, or the mail accepted
    bool permanent;      //  an SMTP 5xx: trying again will not help
    int status;          //  HTTP status or last SMTP reply (0: none)
    int64_t latency_ms;  //  the transfer's, queueing excluded
    int64_t retry_after; //  seconds (rp_schedule_retry_after), -1: none
    char error[RP_OUTBOUND_ERROR_MAX];
    size_t excerpt_size;                   //  bytes in excerpt
    char excerpt[RP_OUTBOUND_EXCERPT + 1]; //  NUL-terminated too
} rp_outbound_result_t;

//  Read one result (blocks until there is one: poll the socket first).
//  Returns 0, or -1 if interrupted.
int rp_outbound_recv(rp_outbound_t *self, rp_outbound_result_t *result);

//  Jobs accepted whose results the owner has not read yet.
size_t rp_outbound_pending(rp_outbound_t *self);

void rp_outbound_test(void);

#endif
