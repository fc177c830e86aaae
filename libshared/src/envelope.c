/*  envelope.c — request, reply and event envelopes (DESIGN.md §3).  */
#include <rapport/envelope.h>

#include <assert.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

//  Read an optional bounded string field. Returns NULL if fine (absent or a
//  str of 1..max bytes), else the message to report.
static const char *s_opt_str(const msgpack_object *map, const char *key, size_t max,
                             const char **str, size_t *len, const char *message)
{
    const msgpack_object *o = rp_obj_get(map, key);
    *str = NULL, *len = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return NULL;
    if (!rp_obj_str(o, str, len) || *len == 0 || *len > max)
        return message;
    return NULL;
}

static bool is_scalar(const msgpack_object *o)
{
    return o->type != MSGPACK_OBJECT_MAP && o->type != MSGPACK_OBJECT_ARRAY;
}

const char *rp_request_parse(const msgpack_object *root, rp_request_t *req)
{
    memset(req, 0, sizeof *req);
    if (!rp_obj_is_map(root))
        return "request body is not a map";
    req->id = rp_obj_get(root, "id");
    if (req->id && !is_scalar(req->id))
        return "id must be a scalar";
    const char *err = s_opt_str(root, "op", RP_MAX_OP, &req->op, &req->op_len,
                                "op must be a string of 1..64 bytes");
    if (err)
        return err;
    if (!req->op)
        return "op is required";
    err = s_opt_str(root, "idem", RP_MAX_IDEM, &req->idem, &req->idem_len,
                    "idem must be a string of 1..200 bytes");
    if (err)
        return err;
    const msgpack_object *o = rp_obj_get(root, "min_seq");
    if (o && o->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(o, &req->min_seq))
        return "min_seq must be a non-negative integer";
    req->actor = rp_obj_get(root, "actor");
    if (req->actor && req->actor->type == MSGPACK_OBJECT_NIL)
        req->actor = NULL;
    if (req->actor && !rp_obj_is_map(req->actor))
        return "actor must be a map";
    req->args = rp_obj_get(root, "args");
    if (req->args && req->args->type == MSGPACK_OBJECT_NIL)
        req->args = NULL;
    if (req->args && !rp_obj_is_map(req->args))
        return "args must be a map";
    return NULL;
}

void rp_actor_parse(const rp_request_t *req, rp_actor_t *actor)
{
    memset(actor, 0, sizeof *actor);
    const char *user, *team = NULL, *role = NULL;
    size_t user_len, team_len = 0, role_len = 0;
    if (!rp_obj_str(rp_obj_get(req->actor, "user"), &user, &user_len) || user_len == 0 ||
        user_len > RP_MAX_ACTOR)
        return;
    if (!rp_obj_str(rp_obj_get(req->actor, "team"), &team, &team_len))
        team = NULL, team_len = 0; //  none (nil or not a string)
    else if (team_len > RP_MAX_ACTOR)
        return;
    if (!rp_obj_str(rp_obj_get(req->actor, "role"), &role, &role_len))
        role = NULL, role_len = 0;
    *actor = (rp_actor_t){user, user_len, team, team_len, role, role_len};
}

bool rp_request_is(const rp_request_t *req, const char *op)
{
    size_t len = strlen(op);
    return req->op && req->op_len == len && memcmp(req->op, op, len) == 0;
}

