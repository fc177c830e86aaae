/*  outbound.c — see outbound.h. */
#include <rapport/outbound.h>
#include <rapport/mime.h>
#include <rapport/schedule.h>

#include <assert.h>
#include <ctype.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_KEY_MAX         (RP_NETGUARD_HOST_MAX + 8) //  "host:port"
#define S_RETRY_AFTER_MAX 64                         //  bytes of a Retry-After value kept
#define S_RESOLVE_MAX                                                                              \
    (RP_NETGUARD_HOST_MAX + RP_NETGUARD_ADDRS_MAX * (RP_NETGUARD_ADDR_TEXT + 3) + 16)

//  One job, from the owner's copy to the end of its transfer. The owner
//  builds it, the engine owns it once it is on the pipe.
typedef struct s_job_t {
    struct s_job_t *next;
    bool mail;
    char id[RP_OUTBOUND_ID_MAX + 1];
    char *url;
    char key[S_KEY_MAX];     //  host:port, for the per-host bound
    struct curl_slist *list; //  a POST's headers, or a mail's recipients
    char *body;              //  a POST's body, or a mail's text
    size_t size, sent;       //  … and how much of the text SMTP has read
    rp_outbound_tls_t tls;
    char *user, *password, *from;
    int64_t timeout_ms;
    CURL *easy;                 //  while in flight
    struct curl_slist *resolve; //  the pinned addresses
    char retry_after[S_RETRY_AFTER_MAX];
    size_t excerpt_size;
    char excerpt[RP_OUTBOUND_EXCERPT];
} s_job_t;

//  What the engine's thread starts from; the owner keeps it alive.
typedef struct {
    rp_netguard_allow_t allow;
    size_t max_total, max_per_host;
    int64_t timeout_ms;
} s_config_t;

struct _rp_outbound_t {
    zactor_t *actor;
    size_t pending, limit; //  results owed, and at most
    s_config_t config;
};

static void s_job_destroy(s_job_t **job_p)
{
    s_job_t *job = *job_p;
    if (!job)
        return;
    if (job->easy)
        curl_easy_cleanup(job->easy);
    curl_slist_free_all(job->list);
    curl_slist_free_all(job->resolve);
    free(job->url);
    free(job->body);
    free(job->user);
    if (job->password) {
        //  a password does not linger in freed memory
        memset(job->password, 0, strlen(job->password));
        free(job->password);
    }
    free(job->from);
    free(job);
    *job_p = NULL;
}

static bool s_has_line_break(const char *text)
{
    return strpbrk(text, "\r\n") != NULL;
}

//  A new job with the fields every kind has; NULL for a bad id or URL.
static s_job_t *s_job_new(const char *id, const char *url, int64_t timeout_ms)
{
    if (!id || !*id || strlen(id) > RP_OUTBOUND_ID_MAX || !url || !*url || s_has_line_break(url))
        return NULL;
    s_job_t *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    snprintf(job->id, sizeof job->id, "%s", id);
    job->url = strdup(url);
    job->timeout_ms = timeout_ms;
    if (!job->url)
        s_job_destroy(&job);
    return job;
}

static int s_job_body(s_job_t *job, const void *body, size_t size)
{
    job->body = malloc(size ? size : 1);
    if (!job->body)
        return -1;
    if (size)
        memcpy(job->body, body, size);
    job->size = size;
    return 0;
}

static int s_list_append(struct curl_slist **list, const char *text)
{
    struct curl_slist *more = curl_slist_append(*list, text);
    if (!more)
        return -1;
    *list = more;
    return 0;
}

static s_job_t *s_post_job(const rp_outbound_post_t *post)
{
    if (post->header_count > RP_OUTBOUND_HEADERS_MAX || (post->header_count && !post->headers) ||
        (post->size && !post->body))
        return NULL;
    s_job_t *job = s_job_new(post->id, post->url, post->timeout_ms);
    if (!job)
        return NULL;
    //  an empty "Expect:" stops curl waiting for a 100 Continue on big bodies
    int rc = s_list_append(&job->list, "Expect:");
    for (size_t i = 0; rc == 0 && i < post->header_count; i++) {
        const char *header = post->headers[i];
        rc = header && strchr(header, ':') && !s_has_line_break(header)
                 ? s_list_append(&job->list, header)
                 : -1;
    }
    if (rc == 0)
        rc = s_job_body(job, post->body, post->size);
    if (rc != 0)
        s_job_destroy(&job);
    return job;
}

//  A copy of an optional field (NULL stays NULL); *rc -1 for a line break
//  (SMTP command injection) or no memory.
static char *s_strdup_or_null(const char *text, int *rc)
{
    if (!text)
        return NULL;
    char *copy = s_has_line_break(text) ? NULL : strdup(text);
    if (!copy)
        *rc = -1;
    return copy;
}

static s_job_t *s_mail_job(const rp_outbound_mail_t *mail)
{
    if (!mail->from || !mail->text || mail->to_count == 0 ||
        mail->to_count > RP_OUTBOUND_RCPT_MAX || !mail->to ||
        (unsigned)mail->tls > RP_OUTBOUND_TLS_STARTTLS)
        return NULL;
    s_job_t *job = s_job_new(mail->id, mail->url, mail->timeout_ms);
    if (!job)
        return NULL;
    job->mail = true;
    job->tls = mail->tls;
    int rc = 0;
    job->user = s_strdup_or_null(mail->user, &rc);
    job->password = s_strdup_or_null(mail->password, &rc);
    job->from = s_strdup_or_null(mail->from, &rc);
    for (size_t i = 0; rc == 0 && i < mail->to_count; i++)
        rc = mail->to[i] && *mail->to[i] && !s_has_line_break(mail->to[i])
                 ? s_list_append(&job->list, mail->to[i])
                 : -1;
    if (rc == 0)
        rc = s_job_body(job, mail->text, strlen(mail->text));
    if (rc != 0)
        s_job_destroy(&job);
    return job;
}

