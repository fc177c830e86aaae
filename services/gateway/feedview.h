/*  feedview.h — what of the journal an integrator sees through the HTTP
    feed out (GET /api/v1/events, feedout.h): where to start, which types,
    how many, and each event as JSON without its secrets.

    The view is read from the request's query (and, for a stream, its
    Last-Event-ID header), all untrusted:
        after=<seq>     events with a greater seq (default 0: from the start);
                        Last-Event-ID, when given, wins over it
        types=<list>    comma-separated patterns, at most GW_FEEDVIEW_PATTERNS,
                        each 1..GW_FEEDVIEW_PATTERN_MAX bytes of [a-z0-9_.-]:
                        `order.*` is every type beginning with `order.`, any
                        other pattern one exact type; absent: every type
        limit=<n>       1..GW_FEEDVIEW_LIMIT_MAX events a page (default 100)
    Anything else in them is a field error: code `invalid` (types, after,
    Last-Event-ID) or `out_of_range` (limit), for a 422.

    Secrets: an event's `data.key_hash` (user.created, user.key_rotated:
    the SHA-256 of a user's API key, docs/events.md) is removed from the
    item; the event is served otherwise. No other event carries a secret.
*/
#ifndef GW_FEEDVIEW_H
#define GW_FEEDVIEW_H

#include <jansson.h>
#include <rapport/pack.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_FEEDVIEW_PATTERNS      20
#define GW_FEEDVIEW_PATTERN_MAX   64
#define GW_FEEDVIEW_LIMIT_DEFAULT 100
#define GW_FEEDVIEW_LIMIT_MAX     1000

typedef struct {
    char text[GW_FEEDVIEW_PATTERN_MAX + 1]; //  the exact type, or the prefix ("order.")
    size_t len;
    bool prefix;
} gw_feedview_pattern_t;

typedef struct {
    uint64_t after;
    size_t limit;
    size_t count; //  patterns; 0: every type
    gw_feedview_pattern_t patterns[GW_FEEDVIEW_PATTERNS];
} gw_feedview_t;

//  Read a view from query args (after, types, limit: as the route engine
//  typed them, integers or text) and the Last-Event-ID header (NULL when
//  absent). Returns NULL when valid, else the field errors ([{field, code,
//  message}], new reference) for a 422.
json_t *gw_feedview_parse(gw_feedview_t *self, const json_t *args, const char *last_event_id);

//  Whether the view takes an event of this type.
bool gw_feedview_match(const gw_feedview_t *self, const char *type, size_t type_len);

//  Whether the view takes every type (no patterns).
bool gw_feedview_all(const gw_feedview_t *self);

//  The item served for a journal event (a map): the event as JSON with its
//  `seq`, secrets removed. NULL when JSON cannot represent it (bin or ext
//  values, integers beyond int64): the feed skips such an event.
json_t *gw_feedview_item(const msgpack_object *event, uint64_t seq);

void gw_feedview_test(void);

#endif
