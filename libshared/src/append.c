/*  append.c — see append.h. */
#include <rapport/append.h>

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  A group has at most one member per event, and each member is a part.
static_assert(RP_APPENDS_GROUP_EVENTS <= RP_JOURNAL_PARTS_MAX, "a member per part");

typedef struct {
    rp_appended_fn *fn;
    void *arg;
    size_t count; //  its events
    char *idem;   //  its key, or NULL
} member_t;

struct _rp_append_group_t {
    void *handle;       //  in the owner's ready or flight list
    rp_packer_t events; //  the members' events, back to back
    size_t sizes[RP_JOURNAL_APPEND_MAX];
    size_t count;                              //  events
    member_t members[RP_APPENDS_GROUP_EVENTS]; //  a member has one event at least
    size_t members_n;
    int timeout_ms; //  the shortest of the members'
    bool closed;    //  takes no more members
};

struct _rp_appends_t {
    zlistx_t *ready;  //  groups gathered, oldest first; the last may be open
    zlistx_t *flight; //  groups sent, awaiting their reply
};

static void s_group_destroy(rp_append_group_t **group_p)
{
    rp_append_group_t *group = *group_p;
    if (group) {
        rp_packer_destroy(&group->events);
        for (size_t i = 0; i < group->members_n; i++)
            free(group->members[i].idem);
        free(group);
        *group_p = NULL;
    }
}

rp_appends_t *rp_appends_new(void)
{
    rp_appends_t *self = calloc(1, sizeof *self);
    assert(self);
    self->ready = zlistx_new();
    self->flight = zlistx_new();
    zlistx_set_destructor(self->ready, (zlistx_destructor_fn *)s_group_destroy);
    zlistx_set_destructor(self->flight, (zlistx_destructor_fn *)s_group_destroy);
    return self;
}

void rp_appends_destroy(rp_appends_t **self_p)
{
    rp_appends_t *self = *self_p;
    if (!self)
        return;
    zlistx_destroy(&self->ready);
    zlistx_destroy(&self->flight);
    free(self);
    *self_p = NULL;
}

static rp_append_group_t *s_group_new(rp_appends_t *self)
{
    rp_append_group_t *group = calloc(1, sizeof *group);
    assert(group);
    rp_packer_init(&group->events);
    group->handle = zlistx_add_end(self->ready, group);
    return group;
}

//  The open group these events may join, or NULL.
static rp_append_group_t *s_open_group(rp_appends_t *self, size_t count, size_t bytes)
{
    rp_append_group_t *group = (rp_append_group_t *)zlistx_last(self->ready);
    if (!group || group->closed)
        return NULL;
    if (group->count + count > RP_APPENDS_GROUP_EVENTS ||
        group->events.buffer.size + bytes > RP_APPENDS_GROUP_BYTES) {
        group->closed = true;
        return NULL;
    }
    return group;
}

int rp_appends_add(rp_appends_t *self, const rp_journal_event_t *events, size_t count,
                   const char *idem, int timeout_ms, rp_appended_fn *fn, void *arg)
{
    if (count == 0 || count > RP_JOURNAL_APPEND_MAX)
        return -1;
    size_t bytes = 0;
    for (size_t i = 0; i < count; i++) {
        if (!rp_journal_event_valid(&events[i]))
            return -1;
        bytes += events[i].size;
    }
    if (idem && !idem[0])
        idem = NULL;
    bool shares = count <= RP_APPENDS_SHARE_EVENTS && bytes <= RP_APPENDS_SHARE_BYTES;
    rp_append_group_t *group = shares ? s_open_group(self, count, bytes) : NULL;
    if (!group) {
        rp_append_group_t *last = (rp_append_group_t *)zlistx_last(self->ready);
        if (last)
            last->closed = true; //  what came before goes first
        group = s_group_new(self);
        group->closed = !shares;
        group->timeout_ms = timeout_ms;
    }
    for (size_t i = 0; i < count; i++) {
        msgpack_sbuffer_write(&group->events.buffer, events[i].data, events[i].size);
        group->sizes[group->count++] = events[i].size;
    }
    group->members[group->members_n++] = (member_t){fn, arg, count, idem ? strdup(idem) : NULL};
    if (timeout_ms < group->timeout_ms)
        group->timeout_ms = timeout_ms;
    return 0;
}

size_t rp_appends_waiting(rp_appends_t *self)
{
    return zlistx_size(self->ready);
}