const char *rp_reply_parse(const msgpack_object *root, rp_reply_t *reply)
{
    memset(reply, 0, sizeof *reply);
    if (!rp_obj_is_map(root))
        return "reply body is not a map";
    reply->id = rp_obj_get(root, "id");
    int64_t status;
    if (!rp_obj_i64(rp_obj_get(root, "status"), &status) || status < 100 || status > 599)
        return "reply status must be an HTTP code";
    reply->status = (int)status;
    const msgpack_object *o = rp_obj_get(root, "seq");
    if (o && o->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(o, &reply->seq))
        return "seq must be a non-negative integer";
    reply->data = rp_obj_get(root, "data");
    const msgpack_object *error = rp_obj_get(root, "error");
    if (error && error->type != MSGPACK_OBJECT_NIL) {
        if (!rp_obj_is_map(error))
            return "error must be a map";
        if (!rp_obj_str(rp_obj_get(error, "code"), &reply->error_code, &reply->error_code_len))
            return "error.code must be a string";
        rp_obj_str(rp_obj_get(error, "message"), &reply->error_message, &reply->error_message_len);
    }
    o = rp_obj_get(root, "cursor");
    if (o && o->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(o, &reply->cursor))
        return "cursor must be a non-negative integer";
    return s_opt_str(root, "instance", RP_MAX_INSTANCE, &reply->instance, &reply->instance_len,
                     "instance must be a string of 1..96 bytes");
}

void rp_request_pack(msgpack_packer *pk, uint64_t id, const char *op, uint64_t min_seq,
                     const char *idem, size_t extra)
{
    msgpack_pack_map(pk, 2 + (min_seq > 0) + (idem != NULL) + extra);
    rp_pack_kv_u64(pk, "id", id);
    rp_pack_kv_cstr(pk, "op", op);
    if (min_seq > 0)
        rp_pack_kv_u64(pk, "min_seq", min_seq);
    if (idem)
        rp_pack_kv_cstr(pk, "idem", idem);
}

void rp_reply_pack(msgpack_packer *pk, const msgpack_object *id, int status, uint64_t seq,
                   size_t extra)
{
    msgpack_pack_map(pk, 2 + (seq > 0) + extra);
    rp_pack_kv_obj(pk, "id", id);
    rp_pack_kv_i64(pk, "status", status);
    if (seq > 0)
        rp_pack_kv_u64(pk, "seq", seq);
}

int rp_reply_stamp(rp_packer_t *out, const void *body, size_t size, uint64_t cursor,
                   const char *instance)
{
    //  Rewrite the map header only: the pairs are copied as they are.
    const uint8_t *bytes = (const uint8_t *)body;
    uint64_t pairs = 0;
    size_t header = 0;
    if (size >= 1 && (bytes[0] & 0xf0) == 0x80)
        pairs = bytes[0] & 0x0f, header = 1;
    else if (size >= 3 && bytes[0] == 0xde)
        pairs = (uint64_t)bytes[1] << 8 | bytes[2], header = 3;
    else if (size >= 5 && bytes[0] == 0xdf)
        pairs = (uint64_t)bytes[1] << 24 | (uint64_t)bytes[2] << 16 | (uint64_t)bytes[3] << 8 |
                bytes[4],
        header = 5;
    if (!header || pairs + 2 > UINT32_MAX)
        return -1;
    msgpack_pack_map(&out->pk, (size_t)pairs + 2);
    msgpack_sbuffer_write(&out->buffer, (const char *)bytes + header, size - header);
    rp_pack_kv_u64(&out->pk, "cursor", cursor);
    rp_pack_kv_cstr(&out->pk, "instance", instance);
    return 0;
}

static void s_pack_error(msgpack_packer *pk, const msgpack_object *id, int status, const char *code,
                         const char *message, bool details)
{
    rp_reply_pack(pk, id, status, 0, 1);
    rp_pack_cstr(pk, "error");
    rp_error_pack(pk, code, message, details);
}

void rp_error_pack(msgpack_packer *pk, const char *code, const char *message, bool details)
{
    msgpack_pack_map(pk, details ? 3 : 2);
    rp_pack_kv_cstr(pk, "code", code);
    rp_pack_kv_cstr(pk, "message", message);
    if (details)
        rp_pack_cstr(pk, "details");
}

void rp_reply_pack_error(msgpack_packer *pk, const msgpack_object *id, int status, const char *code,
                         const char *message)
{
    s_pack_error(pk, id, status, code, message, false);
}