//  ---------------------------------------------------------------------
//  The engine, on its own thread.

typedef struct {
    zsock_t *pipe;
    CURLM *multi;
    const s_config_t *config;
    s_job_t *queue, *queue_tail; //  waiting, oldest first
    s_job_t *active;             //  in flight
    size_t active_count;
    bool terminated;
} s_engine_t;

//  The job's result to the owner; the job is destroyed.
static void s_send_result(s_engine_t *self, s_job_t **job_p, bool ok, bool permanent, long status,
                          int64_t latency_ms, int64_t retry_after, const char *error)
{
    s_job_t *job = *job_p;
    zsock_send(self->pipe, "siiiiisb", job->id, (int)ok, (int)permanent, (int)status,
               (int)latency_ms, (int)retry_after, error ? error : "", job->excerpt,
               job->excerpt_size);
    s_job_destroy(job_p);
}

//  "host:port" of a URL, lower-case: the unit of the per-host bound.
static int s_host_key(const char *url, char key[S_KEY_MAX])
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        int length = snprintf(key, S_KEY_MAX, "%s:%s", host, port);
        rc = length > 0 && length < S_KEY_MAX ? 0 : -1;
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

static void s_enqueue(s_engine_t *self, s_job_t *job)
{
    if (s_host_key(job->url, job->key) != 0) {
        s_send_result(self, &job, false, false, 0, 0, -1, "bad_url");
        return;
    }
    job->next = NULL;
    if (self->queue_tail)
        self->queue_tail->next = job;
    else
        self->queue = job;
    self->queue_tail = job;
}

//  A command from the owner: a job, or $TERM.
static void s_engine_command(s_engine_t *self)
{
    zmsg_t *msg = zmsg_recv(self->pipe);
    if (!msg) {
        self->terminated = true; //  interrupted
        return;
    }
    char *command = zmsg_popstr(msg);
    zframe_t *frame = zmsg_pop(msg);
    if (command && streq(command, "$TERM"))
        self->terminated = true;
    else if (command && streq(command, "JOB") && frame && zframe_size(frame) == sizeof(void *)) {
        s_job_t *job;
        memcpy(&job, zframe_data(frame), sizeof job);
        s_enqueue(self, job);
    }
    zframe_destroy(&frame);
    zstr_free(&command);
    zmsg_destroy(&msg);
}

//  The response body's first bytes are kept; the rest is read and dropped
//  (returning less would abort the transfer and lose the status).
static size_t s_on_body(char *data, size_t size, size_t count, void *arg)
{
    s_job_t *job = arg;
    size_t bytes = size * count;
    size_t room = RP_OUTBOUND_EXCERPT - job->excerpt_size;
    size_t take = bytes < room ? bytes : room;
    memcpy(job->excerpt + job->excerpt_size, data, take);
    job->excerpt_size += take;
    return bytes;
}

static size_t s_on_header(char *data, size_t size, size_t count, void *arg)
{
    s_job_t *job = arg;
    size_t bytes = size * count;
    static const char name[] = "retry-after:";
    if (bytes > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *value = data + sizeof name - 1;
        size_t length = bytes - (sizeof name - 1);
        while (length && (*value == ' ' || *value == '\t'))
            value++, length--;
        while (length && isspace((unsigned char)value[length - 1]))
            length--;
        if (length < sizeof job->retry_after) {
            memcpy(job->retry_after, value, length);
            job->retry_after[length] = 0;
        }
    }
    return bytes;
}

//  SMTP reads the message text from here.
static size_t s_on_read(char *buffer, size_t size, size_t count, void *arg)
{
    s_job_t *job = arg;
    size_t room = size * count;
    size_t left = job->size - job->sent;
    size_t take = left < room ? left : room;
    memcpy(buffer, job->body + job->sent, take);
    job->sent += take;
    return take;
}

//  The options every transfer has: no proxy (a proxy from the environment
//  would go around the pinned addresses), no signals (this is a thread).
static void s_easy_common(s_engine_t *self, s_job_t *job, const char *protocols)
{
    CURL *easy = job->easy;
    int64_t timeout = job->timeout_ms > 0 ? job->timeout_ms : self->config->timeout_ms;
    curl_easy_setopt(easy, CURLOPT_URL, job->url);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, job);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, protocols);
    curl_easy_setopt(easy, CURLOPT_PROXY, "");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, job);
}

//  Check the URL's addresses now and pin the transfer to them. NULL, or
//  the error to report.
static const char *s_post_setup(s_engine_t *self, s_job_t *job)
{
    rp_netguard_target_t target;
    const char *why = rp_netguard_check_url(job->url, &self->config->allow, &target);
    if (why)
        return streq(why, "refused") ? "refused_address" : why;
    //  an address in the URL has no entry: curl looks nothing up for it
    char entry[S_RESOLVE_MAX];
    if (rp_netguard_resolve_entry(&target, entry, sizeof entry) != 0 ||
        (*entry && s_list_append(&job->resolve, entry) != 0))
        return "curl_27"; //  CURLE_OUT_OF_MEMORY's number: nothing else fits
    s_easy_common(self, job, "http,https");
    CURL *easy = job->easy;
    if (job->resolve)
        curl_easy_setopt(easy, CURLOPT_RESOLVE, job->resolve);
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, job->body);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)job->size);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, job->list);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, job);
    return NULL;
}