rp_append_group_t *rp_appends_take(rp_appends_t *self, rp_packer_t *packer, uint64_t id,
                                   const rp_journal_writer_t *writer, int *timeout_ms)
{
    rp_append_group_t *group = (rp_append_group_t *)zlistx_first(self->ready);
    if (!group)
        return NULL;
    rp_journal_event_t events[RP_JOURNAL_APPEND_MAX];
    const char *data = group->events.buffer.data;
    for (size_t i = 0; i < group->count; i++) {
        events[i] = (rp_journal_event_t){data, group->sizes[i]};
        data += group->sizes[i];
    }
    rp_packer_reset(packer);
    int rc;
    if (group->members_n == 1) //  an append of its own
        rc = rp_journal_pack_append(packer, id, events, group->count, writer,
                                    group->members[0].idem);
    else {
        rp_journal_part_t parts[RP_APPENDS_GROUP_EVENTS];
        for (size_t i = 0; i < group->members_n; i++)
            parts[i] = (rp_journal_part_t){group->members[i].count, group->members[i].idem};
        rc = rp_journal_pack_append_parts(packer, id, events, group->count, parts, group->members_n,
                                          writer);
    }
    assert(rc == 0); //  every event was checked when added, parts add up
    zlistx_detach(self->ready, group->handle);
    group->handle = zlistx_add_end(self->flight, group);
    *timeout_ms = group->timeout_ms;
    return group;
}

//  A shared append answered without parts (a journal from before them
//  appended all its events as one, keys unrecorded): each member gets its
//  slice of the seqs, in order, if they add up; else 502.
static void s_replied_sliced(rp_append_group_t *group, rp_service_t *service,
                             const rp_reply_t *reply)
{
    uint64_t first = 0, last = 0;
    rp_reply_t answer = *reply;
    bool appended =
        rp_journal_append_seqs(reply, &first, &last, NULL) && last - first + 1 == group->count;
    if (!appended)
        answer.status = 502;
    for (size_t i = 0; i < group->members_n; i++) {
        const member_t *member = &group->members[i];
        if (appended)
            member->fn(member->arg, service, &answer, first, first + member->count - 1);
        else
            member->fn(member->arg, service, &answer, 0, 0);
        first += member->count;
    }
}

void rp_appends_replied(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service,
                        const rp_reply_t *reply)
{
    zlistx_detach(self->flight, group->handle);
    const member_t *members = group->members;
    uint64_t first = 0, last = 0;
    rp_reply_t answer = *reply;
    if (reply->status != 200) //  the whole request refused, or lost
        for (size_t i = 0; i < group->members_n; i++)
            members[i].fn(members[i].arg, service, reply, 0, 0);
    else if (group->members_n == 1) { //  as the journal gave them (a key's first seqs)
        if (!rp_journal_append_seqs(reply, &first, &last, NULL))
            answer.status = 502; //  the journal said yes but not what it appended
        members[0].fn(members[0].arg, service, &answer, first, last);
    } else if (!rp_obj_get(reply->data, "parts"))
        s_replied_sliced(group, service, reply);
    else
        for (size_t i = 0; i < group->members_n; i++) {
            if (!rp_journal_append_part(reply, i, &answer, &first, &last)) {
                answer = *reply;
                answer.status = 502;
                first = last = 0;
            }
            members[i].fn(members[i].arg, service, &answer, first, last);
        }
    s_group_destroy(&group);
}

void rp_appends_unsent(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service)
{
    rp_reply_t reply = {.status = 503};
    rp_appends_replied(self, group, service, &reply);
}

//  ---------------------------------------------------------------------
//  Self-test: grouping, order, parts and keys, seqs, failures.

typedef struct {
    int calls, status;
    uint64_t first, last;
} test_member_t;

static void s_test_appended(void *arg, rp_service_t *service, const rp_reply_t *reply,
                            uint64_t first, uint64_t last)
{
    assert(service == NULL);
    test_member_t *member = (test_member_t *)arg;
    member->calls++;
    member->status = reply->status;
    member->first = first;
    member->last = last;
}

//  One event, a map {"type": "t.x", "data": <size bytes of string>}.
static void s_test_event(rp_packer_t *packer, size_t size)
{
    rp_packer_reset(packer);
    msgpack_pack_map(&packer->pk, 2);
    rp_pack_kv_cstr(&packer->pk, "type", "t.x");
    rp_pack_cstr(&packer->pk, "data");
    char *text = malloc(size + 1);
    assert(text);
    memset(text, 'a', size);
    text[size] = 0;
    rp_pack_cstr(&packer->pk, text);
    free(text);
}

//  What a group was packed as: its events, its parts (0: an append of its
//  own) and the idem key of the append or of part `part` ("" for none).
typedef struct {
    size_t events, parts;
    char idem[16];
} test_packed_t;

static const rp_journal_writer_t s_test_writer = {"w", 3, "w-token"};