void rp_reply_pack_error_details(msgpack_packer *pk, const msgpack_object *id, int status,
                                 const char *code, const char *message)
{
    s_pack_error(pk, id, status, code, message, true);
}

//  Event types are lower-case dotted names: customer.created, order.placed.
bool rp_event_type_valid(const char *type, size_t len)
{
    if (len == 0 || len > RP_MAX_TYPE)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
            return false;
    }
    return true;
}

const char *rp_event_parse(const msgpack_object *root, rp_event_t *event)
{
    memset(event, 0, sizeof *event);
    if (!rp_obj_is_map(root))
        return "event is not a map";
    if (!rp_obj_str(rp_obj_get(root, "type"), &event->type, &event->type_len) ||
        !rp_event_type_valid(event->type, event->type_len))
        return "event type must be 1..128 characters of [a-z0-9_.-]";
    const char *err = s_opt_str(root, "id", RP_MAX_EVENTID, &event->id, &event->id_len,
                                "event id must be a string of 1..200 bytes");
    if (!err && !event->id)
        err = "event id is required";
    if (!err)
        err = s_opt_str(root, "source", RP_MAX_SOURCE, &event->source, &event->source_len,
                        "event source must be a string of 1..256 bytes");
    if (!err && !event->source)
        err = "event source is required";
    if (!err)
        err = s_opt_str(root, "specversion", 8, &event->specversion, &event->specversion_len,
                        "specversion must be \"1.0\"");
    if (!err && event->specversion &&
        !(event->specversion_len == 3 && memcmp(event->specversion, "1.0", 3) == 0))
        err = "specversion must be \"1.0\"";
    if (!err)
        err = s_opt_str(root, "time", RP_MAX_TIME, &event->time, &event->time_len,
                        "event time must be an RFC 3339 string");
    if (!err)
        err = s_opt_str(root, "subject", RP_MAX_SUBJECT, &event->subject, &event->subject_len,
                        "event subject must be a string of 1..256 bytes");
    if (err)
        return err;
    const msgpack_object *seq = rp_obj_get(root, "seq");
    if (seq && seq->type != MSGPACK_OBJECT_NIL && !rp_obj_u64(seq, &event->seq))
        return "event seq must be a non-negative integer";
    event->actor = rp_obj_get(root, "actor");
    event->data = rp_obj_get(root, "data");
    if (!event->data)
        return "event data is required";
    return NULL;
}

bool rp_event_is(const rp_event_t *event, const char *type)
{
    size_t len = strlen(type);
    return event->type_len == len && memcmp(event->type, type, len) == 0;
}

bool rp_event_has_prefix(const rp_event_t *event, const char *prefix)
{
    size_t len = strlen(prefix);
    return event->type_len >= len && memcmp(event->type, prefix, len) == 0;
}

