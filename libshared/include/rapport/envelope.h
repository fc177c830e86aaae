/*  envelope.h — the request, reply and event envelopes of DESIGN.md §3.

    Request  {id, op, actor:{user, role, team}?, min_seq?, idem?, args:{…}?}
    Reply    {id, status, seq?, data? | error:{code, message, details?},
              cursor?, instance?}
    Event    {specversion:"1.0", id, type, source, time, subject?, seq?,
              actor?, data}

    Parsing borrows pointers into a decoded rp_doc_t: strings are NOT
    NUL-terminated (use the _len fields). Parsing checks types and bounds;
    unknown keys are ignored.
*/
#ifndef RAPPORT_ENVELOPE_H
#define RAPPORT_ENVELOPE_H

#include <rapport/pack.h>

#define RP_MAX_OP       64
#define RP_MAX_IDEM     200
#define RP_MAX_TYPE     128
#define RP_MAX_EVENTID  200
#define RP_MAX_SOURCE   256
#define RP_MAX_TIME     64
#define RP_MAX_SUBJECT  256
#define RP_MAX_INSTANCE 96
#define RP_MAX_ACTOR    100 //  bytes of actor.user and actor.team

typedef struct {
    const msgpack_object *id; //  any scalar; echoed in the reply
    const char *op;
    size_t op_len;
    const msgpack_object *actor; //  map or NULL
    uint64_t min_seq;            //  0 when absent
    const char *idem;            //  NULL when absent
    size_t idem_len;
    const msgpack_object *args; //  map or NULL
} rp_request_t;

//  Parse a request body. Returns NULL on success, else a static message
//  (the reply should then be status 400, code "bad_request").
const char *rp_request_parse(const msgpack_object *root, rp_request_t *req);

//  Who sent a request: the envelope's actor {user, role, team}, as the
//  gateway vouches for it (borrowed strings).
typedef struct {
    const char *user; //  NULL when absent or not sane: no rights at all
    size_t user_len;
    const char *team; //  NULL when absent
    size_t team_len;
    const char *role; //  NULL when absent; each service maps the names it knows
    size_t role_len;
} rp_actor_t;

//  Read the request's actor. It has a user only if user is a string of
//  1..RP_MAX_ACTOR bytes and team, when a string, at most that.
void rp_actor_parse(const rp_request_t *req, rp_actor_t *actor);

//  True if the request's op equals the given C string.
bool rp_request_is(const rp_request_t *req, const char *op);

typedef struct {
    const msgpack_object *id;
    int status;
    uint64_t seq; //  0 when absent
    const msgpack_object *data;
    const char *error_code; //  NULL when no error
    size_t error_code_len;
    const char *error_message;
    size_t error_message_len;
    uint64_t cursor;      //  the answering instance's applied seq; 0 when absent
    const char *instance; //  which instance answered; NULL when absent
    size_t instance_len;
} rp_reply_t;

const char *rp_reply_parse(const msgpack_object *root, rp_reply_t *reply);

//  Pack a request header: opens a map with room for `extra` more pairs
//  after {id, op, [min_seq], [idem]}. Pass min_seq 0 and idem NULL to omit.
void rp_request_pack(msgpack_packer *pk, uint64_t id, const char *op, uint64_t min_seq,
                     const char *idem, size_t extra);

//  Pack a reply header {id, status, [seq]} and open room for `extra` more
//  pairs (normally 1: the "data" key). id may be NULL (packed as nil).
void rp_reply_pack(msgpack_packer *pk, const msgpack_object *id, int status, uint64_t seq,
                   size_t extra);

//  Copy a packed reply map into out with two more pairs, {cursor,
//  instance}: the service runtime stamps every reply this way, so a client
//  learns which instance answered and how far it had applied the journal
//  (the gateway's lag metrics). -1 (out unchanged) if body is not a map.
int rp_reply_stamp(rp_packer_t *out, const void *body, size_t size, uint64_t cursor,
                   const char *instance);

//  Pack a whole error reply {id, status, error:{code, message}}.
void rp_reply_pack_error(msgpack_packer *pk, const msgpack_object *id, int status, const char *code,
                         const char *message);

//  The same with error.details: packs up to the key "details"; the caller
//  packs its value next.
void rp_reply_pack_error_details(msgpack_packer *pk, const msgpack_object *id, int status,
                                 const char *code, const char *message);

//  The error map alone, {code, message, details?}, for an error inside a
//  reply's data (a part of a shared journal append); with details, up to
//  the key "details", the caller packing its value next.
void rp_error_pack(msgpack_packer *pk, const char *code, const char *message, bool details);

typedef struct {
    const char *specversion;
    size_t specversion_len;
    const char *id;
    size_t id_len;
    const char *type;
    size_t type_len;
    const char *source;
    size_t source_len;
    const char *time; //  NULL when absent
    size_t time_len;
    const char *subject; //  NULL when absent
    size_t subject_len;
    uint64_t seq; //  0 when absent
    const msgpack_object *actor;
    const msgpack_object *data; //  required
} rp_event_t;

//  An event type: 1..RP_MAX_TYPE of [a-z0-9_.-], lower-case dotted names
//  (customer.created, order.placed).
bool rp_event_type_valid(const char *type, size_t len);

//  Parse and validate an event: type is 1..RP_MAX_TYPE of [a-z0-9_.-] and
//  does not start with '$'; id and source are non-empty and bounded; data is
//  present. specversion and time may be absent (the journal fills them).
const char *rp_event_parse(const msgpack_object *root, rp_event_t *event);

//  Is the event's type exactly type ("customer.merged")? Does it start
//  with prefix ("customer.", a service's own events)?
bool rp_event_is(const rp_event_t *event, const char *type);
bool rp_event_has_prefix(const rp_event_t *event, const char *prefix);

//  Write the current UTC time as RFC 3339 with milliseconds
//  ("2026-11-23T07:40:00.123Z") into out (at least 32 bytes).
void rp_time_now(char out[32]);

//  Read an RFC 3339 time ("2026-11-23T07:40:00.123Z", "…T15:40:00+08:00";
//  'T' may be 't' or a space, the fraction is optional and cut to
//  milliseconds; no leap seconds) as Unix milliseconds. False if it is not
//  one.
bool rp_time_parse(const char *text, size_t len, int64_t *unix_ms);

//  Is year-month-day a real day of the (proleptic Gregorian) calendar:
//  month 1..12, day within that month, 29 February in leap years only?
bool rp_date_valid(int64_t year, int64_t month, int64_t day);

//  Write Unix milliseconds as rp_time_now does (years 0..9999).
void rp_time_format(int64_t unix_ms, char out[32]);

void rp_envelope_test(void);

#endif
