/*  journal.c — the client side of the broker's `journal` service.  */
#include <rapport/journal.h>
#include <rapport/log.h>

#include <assert.h>
#include <inttypes.h>
#include <string.h>

bool rp_journal_event_valid(const rp_journal_event_t *event)
{
    if (event->size == 0 || rp_pack_check(event->data, event->size))
        return false;
    uint8_t type = ((const uint8_t *)event->data)[0];
    return (type & 0xf0) == 0x80 || type == 0xde || type == 0xdf; //  fixmap, map16, map32
}

//  journal.append {events, writer?, epoch?, token?, parts?}
static int s_pack_append(rp_packer_t *packer, uint64_t id, const rp_journal_event_t *events,
                         size_t count, const rp_journal_writer_t *writer, const char *idem,
                         const rp_journal_part_t *parts, size_t parts_n)
{
    if (count == 0 || count > RP_JOURNAL_APPEND_MAX)
        return -1;
    for (size_t i = 0; i < count; i++)
        if (!rp_journal_event_valid(&events[i]))
            return -1; //  splicing it would corrupt the request
    size_t covered = 0;
    for (size_t i = 0; i < parts_n; i++)
        covered += parts[i].count;
    if (parts_n && covered != count)
        return -1;
    const rp_journal_writer_t none = {NULL, 0, NULL};
    if (!writer)
        writer = &none;
    rp_request_pack(&packer->pk, id, "journal.append", 0, idem, 1);
    rp_pack_cstr(&packer->pk, "args");
    msgpack_pack_map(&packer->pk, 1 + (writer->name != NULL) + (writer->epoch > 0) +
                                      (writer->token != NULL) + (parts_n > 0));
    rp_pack_cstr(&packer->pk, "events");
    msgpack_pack_array(&packer->pk, count);
    for (size_t i = 0; i < count; i++)
        msgpack_sbuffer_write(&packer->buffer, events[i].data, events[i].size);
    if (writer->name)
        rp_pack_kv_cstr(&packer->pk, "writer", writer->name);
    if (writer->epoch > 0)
        rp_pack_kv_u64(&packer->pk, "epoch", writer->epoch);
    if (writer->token)
        rp_pack_kv_cstr(&packer->pk, "token", writer->token);
    if (parts_n) {
        rp_pack_cstr(&packer->pk, "parts");
        msgpack_pack_array(&packer->pk, parts_n);
        for (size_t i = 0; i < parts_n; i++) {
            msgpack_pack_map(&packer->pk, 1 + (parts[i].idem != NULL));
            rp_pack_kv_u64(&packer->pk, "count", parts[i].count);
            if (parts[i].idem)
                rp_pack_kv_cstr(&packer->pk, "idem", parts[i].idem);
        }
    }
    return 0;
}

int rp_journal_pack_append(rp_packer_t *packer, uint64_t id, const rp_journal_event_t *events,
                           size_t count, const rp_journal_writer_t *writer, const char *idem)
{
    return s_pack_append(packer, id, events, count, writer, idem, NULL, 0);
}

int rp_journal_pack_append_parts(rp_packer_t *packer, uint64_t id, const rp_journal_event_t *events,
                                 size_t count, const rp_journal_part_t *parts, size_t parts_n,
                                 const rp_journal_writer_t *writer)
{
    if (parts_n == 0 || parts_n > RP_JOURNAL_PARTS_MAX)
        return -1;
    return s_pack_append(packer, id, events, count, writer, NULL, parts, parts_n);
}

bool rp_journal_append_part(const rp_reply_t *reply, size_t index, rp_reply_t *part,
                            uint64_t *first, uint64_t *last)
{
    const msgpack_object *parts = rp_obj_get(reply->data, "parts");
    if (reply->status != 200 || !rp_obj_is_array(parts) || index >= parts->via.array.size)
        return false;
    //  A part is {status, seqs…} or {status, error}: read as a reply body,
    //  then given the request's id and stamps, its own map as data.
    const msgpack_object *answer = &parts->via.array.ptr[index];
    if (rp_reply_parse(answer, part))
        return false;
    part->id = reply->id;
    part->data = answer;
    part->cursor = reply->cursor;
    part->instance = reply->instance;
    part->instance_len = reply->instance_len;
    *first = *last = 0;
    if (part->status != 200)
        return true;
    if (!rp_journal_append_seqs(part, first, last, NULL))
        return false;
    part->seq = *last;
    return true;
}

