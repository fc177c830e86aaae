/*  append.c — see append.h. */
#include <rapport/append.h>

#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rp_appended_fn *fn;
    void *arg;
    size_t count; //  its events
} member_t;

struct _rp_append_group_t {
    void *handle;       //  in the owner's ready or flight list
    rp_packer_t events; //  the members' events, back to back
    size_t sizes[RP_JOURNAL_APPEND_MAX];
    size_t count;                              //  events
    char *idem;                                //  a lone append's key, or NULL
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
        free(group->idem);
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

static rp_append_group_t *s_group_new(rp_appends_t *self, const char *idem)
{
    rp_append_group_t *group = calloc(1, sizeof *group);
    assert(group);
    rp_packer_init(&group->events);
    group->idem = idem ? strdup(idem) : NULL;
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
    bool shares = !idem && count <= RP_APPENDS_SHARE_EVENTS && bytes <= RP_APPENDS_SHARE_BYTES;
    rp_append_group_t *group = shares ? s_open_group(self, count, bytes) : NULL;
    if (!group) {
        rp_append_group_t *last = (rp_append_group_t *)zlistx_last(self->ready);
        if (last)
            last->closed = true; //  what came before goes first
        group = s_group_new(self, idem);
        group->closed = !shares;
        group->timeout_ms = timeout_ms;
    }
    for (size_t i = 0; i < count; i++) {
        msgpack_sbuffer_write(&group->events.buffer, events[i].data, events[i].size);
        group->sizes[group->count++] = events[i].size;
    }
    group->members[group->members_n++] = (member_t){fn, arg, count};
    if (timeout_ms < group->timeout_ms)
        group->timeout_ms = timeout_ms;
    return 0;
}

size_t rp_appends_waiting(rp_appends_t *self)
{
    return zlistx_size(self->ready);
}

rp_append_group_t *rp_appends_take(rp_appends_t *self, rp_packer_t *packer, uint64_t id,
                                   const char *writer, uint64_t epoch, int *timeout_ms)
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
    int rc = rp_journal_pack_append(packer, id, events, group->count, writer, epoch, group->idem);
    assert(rc == 0); //  every event was checked when added
    zlistx_detach(self->ready, group->handle);
    group->handle = zlistx_add_end(self->flight, group);
    *timeout_ms = group->timeout_ms;
    return group;
}

void rp_appends_replied(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service,
                        const rp_reply_t *reply)
{
    uint64_t first = 0, last = 0;
    rp_reply_t answer = *reply;
    bool appended = rp_journal_append_seqs(reply, &first, &last, NULL);
    //  A lone append passes its seqs on as the journal gave them (a
    //  duplicate key gets the first append's); shared ones must add up.
    if (appended && group->members_n > 1 && last - first + 1 != group->count) {
        appended = false;
        answer.status = 502;
    } else if (!appended && reply->status == 200)
        answer.status = 502; //  the journal said yes but not what it appended
    zlistx_detach(self->flight, group->handle);
    for (size_t i = 0; i < group->members_n; i++) {
        const member_t *member = &group->members[i];
        if (!appended)
            member->fn(member->arg, service, &answer, 0, 0);
        else if (group->members_n == 1)
            member->fn(member->arg, service, &answer, first, last);
        else {
            member->fn(member->arg, service, &answer, first, first + member->count - 1);
            first += member->count;
        }
    }
    s_group_destroy(&group);
}

void rp_appends_unsent(rp_appends_t *self, rp_append_group_t *group, rp_service_t *service)
{
    rp_reply_t reply = {.status = 503};
    rp_appends_replied(self, group, service, &reply);
}

//  ---------------------------------------------------------------------
//  Self-test: grouping, order, slicing of seqs, failures.

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