void rp_time_now(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    rp_time_format((int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000, out);
}

//  n decimal digits at text[at] (within len); -1 if any is not one.
static int64_t s_digits(const char *text, size_t len, size_t at, size_t n)
{
    if (at + n > len)
        return -1;
    int64_t value = 0;
    for (size_t i = at; i < at + n; i++) {
        if (text[i] < '0' || text[i] > '9')
            return -1;
        value = value * 10 + (text[i] - '0');
    }
    return value;
}

//  Days since 1970-01-01 of a date of the proleptic Gregorian calendar, and
//  back (H. Hinnant's algorithms: eras of 400 years, years from March).
static int64_t s_days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool s_char_in(const char *text, size_t len, size_t at, const char *chars)
{
    return at < len && text[at] && strchr(chars, text[at]) != NULL;
}

//  The zone at text[at..len): "Z" or "±HH:MM", as minutes east of UTC.
static bool s_zone(const char *text, size_t len, size_t at, int64_t *minutes)
{
    if (s_char_in(text, len, at, "Zz") && at + 1 == len) {
        *minutes = 0;
        return true;
    }
    if (!s_char_in(text, len, at, "+-") || at + 6 != len || text[at + 3] != ':')
        return false;
    int64_t oh = s_digits(text, len, at + 1, 2), om = s_digits(text, len, at + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59)
        return false;
    *minutes = (oh * 60 + om) * (text[at] == '-' ? -1 : 1);
    return true;
}

//  A real day round-trips through day numbers.
bool rp_date_valid(int64_t year, int64_t month, int64_t day)
{
    if (month < 1 || month > 12 || day < 1 || day > 31)
        return false;
    int64_t y, m, d;
    s_civil_from_days(s_days_from_civil(year, month, day), &y, &m, &d);
    return y == year && m == month && d == day;
}

bool rp_time_parse(const char *text, size_t len, int64_t *unix_ms)
{
    if (len < 20 || len > RP_MAX_TIME)
        return false;
    int64_t y = s_digits(text, len, 0, 4), mo = s_digits(text, len, 5, 2),
            d = s_digits(text, len, 8, 2), h = s_digits(text, len, 11, 2),
            mi = s_digits(text, len, 14, 2), s = s_digits(text, len, 17, 2);
    if (y < 0 || !rp_date_valid(y, mo, d) || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 ||
        s > 59 || text[4] != '-' || text[7] != '-' || !s_char_in(text, len, 10, "Tt ") ||
        text[13] != ':' || text[16] != ':')
        return false;
    int64_t days = s_days_from_civil(y, mo, d);
    size_t at = 19;
    int64_t ms = 0;
    if (at < len && text[at] == '.') {
        size_t digits = 0;
        for (at++; at < len && text[at] >= '0' && text[at] <= '9'; at++, digits++)
            if (digits < 3)
                ms = ms * 10 + (text[at] - '0');
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            ms *= 10; //  ".5" is 500 ms; digits past the third are dropped
    }
    int64_t offset;
    if (!s_zone(text, len, at, &offset))
        return false;
    *unix_ms = ((days * 1440 + h * 60 + mi - offset) * 60 + s) * 1000 + ms;
    return true;
}

void rp_time_format(int64_t unix_ms, char out[32])
{
    int64_t day = unix_ms >= 0 ? unix_ms / 86400000 : -((-unix_ms + 86399999) / 86400000);
    int64_t rest = unix_ms - day * 86400000, y, m, d;
    s_civil_from_days(day, &y, &m, &d);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int)y, (int)m, (int)d,
             (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60),
             (int)(rest % 1000));
}

//  ---------------------------------------------------------------------
//  Self-test