bool rp_journal_append_seqs(const rp_reply_t *reply, uint64_t *first, uint64_t *last,
                            bool *duplicate)
{
    const msgpack_object *seqs = rp_obj_get(reply->data, "seqs");
    if (reply->status != 200 || !rp_obj_is_array(seqs) || seqs->via.array.size == 0)
        return false;
    const msgpack_object_array *array = &seqs->via.array;
    if (!rp_obj_u64(&array->ptr[0], first) || !rp_obj_u64(&array->ptr[array->size - 1], last))
        return false;
    bool dup = false;
    rp_obj_bool(rp_obj_get(reply->data, "duplicate"), &dup);
    if (duplicate)
        *duplicate = dup;
    return true;
}

int rp_journal_append(rp_client_t *client, const rp_journal_event_t *events, size_t count,
                      const rp_journal_writer_t *writer, const char *idem, int timeout_ms,
                      uint64_t *last_seq)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(client);
    rp_reply_t reply;
    rp_doc_t *doc = NULL;
    if (rp_journal_pack_append(&packer, id, events, count, writer, idem) == 0)
        doc = rp_client_call(client, RP_JOURNAL_SERVICE, id, packer.buffer.data, packer.buffer.size,
                             timeout_ms, &reply);
    rp_packer_destroy(&packer);
    if (!doc)
        return -1;
    int status = reply.status;
    uint64_t first;
    if (status == 200 && !rp_journal_append_seqs(&reply, &first, last_seq, NULL))
        status = 502; //  the journal said yes but not what it appended
    if (status != 200)
        rp_warn("journal: append refused: %d %.*s %.*s", status, (int)reply.error_code_len,
                reply.error_code ? reply.error_code : "", (int)reply.error_message_len,
                reply.error_message ? reply.error_message : "");
    rp_doc_destroy(&doc);
    return status;
}

void rp_journal_pack_read(rp_packer_t *packer, uint64_t id, uint64_t from_seq, size_t max)
{
    rp_request_pack(&packer->pk, id, "journal.read", 0, NULL, 1);
    rp_pack_cstr(&packer->pk, "args");
    msgpack_pack_map(&packer->pk, 2);
    rp_pack_kv_u64(&packer->pk, "from_seq", from_seq);
    rp_pack_kv_u64(&packer->pk, "max", max);
}

rp_doc_t *rp_journal_read(rp_client_t *client, uint64_t from_seq, size_t max, int timeout_ms,
                          rp_reply_t *reply)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(client);
    rp_journal_pack_read(&packer, id, from_seq, max);
    rp_doc_t *doc = rp_client_call(client, RP_JOURNAL_SERVICE, id, packer.buffer.data,
                                   packer.buffer.size, timeout_ms, reply);
    rp_packer_destroy(&packer);
    return doc;
}

bool rp_journal_read_page(const rp_reply_t *reply, const msgpack_object **events, uint64_t *head)
{
    *events = rp_obj_get(reply->data, "events");
    return reply->status == 200 && rp_obj_is_array(*events) &&
           rp_obj_u64(rp_obj_get(reply->data, "head"), head);
}

int rp_journal_head(rp_client_t *client, int timeout_ms, uint64_t *head)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    uint64_t id = rp_client_next_id(client);
    rp_request_pack(&packer.pk, id, "journal.head", 0, NULL, 1);
    rp_pack_cstr(&packer.pk, "args");
    msgpack_pack_map(&packer.pk, 0);
    rp_reply_t reply;
    rp_doc_t *doc = rp_client_call(client, RP_JOURNAL_SERVICE, id, packer.buffer.data,
                                   packer.buffer.size, timeout_ms, &reply);
    rp_packer_destroy(&packer);
    if (!doc)
        return -1;
    int status = reply.status;
    if (status == 200 && !rp_obj_u64(rp_obj_get(reply.data, "head"), head))
        status = 502;
    rp_doc_destroy(&doc);
    return status;
}