static void s_mail_setup(s_engine_t *self, s_job_t *job)
{
    static const long use_ssl[] = {CURLUSESSL_NONE, CURLUSESSL_TRY, CURLUSESSL_ALL};
    s_easy_common(self, job, "smtp,smtps");
    CURL *easy = job->easy;
    curl_easy_setopt(easy, CURLOPT_USE_SSL, use_ssl[job->tls]);
    if (job->user) {
        curl_easy_setopt(easy, CURLOPT_USERNAME, job->user);
        curl_easy_setopt(easy, CURLOPT_PASSWORD, job->password ? job->password : "");
    }
    curl_easy_setopt(easy, CURLOPT_MAIL_FROM, job->from);
    curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, job->list);
    curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(easy, CURLOPT_READFUNCTION, s_on_read);
    curl_easy_setopt(easy, CURLOPT_READDATA, job);
    curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)job->size);
}

static void s_start(s_engine_t *self, s_job_t *job)
{
    job->easy = curl_easy_init();
    const char *error = job->easy ? NULL : "curl_27";
    if (!error && job->mail)
        s_mail_setup(self, job);
    else if (!error)
        error = s_post_setup(self, job);
    if (!error && curl_multi_add_handle(self->multi, job->easy) != CURLM_OK)
        error = "curl_27";
    if (error) {
        s_send_result(self, &job, false, false, 0, 0, -1, error);
        return;
    }
    job->next = self->active;
    self->active = job;
    self->active_count++;
}

static size_t s_host_active(s_engine_t *self, const char *key)
{
    size_t count = 0;
    for (s_job_t *job = self->active; job; job = job->next)
        count += streq(job->key, key);
    return count;
}

//  Start the oldest waiting jobs the bounds allow: a job to a busy host
//  waits, the ones behind it to other hosts go ahead.
static void s_start_queued(s_engine_t *self)
{
    s_job_t **link = &self->queue, *previous = NULL;
    while (*link && self->active_count < self->config->max_total) {
        s_job_t *job = *link;
        if (s_host_active(self, job->key) >= self->config->max_per_host) {
            previous = job;
            link = &job->next;
            continue;
        }
        *link = job->next;
        if (self->queue_tail == job)
            self->queue_tail = previous;
        s_start(self, job);
    }
}

static const char *s_curl_error(CURLcode code, char buffer[RP_OUTBOUND_ERROR_MAX])
{
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_COULDNT_RESOLVE_HOST:
        return "unresolved";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
        return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "network";
    default:
        snprintf(buffer, RP_OUTBOUND_ERROR_MAX, "curl_%d", (int)code);
        return buffer;
    }
}

//  A finished transfer: judge it, tell the owner.
static void s_finish(s_engine_t *self, CURL *easy, CURLcode code)
{
    char *private = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &private);
    s_job_t *job = (s_job_t *)private, **link = &self->active;
    while (*link && *link != job)
        link = &(*link)->next;
    assert(*link == job);
    *link = job->next;
    self->active_count--;
    curl_multi_remove_handle(self->multi, easy);

    long status = 0;
    curl_off_t total_us = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total_us);
    int64_t retry_after = -1;
    if (*job->retry_after && !rp_schedule_retry_after(job->retry_after, time(NULL), &retry_after))
        retry_after = -1;

    char buffer[RP_OUTBOUND_ERROR_MAX];
    const char *error = NULL;
    bool permanent = false;
    if (job->mail && status >= 400) {
        //  the reply says more than curl's code (which is the same for a
        //  451 and a 550 at RCPT)
        snprintf(buffer, sizeof buffer, "smtp_%ld", status);
        error = buffer;
        permanent = status >= 500;
    } else if (code != CURLE_OK)
        error = s_curl_error(code, buffer);
    else if (!job->mail && (status < 200 || status > 299)) {
        snprintf(buffer, sizeof buffer, "http_%ld", status);
        error = buffer;
    }
    s_send_result(self, &job, !error, permanent, status, total_us / 1000, retry_after, error);
}

static void s_reap(s_engine_t *self)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(self->multi, &left)))
        if (msg->msg == CURLMSG_DONE)
            s_finish(self, msg->easy_handle, msg->data.result);
}

//  Wait for a transfer's socket, curl's next timer or the owner's pipe.
//  zsock_events right before the wait: ZMQ_FD only signals a change, so
//  a message already there would not wake the poll.
static void s_wait(s_engine_t *self)
{
    if (zsock_events(self->pipe) & ZMQ_POLLIN)
        return;
    long timeout = -1;
    curl_multi_timeout(self->multi, &timeout);
    if (timeout < 0 || timeout > 1000)
        timeout = 1000;
    struct curl_waitfd pipe_fd = {.fd = zsock_fd(self->pipe), .events = CURL_WAIT_POLLIN};
    curl_multi_poll(self->multi, &pipe_fd, 1, (int)timeout, NULL);
}

//  Destroy: what is in flight is cancelled, what waits dropped.
static void s_engine_clear(s_engine_t *self)
{
    while (self->active) {
        s_job_t *job = self->active;
        self->active = job->next;
        curl_multi_remove_handle(self->multi, job->easy);
        s_job_destroy(&job);
    }
    while (self->queue) {
        s_job_t *job = self->queue;
        self->queue = job->next;
        s_job_destroy(&job);
    }
}

static void s_engine_actor(zsock_t *pipe, void *args)
{
    s_engine_t self = {.pipe = pipe, .config = args, .multi = curl_multi_init()};
    zsock_signal(pipe, self.multi ? 0 : 1);
    if (!self.multi)
        return;
    while (!self.terminated) {
        while (!self.terminated && (zsock_events(pipe) & ZMQ_POLLIN))
            s_engine_command(&self);
        if (self.terminated)
            break;
        s_start_queued(&self);
        int running = 0;
        curl_multi_perform(self.multi, &running);
        s_reap(&self);
        s_start_queued(&self);
        s_wait(&self);
    }
    s_engine_clear(&self);
    curl_multi_cleanup(self.multi);
}