//  Times read as the milliseconds `date -u -d … +%s%3N` gives, and
//  refusals; what is read writes back in UTC.
static void s_test_time(void)
{
    struct {
        const char *text;
        bool ok;
        int64_t unix_ms;
        const char *utc; //  rp_time_format's
    } cases[] = {
        {"1970-01-01T00:00:00Z", true, 0, "1970-01-01T00:00:00.000Z"},
        {"2026-11-23T07:40:00.123Z", true, 1795419600123, "2026-11-23T07:40:00.123Z"},
        {"2026-11-23T15:40:00+08:00", true, 1795419600000, "2026-11-23T07:40:00.000Z"},
        {"2026-11-22t23:40:00.5-08:00", true, 1795419600500, "2026-11-23T07:40:00.500Z"},
        {"2026-11-23 07:40:00.123456z", true, 1795419600123, "2026-11-23T07:40:00.123Z"},
        {"2000-02-29T12:00:00Z", true, 951825600000, "2000-02-29T12:00:00.000Z"},
        {"1969-12-31T23:59:59.999Z", true, -1, "1969-12-31T23:59:59.999Z"},
        {"1000-01-01T00:00:00Z", true, -30610224000000, "1000-01-01T00:00:00.000Z"},
        {"9999-12-31T23:59:59Z", true, 253402300799000, "9999-12-31T23:59:59.000Z"},
        {"2026-11-23T07:40:00", false, 0, NULL},      //  no zone
        {"2026-11-23_07:40:00Z", false, 0, NULL},     //  no T
        {"2026-02-29T00:00:00Z", false, 0, NULL},     //  not a leap year
        {"2100-02-29T00:00:00Z", false, 0, NULL},     //  nor this one
        {"2026-04-31T00:00:00Z", false, 0, NULL},     //  no such day
        {"2026-13-01T00:00:00Z", false, 0, NULL},     //  no such month
        {"2026-11-23T24:00:00Z", false, 0, NULL},     //  no such hour
        {"2026-11-23T08:05:60Z", false, 0, NULL},     //  no leap seconds
        {"2026-11-23T07:40:00.Z", false, 0, NULL},    //  empty fraction
        {"2026-11-23T07:40:00+0800", false, 0, NULL}, //  offset without colon
        {"2026-11-23T07:40:00+24:00", false, 0, NULL},
        {"2026-11-23T07:40:00Zjunk", false, 0, NULL},
        {"\xef\xbc\x92"
         "026-11-23T08:05:00Z",
         false, 0, NULL}, //  a full-width 2
        {"", false, 0, NULL},
    };
    assert(rp_date_valid(2024, 2, 29) && rp_date_valid(2000, 2, 29));
    assert(!rp_date_valid(2026, 2, 29) && !rp_date_valid(1900, 2, 29));
    assert(rp_date_valid(2026, 12, 31) && !rp_date_valid(2026, 4, 31));
    assert(!rp_date_valid(2026, 13, 1) && !rp_date_valid(2026, 0, 1));
    assert(!rp_date_valid(2026, 1, 0) && !rp_date_valid(2026, 1, -1));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t t = 12345;
        assert(rp_time_parse(cases[i].text, strlen(cases[i].text), &t) == cases[i].ok);
        if (!cases[i].ok)
            continue;
        assert(t == cases[i].unix_ms);
        char utc[32];
        rp_time_format(t, utc);
        assert(strcmp(utc, cases[i].utc) == 0);
    }
}

//  Finish a request packed up to its args with "args": {}, and parse it
//  into req (which points into the doc returned).
static rp_doc_t *s_test_request(rp_packer_t *packer, rp_request_t *req)
{
    rp_pack_cstr(&packer->pk, "args");
    msgpack_pack_map(&packer->pk, 0);
    rp_doc_t *doc = rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
    assert(doc);
    assert(rp_request_parse(rp_doc_root(doc), req) == NULL);
    return doc;
}

//  Parse a request whose actor is the given map (packed by the caller).
static void s_test_actor_of(const char *const *kv, size_t pairs, rp_actor_t *actor)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, 1, "op", 0, NULL, 2);
    rp_pack_cstr(&packer.pk, "actor");
    msgpack_pack_map(&packer.pk, pairs);
    for (size_t i = 0; i < pairs; i++) {
        rp_pack_cstr(&packer.pk, kv[2 * i]);
        if (kv[2 * i + 1])
            rp_pack_cstr(&packer.pk, kv[2 * i + 1]);
        else
            msgpack_pack_nil(&packer.pk);
    }
    rp_request_t req;
    rp_doc_t *doc = s_test_request(&packer, &req);
    rp_actor_parse(&req, actor);
    rp_doc_destroy(&doc); //  the strings are gone: only NULL-ness is read after
    rp_packer_destroy(&packer);
}