//  ---------------------------------------------------------------------
//  Self-test: packing only; the round trip through a journal is tested
//  by rp_feed's self-test (against rp_testbroker) and the system tests.

void rp_journal_test(void)
{
    rp_packer_t event, packer;
    rp_packer_init(&event);
    rp_packer_init(&packer);
    msgpack_pack_map(&event.pk, 4);
    rp_pack_kv_cstr(&event.pk, "type", "order.placed");
    rp_pack_kv_cstr(&event.pk, "id", "o-1");
    rp_pack_kv_cstr(&event.pk, "source", "erp");
    rp_pack_cstr(&event.pk, "data");
    msgpack_pack_map(&event.pk, 0);
    rp_journal_event_t events[2] = {{event.buffer.data, event.buffer.size},
                                    {event.buffer.data, event.buffer.size}};
    rp_journal_writer_t writer = {"customers", 3, "t0k3n"};
    assert(rp_journal_pack_append(&packer, 5, events, 2, &writer, "k1") == 0);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc);
    rp_request_t req;
    assert(rp_request_parse(rp_doc_root(doc), &req) == NULL);
    assert(rp_request_is(&req, "journal.append") && req.idem_len == 2);
    const msgpack_object *array = rp_obj_get(req.args, "events");
    assert(rp_obj_is_array(array) && array->via.array.size == 2);
    rp_event_t parsed;
    assert(rp_event_parse(&array->via.array.ptr[1], &parsed) == NULL);
    assert(parsed.type_len == 12);
    uint64_t epoch;
    assert(rp_obj_u64(rp_obj_get(req.args, "epoch"), &epoch) && epoch == 3);
    assert(rp_obj_streq(rp_obj_get(req.args, "writer"), "customers"));
    assert(rp_obj_streq(rp_obj_get(req.args, "token"), "t0k3n"));
    rp_doc_destroy(&doc);

    //  Not a map, truncated, or none at all: refused before packing.
    rp_journal_event_t bad[3] = {{"\x01", 1}, {event.buffer.data, event.buffer.size - 1}, {"", 0}};
    for (int i = 0; i < 3; i++) {
        rp_packer_reset(&packer);
        assert(rp_journal_pack_append(&packer, 1, &bad[i], 1, NULL, NULL) == -1);
    }
    assert(rp_journal_pack_append(&packer, 1, events, 0, NULL, NULL) == -1);

    //  Reply parsing: {id, status: 200, data: {seqs: [7, 8], duplicate: true}}.
    rp_packer_reset(&packer);
    msgpack_object id = {.type = MSGPACK_OBJECT_POSITIVE_INTEGER, .via.u64 = 5};
    rp_reply_pack(&packer.pk, &id, 200, 8, 1);
    rp_pack_cstr(&packer.pk, "data");
    msgpack_pack_map(&packer.pk, 2);
    rp_pack_cstr(&packer.pk, "seqs");
    msgpack_pack_array(&packer.pk, 2);
    msgpack_pack_uint64(&packer.pk, 7);
    msgpack_pack_uint64(&packer.pk, 8);
    rp_pack_kv_bool(&packer.pk, "duplicate", true);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rp_reply_t reply;
    assert(doc && rp_reply_parse(rp_doc_root(doc), &reply) == NULL);
    uint64_t first, last;
    bool duplicate = false;
    assert(rp_journal_append_seqs(&reply, &first, &last, &duplicate));
    assert(first == 7 && last == 8 && duplicate);
    rp_doc_destroy(&doc);

    rp_packer_reset(&packer);
    rp_journal_pack_read(&packer, 9, 100, 50);
    doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    assert(doc && rp_request_parse(rp_doc_root(doc), &req) == NULL);
    uint64_t from;
    assert(rp_obj_u64(rp_obj_get(req.args, "from_seq"), &from) && from == 100);
    rp_doc_destroy(&doc);

    rp_packer_destroy(&packer);
    rp_packer_destroy(&event);
}