//  ---------------------------------------------------------------------
//  The owner's side.

rp_outbound_t *rp_outbound_new(const rp_outbound_config_t *config)
{
    static const rp_outbound_config_t defaults = {0};
    if (!config)
        config = &defaults;
    rp_outbound_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    if (config->allow)
        self->config.allow = *config->allow;
    self->config.max_total = config->max_total ? config->max_total : 16;
    self->config.max_per_host = config->max_per_host ? config->max_per_host : 4;
    self->config.timeout_ms = config->timeout_ms > 0 ? config->timeout_ms : RP_OUTBOUND_TIMEOUT_MS;
    size_t queue_max = config->queue_max ? config->queue_max : 1024;
    self->limit = self->config.max_total + queue_max;
    //  every owed result fits in the pipe, so the engine never blocks
    //  sending one while the owner blocks posting
    size_t room = (size_t)zsys_pipehwm();
    if (room && self->limit > room)
        self->limit = room;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    self->actor = zactor_new(s_engine_actor, &self->config);
    if (!self->actor) {
        curl_global_cleanup();
        free(self);
        return NULL;
    }
    return self;
}

void rp_outbound_destroy(rp_outbound_t **self_p)
{
    rp_outbound_t *self = *self_p;
    if (!self)
        return;
    //  zactor_destroy discards the results still on the pipe: they are
    //  frames, nothing to free
    zactor_destroy(&self->actor);
    curl_global_cleanup();
    free(self);
    *self_p = NULL;
}

zsock_t *rp_outbound_sock(rp_outbound_t *self)
{
    return zactor_sock(self->actor);
}

size_t rp_outbound_pending(rp_outbound_t *self)
{
    return self->pending;
}

static int s_hand_over(rp_outbound_t *self, s_job_t *job, const char **error)
{
    if (!job) {
        if (error)
            *error = "bad_job";
        return -1;
    }
    if (self->pending >= self->limit) {
        s_job_destroy(&job);
        if (error)
            *error = "queue_full";
        return -1;
    }
    if (zsock_send(self->actor, "sp", "JOB", (void *)job) != 0) {
        s_job_destroy(&job);
        if (error)
            *error = "interrupted";
        return -1;
    }
    self->pending++;
    return 0;
}

int rp_outbound_post(rp_outbound_t *self, const rp_outbound_post_t *job, const char **error)
{
    return s_hand_over(self, s_post_job(job), error);
}

int rp_outbound_mail(rp_outbound_t *self, const rp_outbound_mail_t *job, const char **error)
{
    return s_hand_over(self, s_mail_job(job), error);
}

int rp_outbound_recv(rp_outbound_t *self, rp_outbound_result_t *result)
{
    char *id = NULL, *error = NULL;
    byte *excerpt = NULL;
    size_t size = 0;
    int ok = 0, permanent = 0, status = 0, latency = 0, retry_after = -1;
    if (zsock_recv(self->actor, "siiiiisb", &id, &ok, &permanent, &status, &latency, &retry_after,
                   &error, &excerpt, &size) != 0)
        return -1;
    memset(result, 0, sizeof *result);
    snprintf(result->id, sizeof result->id, "%s", id ? id : "");
    result->ok = ok;
    result->permanent = permanent;
    result->status = status;
    result->latency_ms = latency;
    result->retry_after = retry_after;
    snprintf(result->error, sizeof result->error, "%s", error ? error : "");
    result->excerpt_size = size <= RP_OUTBOUND_EXCERPT ? size : RP_OUTBOUND_EXCERPT;
    if (excerpt)
        memcpy(result->excerpt, excerpt, result->excerpt_size);
    result->excerpt[result->excerpt_size] = 0;
    zstr_free(&id);
    zstr_free(&error);
    free(excerpt);
    if (self->pending)
        self->pending--;
    return 0;
}

//  ---------------------------------------------------------------------
//  Self-test: real peers on loopback, each a listening socket and a thread
//  per connection, answering canned replies.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_PEER_CONNS 64

typedef struct s_peer_t s_peer_t;
typedef void(s_serve_fn)(s_peer_t *peer, int fd);

struct s_peer_t {
    int listener, port;
    s_serve_fn *serve;
    atomic_bool stop;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_t conns[S_PEER_CONNS];
    size_t conn_count;
    //  what the peer saw, under lock
    int requests, active, max_active;
    char request[8192]; //  the last /ok request, headers and body
    char mail[8192];    //  the last mail's DATA
    char auth[1024];    //  the last AUTH line
    char rcpt[1024];    //  the last RCPT TO line
};

typedef struct {
    s_peer_t *peer;
    int fd;
} s_conn_t;

static void *s_conn_thread(void *arg)
{
    s_conn_t *conn = arg;
    conn->peer->serve(conn->peer, conn->fd);
    close(conn->fd);
    free(conn);
    return NULL;
}

static void *s_accept_thread(void *arg)
{
    s_peer_t *peer = arg;
    while (!atomic_load(&peer->stop)) {
        struct pollfd pfd = {.fd = peer->listener, .events = POLLIN};
        if (poll(&pfd, 1, 50) != 1)
            continue;
        int fd = accept(peer->listener, NULL, NULL);
        if (fd < 0)
            continue;
        s_conn_t *conn = malloc(sizeof *conn);
        assert(conn);
        *conn = (s_conn_t){peer, fd};
        pthread_mutex_lock(&peer->lock);
        assert(peer->conn_count < S_PEER_CONNS);
        int rc = pthread_create(&peer->conns[peer->conn_count++], NULL, s_conn_thread, conn);
        assert(rc == 0);
        pthread_mutex_unlock(&peer->lock);
    }
    return NULL;
}