static test_packed_t s_test_packed(rp_packer_t *packer, size_t part)
{
    rp_doc_t *doc = rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
    assert(doc);
    rp_request_t req;
    assert(!rp_request_parse(rp_doc_root(doc), &req) && rp_request_is(&req, "journal.append"));
    assert(rp_obj_streq(rp_obj_get(req.args, "writer"), "w"));
    assert(rp_obj_streq(rp_obj_get(req.args, "token"), "w-token"));
    test_packed_t packed = {rp_obj_get(req.args, "events")->via.array.size, 0, ""};
    const char *idem = req.idem;
    size_t idem_len = req.idem ? req.idem_len : 0;
    const msgpack_object *parts = rp_obj_get(req.args, "parts");
    if (parts) {
        assert(!req.idem && rp_obj_is_array(parts));
        packed.parts = parts->via.array.size;
        idem_len = 0;
        if (part < packed.parts)
            rp_obj_str(rp_obj_get(&parts->via.array.ptr[part], "idem"), &idem, &idem_len);
    }
    assert(idem_len < sizeof packed.idem);
    memcpy(packed.idem, idem ? idem : "", idem_len);
    rp_doc_destroy(&doc);
    return packed;
}

//  Pack seqs first..last (none when last < first) as "seqs".
static void s_test_pack_seqs(msgpack_packer *pk, uint64_t first, uint64_t last)
{
    rp_pack_cstr(pk, "seqs");
    msgpack_pack_array(pk, last >= first ? (uint32_t)(last - first + 1) : 0);
    for (uint64_t seq = first; seq <= last && last >= first; seq++)
        msgpack_pack_uint64(pk, seq);
}

//  A journal reply {id, status, data: {seqs: [first..last]}}.
static rp_doc_t *s_test_reply(int status, uint64_t first, uint64_t last, rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, NULL, status, 0, status == 200);
    if (status == 200) {
        rp_pack_cstr(&packer.pk, "data");
        msgpack_pack_map(&packer.pk, 1);
        s_test_pack_seqs(&packer.pk, first, last);
    }
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && !rp_reply_parse(rp_doc_root(doc), reply));
    rp_packer_destroy(&packer);
    return doc;
}

//  A shared append's reply: {parts: [{status, seqs} | {status, error}]},
//  from n (status, first, last) triples; status 0 packs a part without one.
static rp_doc_t *s_test_reply_parts(const uint64_t (*parts)[3], size_t n, rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    rp_reply_pack(&packer.pk, NULL, 200, 0, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 1);
    rp_pack_cstr(&packer.pk, "parts");
    msgpack_pack_array(&packer.pk, n);
    for (size_t i = 0; i < n; i++) {
        msgpack_pack_map(&packer.pk, parts[i][0] ? 2 : 1);
        if (parts[i][0])
            rp_pack_kv_u64(&packer.pk, "status", parts[i][0]);
        if (parts[i][0] == 200)
            s_test_pack_seqs(&packer.pk, parts[i][1], parts[i][2]);
        else {
            rp_pack_cstr(&packer.pk, "error");
            msgpack_pack_map(&packer.pk, 1);
            rp_pack_kv_cstr(&packer.pk, "code", "bad_event");
        }
    }
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && !rp_reply_parse(rp_doc_root(doc), reply));
    rp_packer_destroy(&packer);
    return doc;
}