static void s_test_actor(void)
{
    rp_actor_t actor;
    const char *full[] = {"user", "u1", "role", "sales", "team", "east"};
    s_test_actor_of(full, 3, &actor);
    assert(actor.user && actor.user_len == 2 && actor.role_len == 5 && actor.team_len == 4);
    //  No team (nil) and no role: a user without either.
    const char *bare[] = {"user", "u1", "team", NULL};
    s_test_actor_of(bare, 2, &actor);
    assert(actor.user && !actor.team && !actor.role);
    //  No user, an empty one, or one or a team too long: no rights at all.
    char longest[RP_MAX_ACTOR + 2];
    memset(longest, 'x', sizeof longest - 1);
    longest[sizeof longest - 1] = 0;
    const char *none[] = {"role", "admin"};
    const char *empty[] = {"user", "", "role", "admin"};
    const char *long_user[] = {"user", longest, "role", "admin"};
    const char *long_team[] = {"user", "u1", "role", "admin", "team", longest};
    const char *const *refused[] = {none, empty, long_user, long_team};
    size_t pairs[] = {1, 2, 2, 3};
    for (size_t i = 0; i < 4; i++) {
        s_test_actor_of(refused[i], pairs[i], &actor);
        assert(!actor.user && !actor.role && !actor.team);
    }
    //  At the bound is fine.
    longest[RP_MAX_ACTOR] = 0;
    const char *at_bound[] = {"user", longest, "team", longest};
    s_test_actor_of(at_bound, 2, &actor);
    assert(actor.user && actor.team_len == RP_MAX_ACTOR);
}