//  A listening socket on 127.0.0.1 at a port the kernel picks.
static int s_listen(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t length = sizeof addr;
    int rc = bind(fd, (struct sockaddr *)&addr, sizeof addr);
    assert(rc == 0);
    rc = getsockname(fd, (struct sockaddr *)&addr, &length);
    assert(rc == 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static s_peer_t *s_peer_new(s_serve_fn *serve)
{
    s_peer_t *peer = calloc(1, sizeof *peer);
    assert(peer);
    peer->serve = serve;
    peer->listener = s_listen(&peer->port);
    int rc = listen(peer->listener, 16);
    assert(rc == 0);
    pthread_mutex_init(&peer->lock, NULL);
    rc = pthread_create(&peer->thread, NULL, s_accept_thread, peer);
    assert(rc == 0);
    return peer;
}

static void s_peer_destroy(s_peer_t **peer_p)
{
    s_peer_t *peer = *peer_p;
    atomic_store(&peer->stop, true);
    pthread_join(peer->thread, NULL);
    for (size_t i = 0; i < peer->conn_count; i++)
        pthread_join(peer->conns[i], NULL);
    close(peer->listener);
    pthread_mutex_destroy(&peer->lock);
    free(peer);
    *peer_p = NULL;
}

static bool s_peer_stopping_sleep(s_peer_t *peer, int ms)
{
    for (int slept = 0; slept < ms; slept += 10) {
        if (atomic_load(&peer->stop))
            return true;
        zclock_sleep(10);
    }
    return false;
}

static void s_send_text(int fd, const char *text)
{
    //  the client may be gone (a timeout): no SIGPIPE
    ssize_t rc = send(fd, text, strlen(text), MSG_NOSIGNAL);
    (void)rc;
}

//  Read an HTTP request, headers and Content-Length body, into buffer.
static size_t s_read_request(int fd, char *buffer, size_t size)
{
    size_t have = 0;
    while (have < size - 1) {
        ssize_t got = recv(fd, buffer + have, size - 1 - have, 0);
        if (got <= 0)
            break;
        have += (size_t)got;
        buffer[have] = 0;
        char *end = strstr(buffer, "\r\n\r\n");
        if (!end)
            continue;
        const char *length = strcasestr(buffer, "content-length:");
        size_t body = length && length < end ? strtoul(length + 15, NULL, 10) : 0;
        if (have >= (size_t)(end + 4 - buffer) + body)
            break;
    }
    buffer[have] = 0;
    return have;
}

static void s_http_reply(int fd, const char *status, const char *headers, const char *body)
{
    char reply[16384];
    snprintf(reply, sizeof reply,
             "HTTP/1.1 %s\r\n%sContent-Length: %zu\r\nConnection: close\r\n\r\n%s", status, headers,
             strlen(body), body);
    s_send_text(fd, reply);
}

//  /slow counts how many are answered at once (a /hang is not counted: it
//  outlives the client that timed out).
static void s_http_slow(s_peer_t *peer, int fd, int ms, bool count)
{
    pthread_mutex_lock(&peer->lock);
    peer->active += count;
    if (peer->active > peer->max_active)
        peer->max_active = peer->active;
    pthread_mutex_unlock(&peer->lock);
    bool stopping = s_peer_stopping_sleep(peer, ms);
    pthread_mutex_lock(&peer->lock);
    peer->active -= count;
    pthread_mutex_unlock(&peer->lock);
    if (!stopping)
        s_http_reply(fd, "200 OK", "", "slow");
}

static void s_http_serve(s_peer_t *peer, int fd)
{
    char request[8192];
    s_read_request(fd, request, sizeof request);
    pthread_mutex_lock(&peer->lock);
    peer->requests++;
    pthread_mutex_unlock(&peer->lock);
    char path[64] = "";
    if (sscanf(request, "POST %63s", path) != 1)
        s_http_reply(fd, "400 Bad Request", "", "");
    else if (streq(path, "/ok")) {
        pthread_mutex_lock(&peer->lock);
        snprintf(peer->request, sizeof peer->request, "%s", request);
        pthread_mutex_unlock(&peer->lock);
        s_http_reply(fd, "200 OK", "", "accepted");
    } else if (streq(path, "/fail"))
        s_http_reply(fd, "500 Internal Server Error", "", "broken");
    else if (streq(path, "/redirect"))
        s_http_reply(fd, "302 Found", "Location: /ok\r\n", "");
    else if (streq(path, "/gone"))
        s_http_reply(fd, "410 Gone", "", "");
    else if (streq(path, "/busy"))
        s_http_reply(fd, "429 Too Many Requests", "Retry-After: 2\r\n", "later");
    else if (streq(path, "/big")) {
        char body[10001];
        memset(body, 'x', 10000);
        body[10000] = 0;
        s_http_reply(fd, "200 OK", "", body);
    } else if (streq(path, "/slow"))
        s_http_slow(peer, fd, 600, true);
    else if (streq(path, "/hang"))
        s_http_slow(peer, fd, 3000, false);
    else
        s_http_reply(fd, "404 Not Found", "", "");
}

//  One CRLF line of an SMTP dialogue into line (without CRLF); false at
//  the end of the connection.
static bool s_read_line(int fd, char *line, size_t size)
{
    size_t have = 0;
    char c;
    while (recv(fd, &c, 1, 0) == 1) {
        if (c == '\n') {
            if (have && line[have - 1] == '\r')
                have--;
            line[have] = 0;
            return true;
        }
        if (have < size - 1)
            line[have++] = c;
    }
    return false;
}

//  DATA until the lone dot, into the peer's mail.
static void s_smtp_data(s_peer_t *peer, int fd)
{
    char line[1024], mail[8192] = "";
    size_t have = 0;
    while (s_read_line(fd, line, sizeof line) && !streq(line, "."))
        have += (size_t)snprintf(mail + have, have < sizeof mail ? sizeof mail - have : 0, "%s\r\n",
                                 line);
    pthread_mutex_lock(&peer->lock);
    snprintf(peer->mail, sizeof peer->mail, "%s", mail);
    bool temporary = strstr(peer->rcpt, "temp") != NULL;
    pthread_mutex_unlock(&peer->lock);
    s_send_text(fd, temporary ? "451 try again later\r\n" : "250 queued\r\n");
}

//  A canned SMTP server: RCPT "perm…" is refused for good (550), a mail
//  to "temp…" for now (451, after DATA).
static void s_smtp_serve(s_peer_t *peer, int fd)
{
    char line[1024];
    s_send_text(fd, "220 test ESMTP\r\n");
    while (s_read_line(fd, line, sizeof line)) {
        if (strncasecmp(line, "EHLO", 4) == 0)
            s_send_text(fd, "250-test\r\n250 AUTH PLAIN\r\n");
        else if (strncasecmp(line, "AUTH PLAIN", 10) == 0) {
            if (streq(line, "AUTH PLAIN")) {
                s_send_text(fd, "334 \r\n");
                s_read_line(fd, line, sizeof line);
            }
            pthread_mutex_lock(&peer->lock);
            snprintf(peer->auth, sizeof peer->auth, "%s", line);
            pthread_mutex_unlock(&peer->lock);
            s_send_text(fd, "235 ok\r\n");
        } else if (strncasecmp(line, "MAIL FROM:", 10) == 0)
            s_send_text(fd, "250 ok\r\n");
        else if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            pthread_mutex_lock(&peer->lock);
            snprintf(peer->rcpt, sizeof peer->rcpt, "%s", line);
            pthread_mutex_unlock(&peer->lock);
            s_send_text(fd, strstr(line, "perm") ? "550 no such user\r\n" : "250 ok\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            s_send_text(fd, "354 go ahead\r\n");
            s_smtp_data(peer, fd);
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            s_send_text(fd, "221 bye\r\n");
            return;
        } else
            s_send_text(fd, "250 ok\r\n"); //  RSET, NOOP
    }
}

//  The next result, within 10 s.
static void s_wait_result(rp_outbound_t *outbound, rp_outbound_result_t *result)
{
    zpoller_t *poller = zpoller_new(rp_outbound_sock(outbound), NULL);
    void *which = zpoller_wait(poller, 10000);
    zpoller_destroy(&poller);
    assert(which);
    int rc = rp_outbound_recv(outbound, result);
    assert(rc == 0);
}

static void s_post(rp_outbound_t *outbound, const char *id, int port, const char *path,
                   int64_t timeout_ms)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    const char *headers[] = {"Content-Type: application/json", "webhook-id: msg_1",
                             "webhook-timestamp: 1614265330", "webhook-signature: v1,abc"};
    const char body[] = "{\"type\":\"test\"}";
    rp_outbound_post_t job = {id, url, headers, 4, body, strlen(body), timeout_ms};
    const char *error = NULL;
    int rc = rp_outbound_post(outbound, &job, &error);
    assert(rc == 0);
}

//  One POST and its result.
static void s_post_one(rp_outbound_t *outbound, int port, const char *path, int64_t timeout_ms,
                       rp_outbound_result_t *result)
{
    s_post(outbound, path, port, path, timeout_ms);
    s_wait_result(outbound, result);
    assert(streq(result->id, path));
}

static rp_outbound_t *s_engine(const char *allow_text, size_t total, size_t per_host, size_t queue)
{
    rp_netguard_allow_t allow;
    const char *why = rp_netguard_allow_parse(allow_text, &allow, NULL);
    assert(!why);
    rp_outbound_config_t config = {&allow, total, per_host, queue, 5000};
    rp_outbound_t *outbound = rp_outbound_new(&config);
    assert(outbound);
    return outbound;
}

static void s_test_rules(s_peer_t *http)
{
    rp_outbound_t *outbound = s_engine("127.0.0.1", 4, 4, 8);
    rp_outbound_result_t result;

    s_post_one(outbound, http->port, "/ok", 0, &result);
    assert(result.ok && result.status == 200 && streq(result.error, ""));
    assert(streq(result.excerpt, "accepted") && result.excerpt_size == 8);
    assert(result.retry_after == -1 && result.latency_ms >= 0 && result.latency_ms < 5000);
    pthread_mutex_lock(&http->lock);
    assert(strstr(http->request, "\r\nwebhook-id: msg_1\r\n"));
    assert(strstr(http->request, "\r\nwebhook-signature: v1,abc\r\n"));
    assert(strstr(http->request, "\r\nContent-Type: application/json\r\n"));
    assert(strstr(http->request, "\r\n\r\n{\"type\":\"test\"}"));
    pthread_mutex_unlock(&http->lock);

    s_post_one(outbound, http->port, "/fail", 0, &result);
    assert(!result.ok && result.status == 500 && streq(result.error, "http_500"));
    assert(streq(result.excerpt, "broken"));
    s_post_one(outbound, http->port, "/redirect", 0, &result);
    assert(!result.ok && result.status == 302 && streq(result.error, "http_302"));
    s_post_one(outbound, http->port, "/gone", 0, &result);
    assert(!result.ok && result.status == 410 && streq(result.error, "http_410"));
    s_post_one(outbound, http->port, "/busy", 0, &result);
    assert(!result.ok && result.status == 429 && result.retry_after == 2);
    assert(!result.permanent);
    s_post_one(outbound, http->port, "/big", 0, &result);
    assert(result.ok && result.excerpt_size == RP_OUTBOUND_EXCERPT);
    assert(strlen(result.excerpt) == RP_OUTBOUND_EXCERPT);

    int64_t start = zclock_mono();
    s_post_one(outbound, http->port, "/hang", 300, &result);
    assert(!result.ok && streq(result.error, "timeout"));
    assert(zclock_mono() - start < 2000);

    //  nothing listens on a port just closed
    int port;
    int fd = s_listen(&port);
    close(fd);
    s_post_one(outbound, port, "/ok", 0, &result);
    assert(!result.ok && streq(result.error, "connect") && result.status == 0);

    const char *error = NULL;
    const char *bad[] = {"X-Evil: a\r\nInjected: b"};
    rp_outbound_post_t job = {"bad", "http://127.0.0.1/", bad, 1, "", 0, 0};
    assert(rp_outbound_post(outbound, &job, &error) == -1 && streq(error, "bad_job"));
    job = (rp_outbound_post_t){"nourl", "ftp://127.0.0.1/", NULL, 0, "", 0, 0};
    assert(rp_outbound_post(outbound, &job, &error) == 0);
    s_wait_result(outbound, &result);
    assert(streq(result.id, "nourl") && streq(result.error, "bad_scheme"));
    assert(rp_outbound_pending(outbound) == 0);
    rp_outbound_destroy(&outbound);
}

//  n /slow POSTs at once; how many the peer answered together.
static int s_slow_burst(rp_outbound_t *outbound, s_peer_t *http, int n, int64_t *elapsed)
{
    pthread_mutex_lock(&http->lock);
    http->max_active = 0;
    pthread_mutex_unlock(&http->lock);
    int64_t start = zclock_mono();
    for (int i = 0; i < n; i++)
        s_post(outbound, "slow", http->port, "/slow", 0);
    for (int i = 0; i < n; i++) {
        rp_outbound_result_t result;
        s_wait_result(outbound, &result);
        assert(result.ok && streq(result.excerpt, "slow") && result.latency_ms >= 550);
    }
    *elapsed = zclock_mono() - start;
    pthread_mutex_lock(&http->lock);
    int most = http->max_active;
    pthread_mutex_unlock(&http->lock);
    return most;
}

static void s_test_bounds(s_peer_t *http)
{
    //  in all: 3 with room for 2 — two at once, the third after
    rp_outbound_t *outbound = s_engine("127.0.0.1", 2, 4, 8);
    int64_t elapsed;
    assert(s_slow_burst(outbound, http, 3, &elapsed) == 2);
    assert(elapsed >= 1200);
    rp_outbound_destroy(&outbound);

    //  per host: one at a time to the same host:port
    outbound = s_engine("127.0.0.1", 4, 1, 8);
    assert(s_slow_burst(outbound, http, 2, &elapsed) == 1);
    assert(elapsed >= 1200);
    rp_outbound_destroy(&outbound);

    //  a job to another host does not wait behind the busy one's queue
    outbound = s_engine("127.0.0.1,::1", 4, 1, 8);
    s_post(outbound, "slow", http->port, "/slow", 0);
    s_post(outbound, "slow", http->port, "/slow", 0);
    char url[64];
    snprintf(url, sizeof url, "http://localhost:%d/ok", http->port);
    rp_outbound_post_t other = {.id = "other", .url = url};
    assert(rp_outbound_post(outbound, &other, NULL) == 0);
    rp_outbound_result_t first;
    s_wait_result(outbound, &first);
    assert(streq(first.id, "other") && first.ok);
    for (int i = 0; i < 2; i++)
        s_wait_result(outbound, &first);
    rp_outbound_destroy(&outbound);

    //  a full queue refuses: 1 in flight, 1 waiting, the third turned away
    outbound = s_engine("127.0.0.1", 1, 1, 1);
    s_post(outbound, "slow", http->port, "/slow", 0);
    s_post(outbound, "slow", http->port, "/slow", 0);
    rp_outbound_post_t job = {"third", "http://127.0.0.1/", NULL, 0, "", 0, 0};
    const char *error = NULL;
    assert(rp_outbound_post(outbound, &job, &error) == -1 && streq(error, "queue_full"));
    assert(rp_outbound_pending(outbound) == 2);
    rp_outbound_result_t result;
    s_wait_result(outbound, &result);
    assert(rp_outbound_post(outbound, &job, &error) == 0); //  room again
    s_wait_result(outbound, &result);
    s_wait_result(outbound, &result);
    assert(rp_outbound_pending(outbound) == 0);
    rp_outbound_destroy(&outbound);
}

static void s_test_guard(s_peer_t *http)
{
    pthread_mutex_lock(&http->lock);
    int before = http->requests;
    pthread_mutex_unlock(&http->lock);
    rp_outbound_t *outbound = s_engine(NULL, 4, 4, 8);
    rp_outbound_result_t result;
    s_post_one(outbound, http->port, "/ok", 0, &result);
    assert(!result.ok && streq(result.error, "refused_address") && result.status == 0);
    rp_outbound_destroy(&outbound);
    pthread_mutex_lock(&http->lock);
    assert(http->requests == before); //  not even connected
    pthread_mutex_unlock(&http->lock);

    //  "localhost" resolves to loopback: refused by what it resolves to
    outbound = s_engine("127.0.0.1,::1", 4, 4, 8);
    char url[128];
    snprintf(url, sizeof url, "http://localhost:%d/ok", http->port);
    rp_outbound_post_t job = {"name", url, NULL, 0, "{}", 2, 0};
    assert(rp_outbound_post(outbound, &job, NULL) == 0);
    s_wait_result(outbound, &result);
    assert(result.ok && result.status == 200);
    rp_outbound_destroy(&outbound);
}

//  Destroy with a result unread, a transfer in flight and others queued:
//  all cancelled or dropped, nothing leaks.
static void s_test_cancel(s_peer_t *http)
{
    rp_outbound_t *outbound = s_engine("127.0.0.1", 1, 1, 8);
    s_post(outbound, "unread", http->port, "/ok", 0); //  its result is left on the pipe
    for (int i = 0; i < 3; i++)
        s_post(outbound, "hang", http->port, "/hang", 0);
    zclock_sleep(100);
    int64_t start = zclock_mono();
    rp_outbound_destroy(&outbound);
    assert(!outbound && zclock_mono() - start < 1000);
}

static void s_mail(rp_outbound_t *outbound, s_peer_t *smtp, const char *to, rp_outbound_tls_t tls,
                   rp_outbound_result_t *result)
{
    char url[64];
    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", smtp->port);
    rp_mime_t mime = {.from = "Rapport <noreply@rapport.example>",
                      .to = to,
                      .subject = "提醒：跟进客户",
                      .body = "你好\n明天见",
                      .id = "n1",
                      .domain = "rapport.example",
                      .date = 1764720000};
    char *text = rp_mime_message(&mime, NULL);
    assert(text);
    const char *rcpt[] = {to};
    rp_outbound_mail_t job = {.id = to,
                              .url = url,
                              .tls = tls,
                              .user = "rapport",
                              .password = "s3cret",
                              .from = "noreply@rapport.example",
                              .to = rcpt,
                              .to_count = 1,
                              .text = text};
    int rc = rp_outbound_mail(outbound, &job, NULL);
    assert(rc == 0);
    s_wait_result(outbound, result);
    assert(streq(result->id, to));
    pthread_mutex_lock(&smtp->lock);
    assert(!result->ok || streq(smtp->mail, text)); //  the text as it was given
    pthread_mutex_unlock(&smtp->lock);
    free(text);
}

static void s_test_smtp(void)
{
    s_peer_t *smtp = s_peer_new(s_smtp_serve);
    rp_outbound_t *outbound = s_engine(NULL, 4, 4, 8); //  SMTP is not the guard's
    rp_outbound_result_t result;

    s_mail(outbound, smtp, "ann@example.com", RP_OUTBOUND_TLS_NONE, &result);
    assert(result.ok && result.status == 250 && streq(result.error, "") && !result.permanent);
    pthread_mutex_lock(&smtp->lock);
    assert(streq(smtp->rcpt, "RCPT TO:<ann@example.com>"));
    //  AUTH PLAIN of "\0rapport\0s3cret"
    assert(strstr(smtp->auth, "AHJhcHBvcnQAczNjcmV0"));
    assert(strstr(smtp->mail, "Message-ID: <n1@rapport.example>\r\n"));
    assert(strstr(smtp->mail, "Subject: =?UTF-8?B?"));
    pthread_mutex_unlock(&smtp->lock);

    s_mail(outbound, smtp, "temp@example.com", RP_OUTBOUND_TLS_NONE, &result);
    assert(!result.ok && result.status == 451 && streq(result.error, "smtp_451"));
    assert(!result.permanent);
    s_mail(outbound, smtp, "perm@example.com", RP_OUTBOUND_TLS_NONE, &result);
    assert(!result.ok && result.status == 550 && streq(result.error, "smtp_550"));
    assert(result.permanent);

    //  STARTTLS required from a server that does not offer it: nothing is
    //  sent in the clear; offered when possible: sent
    pthread_mutex_lock(&smtp->lock);
    *smtp->mail = 0;
    pthread_mutex_unlock(&smtp->lock);
    s_mail(outbound, smtp, "ann@example.com", RP_OUTBOUND_TLS_STARTTLS, &result);
    assert(!result.ok && streq(result.error, "tls") && !result.permanent);
    pthread_mutex_lock(&smtp->lock);
    assert(*smtp->mail == 0);
    pthread_mutex_unlock(&smtp->lock);
    s_mail(outbound, smtp, "ann@example.com", RP_OUTBOUND_TLS_TRY, &result);
    assert(result.ok && result.status == 250);

    //  TLS spoken to a server that answers in the clear: the handshake fails
    char url[64];
    snprintf(url, sizeof url, "smtps://127.0.0.1:%d", smtp->port);
    const char *rcpt[] = {"ann@example.com"};
    rp_outbound_mail_t mail = {.id = "smtps",
                               .url = url,
                               .from = "a@rapport.example",
                               .to = rcpt,
                               .to_count = 1,
                               .text = "Subject: x\r\n\r\nx\r\n"};
    assert(rp_outbound_mail(outbound, &mail, NULL) == 0);
    s_wait_result(outbound, &result);
    assert(streq(result.id, "smtps") && !result.ok && streq(result.error, "tls"));
    rp_netguard_allow_t loopback;
    assert(!rp_netguard_allow_parse("127.0.0.1", &loopback, NULL));
    rp_outbound_config_t config = {.allow = &loopback};
    rp_outbound_t *allowing = rp_outbound_new(&config);
    snprintf(url, sizeof url, "https://127.0.0.1:%d/", smtp->port);
    rp_outbound_post_t post = {.id = "https", .url = url};
    assert(rp_outbound_post(allowing, &post, NULL) == 0);
    s_wait_result(allowing, &result);
    assert(streq(result.id, "https") && !result.ok && streq(result.error, "tls"));
    rp_outbound_destroy(&allowing);

    rp_outbound_destroy(&outbound);
    s_peer_destroy(&smtp);
}

void rp_outbound_test(void)
{
    s_peer_t *http = s_peer_new(s_http_serve);
    s_test_rules(http);
    s_test_bounds(http);
    s_test_guard(http);
    s_test_cancel(http);
    s_peer_destroy(&http);
    s_test_smtp();
}