//  The append a group was packed as: its events count, and its idem key's
//  length (0 for none).
static size_t s_test_packed(rp_packer_t *packer, size_t *idem_len)
{
    rp_doc_t *doc = rp_doc_new(packer->buffer.data, packer->buffer.size, NULL);
    assert(doc);
    rp_request_t req;
    assert(!rp_request_parse(rp_doc_root(doc), &req) && rp_request_is(&req, "journal.append"));
    *idem_len = req.idem ? req.idem_len : 0;
    assert(rp_obj_streq(rp_obj_get(req.args, "writer"), "w"));
    size_t count = rp_obj_get(req.args, "events")->via.array.size;
    rp_doc_destroy(&doc);
    return count;
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
        rp_pack_cstr(&packer.pk, "seqs");
        msgpack_pack_array(&packer.pk, (uint32_t)(last - first + 1));
        for (uint64_t seq = first; seq <= last; seq++)
            msgpack_pack_uint64(&packer.pk, seq);
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
    test_member_t a = {0}, b = {0}, c = {0}, d = {0}, e = {0};
    //  a (2 events) and b (1) share; c has a key: alone; d and e after it.
    assert(rp_appends_add(self, two, 2, NULL, 900, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, two, 1, "", 500, s_test_appended, &b) == 0);
    assert(rp_appends_add(self, two, 1, "k1", 700, s_test_appended, &c) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 700, s_test_appended, &d) == 0);
    assert(rp_appends_add(self, two, 2, NULL, 800, s_test_appended, &e) == 0);
    //  Malformed: nothing gathered, no call.
    rp_journal_event_t junk = {"\x93", 1};
    assert(rp_appends_add(self, &junk, 1, NULL, 1, s_test_appended, &a) == -1);
    assert(rp_appends_add(self, two, 0, NULL, 1, s_test_appended, &a) == -1);

    size_t idem_len;
    int timeout;
    rp_append_group_t *g1 = rp_appends_take(self, &packer, 1, "w", 3, &timeout);
    assert(g1 && timeout == 500 && s_test_packed(&packer, &idem_len) == 3 && !idem_len);
    rp_append_group_t *g2 = rp_appends_take(self, &packer, 2, "w", 3, &timeout);
    assert(g2 && timeout == 700 && s_test_packed(&packer, &idem_len) == 1 && idem_len == 2);
    rp_append_group_t *g3 = rp_appends_take(self, &packer, 3, "w", 3, &timeout);
    assert(g3 && s_test_packed(&packer, &idem_len) == 3 && !idem_len);
    assert(rp_appends_waiting(self) == 0 && !rp_appends_take(self, &packer, 4, "w", 3, &timeout));

    //  Seqs are handed out in the order added.
    rp_reply_t reply;
    rp_doc_t *doc = s_test_reply(200, 10, 12, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(a.calls == 1 && a.status == 200 && a.first == 10 && a.last == 11);
    assert(b.calls == 1 && b.status == 200 && b.first == 12 && b.last == 12);
    //  A lone append takes the seqs as given (a duplicate key's).
    doc = s_test_reply(200, 4, 5, &reply);
    rp_appends_replied(self, g2, context, &reply);
    rp_doc_destroy(&doc);
    assert(c.calls == 1 && c.first == 4 && c.last == 5);
    //  Seqs that do not add up: 502 for every member, no seqs.
    doc = s_test_reply(200, 20, 21, &reply);
    rp_appends_replied(self, g3, context, &reply);
    rp_doc_destroy(&doc);
    assert(d.calls == 1 && d.status == 502 && d.first == 0 && e.status == 502);

    //  A refusal and an unsent group answer every member alike.
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &b) == 0);
    g1 = rp_appends_take(self, &packer, 5, "w", 3, &timeout);
    doc = s_test_reply(409, 0, 0, &reply);
    rp_appends_replied(self, g1, context, &reply);
    rp_doc_destroy(&doc);
    assert(a.calls == 1 && a.status == 409 && b.calls == 1 && b.status == 409);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    g1 = rp_appends_take(self, &packer, 6, "w", 3, &timeout);
    rp_appends_unsent(self, g1, context);
    assert(a.calls == 2 && a.status == 503);

    //  Bounds: a large append goes alone; a group stops at its event bound.
    rp_packer_t big;
    rp_packer_init(&big);
    s_test_event(&big, RP_APPENDS_SHARE_BYTES);
    rp_journal_event_t large = {big.buffer.data, big.buffer.size};
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &a) == 0);
    assert(rp_appends_add(self, &large, 1, NULL, 100, s_test_appended, &b) == 0);
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &c) == 0);
    size_t groups = 0;
    while ((g1 = rp_appends_take(self, &packer, 7, "w", 3, &timeout))) {
        assert(s_test_packed(&packer, &idem_len) == 1);
        groups++;
        rp_appends_unsent(self, g1, context);
    }
    assert(groups == 3);
    test_member_t many[RP_APPENDS_GROUP_EVENTS + 1];
    memset(many, 0, sizeof many);
    for (size_t i = 0; i <= RP_APPENDS_GROUP_EVENTS; i++)
        assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &many[i]) == 0);
    g1 = rp_appends_take(self, &packer, 8, "w", 3, &timeout);
    assert(s_test_packed(&packer, &idem_len) == RP_APPENDS_GROUP_EVENTS);
    g2 = rp_appends_take(self, &packer, 9, "w", 3, &timeout);
    assert(s_test_packed(&packer, &idem_len) == 1);
    rp_appends_unsent(self, g2, context);
    //  Destroy frees what is gathered and in flight, calling nobody.
    assert(rp_appends_add(self, two, 1, NULL, 100, s_test_appended, &d) == 0);
    rp_appends_destroy(&self);
    assert(!self && many[0].calls == 0 && many[RP_APPENDS_GROUP_EVENTS].calls == 1);
    assert(d.calls == 1);
    rp_packer_destroy(&big);
    rp_packer_destroy(&event);
    rp_packer_destroy(&packer);
}