void rp_envelope_test(void)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_request_pack(&packer.pk, 7, "journal.append", 12, "k-1", 1);
    rp_request_t req;
    rp_doc_t *doc = s_test_request(&packer, &req);
    assert(rp_request_is(&req, "journal.append"));
    assert(!rp_request_is(&req, "journal"));
    assert(req.min_seq == 12);
    assert(req.idem_len == 3 && memcmp(req.idem, "k-1", 3) == 0);
    assert(req.args && req.args->via.map.size == 0);
    rp_doc_destroy(&doc);

    //  A request without op, and one whose args is not a map.
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_kv_u64(&packer.pk, "id", 1);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(rp_request_parse(rp_doc_root(doc), &req) != NULL);
    rp_doc_destroy(&doc);
    rp_packer_reset(&packer);
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_kv_cstr(&packer.pk, "op", "x");
    rp_pack_kv_u64(&packer.pk, "args", 1);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(rp_request_parse(rp_doc_root(doc), &req) != NULL);
    rp_doc_destroy(&doc);

    //  Error replies round-trip.
    rp_packer_reset(&packer);
    rp_reply_pack_error(&packer.pk, NULL, 503, "no_worker", "no worker for service x");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rp_reply_t reply;
    assert(rp_reply_parse(rp_doc_root(doc), &reply) == NULL);
    assert(reply.status == 503 && reply.error_code_len == 9);
    assert(memcmp(reply.error_code, "no_worker", 9) == 0);
    assert(reply.cursor == 0 && reply.instance == NULL);
    assert(!rp_obj_get(rp_obj_get(rp_doc_root(doc), "error"), "details"));
    rp_doc_destroy(&doc);
    rp_packer_reset(&packer);
    rp_reply_pack_error_details(&packer.pk, NULL, 409, "duplicate", "taken");
    rp_pack_cstr(&packer.pk, "ids");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && rp_reply_parse(rp_doc_root(doc), &reply) == NULL && reply.status == 409);
    assert(rp_obj_streq(rp_obj_get(rp_obj_get(rp_doc_root(doc), "error"), "details"), "ids"));
    rp_doc_destroy(&doc);
    rp_packer_reset(&packer);
    rp_reply_pack_error(&packer.pk, NULL, 503, "no_worker", "no worker for service x");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);

    //  Stamped with cursor and instance: fixmap, map16 and map32 headers.
    rp_packer_t stamped;
    rp_packer_init(&stamped);
    assert(rp_reply_stamp(&stamped, packer.buffer.data, packer.buffer.size, 42, "host-7") == 0);
    rp_doc_destroy(&doc);
    doc = rp_doc_new(stamped.buffer.data, stamped.buffer.size, NULL);
    assert(doc && rp_reply_parse(rp_doc_root(doc), &reply) == NULL);
    assert(reply.status == 503 && reply.error_code_len == 9 && reply.cursor == 42);
    assert(reply.instance_len == 6 && memcmp(reply.instance, "host-7", 6) == 0);
    rp_doc_destroy(&doc);
    const uint32_t sizes[] = {14, 300, 70000};
    for (size_t round = 0; round < 3; round++) {
        uint32_t pairs = sizes[round];
        rp_packer_reset(&packer);
        rp_packer_reset(&stamped);
        rp_reply_pack(&packer.pk, NULL, 200, 9, pairs - 3);
        for (uint32_t i = 0; i < pairs - 3; i++) {
            char key[16];
            snprintf(key, sizeof key, "k%u", i);
            rp_pack_kv_u64(&packer.pk, key, i);
        }
        assert(rp_reply_stamp(&stamped, packer.buffer.data, packer.buffer.size, 7, "i") == 0);
        doc = rp_doc_new(stamped.buffer.data, stamped.buffer.size, NULL);
        assert(doc && rp_doc_root(doc)->via.map.size == pairs + 2);
        assert(rp_reply_parse(rp_doc_root(doc), &reply) == NULL);
        assert(reply.seq == 9 && reply.cursor == 7 && reply.instance_len == 1);
        rp_doc_destroy(&doc);
    }
    //  Not a map: refused; a malformed cursor or instance fails the parse.
    assert(rp_reply_stamp(&stamped, "\x01", 1, 1, "i") == -1);
    assert(rp_reply_stamp(&stamped, "", 0, 1, "i") == -1);
    rp_packer_reset(&packer);
    rp_reply_pack(&packer.pk, NULL, 200, 0, 1);
    rp_pack_kv_cstr(&packer.pk, "cursor", "x");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && rp_reply_parse(rp_doc_root(doc), &reply) != NULL);
    rp_doc_destroy(&doc);
    rp_packer_reset(&packer);
    rp_reply_pack(&packer.pk, NULL, 200, 0, 1);
    rp_pack_kv_cstr(&packer.pk, "instance", "");
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && rp_reply_parse(rp_doc_root(doc), &reply) != NULL);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&stamped);

    //  Events: valid, then a type with upper case, then missing data.
    const char *types[] = {"customer.created", "Customer.created", "customer.created"};
    for (int round = 0; round < 3; round++) {
        rp_packer_reset(&packer);
        msgpack_pack_map(&packer.pk, round == 2 ? 3 : 4);
        rp_pack_kv_cstr(&packer.pk, "type", types[round]);
        rp_pack_kv_cstr(&packer.pk, "id", "e-1");
        rp_pack_kv_cstr(&packer.pk, "source", "test");
        if (round != 2) {
            rp_pack_cstr(&packer.pk, "data");
            msgpack_pack_map(&packer.pk, 0);
        }
        doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
        rp_event_t event;
        const char *err = rp_event_parse(rp_doc_root(doc), &event);
        assert(round == 0 ? err == NULL : err != NULL);
        if (round == 0) {
            assert(rp_event_is(&event, "customer.created"));
            assert(!rp_event_is(&event, "customer.create"));
            assert(!rp_event_is(&event, "customer.created2"));
            assert(rp_event_has_prefix(&event, "customer."));
            assert(rp_event_has_prefix(&event, "customer.created"));
            assert(!rp_event_has_prefix(&event, "user."));
            assert(!rp_event_has_prefix(&event, "customer.created."));
        }
        rp_doc_destroy(&doc);
    }
    char now[32];
    rp_time_now(now);
    assert(strlen(now) == 24 && now[23] == 'Z');
    int64_t t;
    assert(rp_time_parse(now, strlen(now), &t) && t / 1000 + 5 >= (int64_t)time(NULL) &&
           t / 1000 <= (int64_t)time(NULL));
    s_test_time();
    s_test_actor();
    rp_packer_destroy(&packer);
}