void rp_appends_test(void)
{
    rp_service_t *context = NULL; //  the service, passed through
    rp_appends_t *self = rp_appends_new();
    rp_packer_t event, packer;
    rp_packer_init(&event);
    rp_packer_init(&packer);
    s_test_event(&event, 10);
    rp_journal_event_t two[2] = {{event.buffer.data, event.buffer.size},
                                 {event.buffer.data, event.buffer.size}};
    test_member_t a = {0}, b = {0}, c = {0}, d = {0};
    //  a (2 events), b (1, "" is no key) and c (1, a key) share, in parts.
    assert(rp_appends_add(self, two, 2, NULL, 900, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, two, 1, "", 500, s_test_appended, &b) == 0);
    assert(rp_appends_add(self, two, 1, "k1", 700, s_test_appended, &c) == 0);
    //  Malformed: nothing gathered, no call.
    rp_journal_event_t junk = {"\x93", 1};
    assert(rp_appends_add(self, &junk, 1, NULL, 1, s_test_appended, &a) == -1);
    assert(rp_appends_add(self, two, 0, NULL, 1, s_test_appended, &a) == -1);
    int timeout;
    rp_append_group_t *g1 = rp_appends_take(self, &packer, 1, &s_test_writer, &timeout);
    assert(g1 && timeout == 500);
    test_packed_t packed = s_test_packed(&packer, 2);
    assert(packed.events == 4 && packed.parts == 3 && streq(packed.idem, "k1"));
    assert(streq(s_test_packed(&packer, 1).idem, ""));
    assert(rp_appends_waiting(self) == 0 &&
           !rp_appends_take(self, &packer, 2, &s_test_writer, &timeout));
    //  Each part answered as its own append: c's key had been seen.
    const uint64_t answers[3][3] = {{200, 10, 11}, {200, 12, 12}, {200, 4, 4}};
    rp_reply_t reply;
    rp_doc_t *doc = s_test_reply_parts(answers, 3, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(a.calls == 1 && a.status == 200 && a.first == 10 && a.last == 11);
    assert(b.calls == 1 && b.status == 200 && b.first == 12 && b.last == 12);
    assert(c.calls == 1 && c.status == 200 && c.first == 4 && c.last == 4);

    //  A part refused alone, a part without a status: 502 for that one.
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &b) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &c) == 0);
    g1 = rp_appends_take(self, &packer, 3, &s_test_writer, &timeout);
    const uint64_t mixed[3][3] = {{422, 0, 0}, {200, 20, 20}, {0, 0, 0}};
    doc = s_test_reply_parts(mixed, 3, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(a.calls == 2 && a.status == 422 && a.first == 0);
    assert(b.calls == 2 && b.status == 200 && b.first == 20);
    assert(c.calls == 2 && c.status == 502);

    //  Alone, an append is sent as one, its key in the envelope, and takes
    //  the seqs the journal gives (a key's first ones).
    assert(rp_appends_add(self, two, 2, "k2", 100, s_test_appended, &d) == 0);
    g1 = rp_appends_take(self, &packer, 4, &s_test_writer, &timeout);
    packed = s_test_packed(&packer, 0);
    assert(packed.events == 2 && packed.parts == 0 && streq(packed.idem, "k2"));
    doc = s_test_reply(200, 7, 9, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(d.calls == 1 && d.first == 7 && d.last == 9);

    //  A reply without parts (a journal from before them): slices of its
    //  seqs in order, or 502 for all when they do not add up.
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    for (int round = 0; round < 2; round++) {
        assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
        assert(rp_appends_add(self, two, 2, NULL, 100, s_test_appended, &b) == 0);
        g1 = rp_appends_take(self, &packer, 5, &s_test_writer, &timeout);
        doc = s_test_reply(200, 30, round == 0 ? 32 : 31, &reply);
        rp_appends_replied(self, g1, context, &reply);
        rp_doc_destroy(&doc);
    }
    assert(a.calls == 2 && b.calls == 2 && a.status == 502 && b.status == 502);
    assert(a.first == 0 && b.first == 0);

    //  A refusal of the whole request and an unsent group: every member alike.
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, two, 1, "k3", 100, s_test_appended, &b) == 0);
    g1 = rp_appends_take(self, &packer, 6, &s_test_writer, &timeout);
    doc = s_test_reply(409, 0, 0, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(a.calls == 1 && a.status == 409 && b.calls == 1 && b.status == 409);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    g1 = rp_appends_take(self, &packer, 7, &s_test_writer, &timeout);
    rp_appends_unsent(self, g1, context);
    assert(a.calls == 2 && a.status == 503);

    //  Bounds: a large append goes alone (what came before goes first);
    //  a group stops at its event bound.
    rp_packer_t big;
    rp_packer_init(&big);
    s_test_event(&big, RP_APPENDS_SHARE_BYTES);
    rp_journal_event_t large = {big.buffer.data, big.buffer.size};
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, &large, 1, NULL, 100, s_test_appended, &b) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &c) == 0);
    size_t groups = 0;
    while ((g1 = rp_appends_take(self, &packer, 8, &s_test_writer, &timeout))) {
        packed = s_test_packed(&packer, 0);
        assert(packed.events == 1 && packed.parts == 0);
        groups++;
        rp_appends_unsent(self, g1, context);
    }
    assert(groups == 3);
    test_member_t many[RP_APPENDS_GROUP_EVENTS + 1];
    memset(many, 0, sizeof many);
    for (size_t i = 0; i <= RP_APPENDS_GROUP_EVENTS; i++)
        assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &many[i]) == 0);
    g1 = rp_appends_take(self, &packer, 9, &s_test_writer, &timeout);
    packed = s_test_packed(&packer, 0);
    assert(packed.events == RP_APPENDS_GROUP_EVENTS && packed.parts == RP_APPENDS_GROUP_EVENTS);
    rp_append_group_t *g2 = rp_appends_take(self, &packer, 10, &s_test_writer, &timeout);
    assert(s_test_packed(&packer, 0).events == 1);
    rp_appends_unsent(self, g2, context);
    //  Destroy frees what is gathered and in flight, calling nobody.
    assert(rp_appends_add(self, two, 1, "k4", 100, s_test_appended, &d) == 0);
    rp_appends_destroy(&self);
    assert(!self && many[0].calls == 0 && many[RP_APPENDS_GROUP_EVENTS].calls == 1);
    assert(d.calls == 1);
    rp_packer_destroy(&big);
    rp_packer_destroy(&event);
    rp_packer_destroy(&packer);
}
