/*  page.c — see page.h. */
#include "page.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t page_key(char *out, const char *owner, size_t owner_len, const char *rest, size_t rest_len)
{
    if (owner_len == 0 || owner_len > 64 || rest_len > PAGE_MAX_REST)
        return 0;
    memcpy(out, owner, owner_len);
    out[owner_len] = 0;
    if (rest_len)
        memcpy(out + owner_len + 1, rest, rest_len);
    return owner_len + 1 + rest_len;
}

static bool s_page_in(const MDB_val *key, const char *prefix, size_t prefix_len)
{
    return key->mv_size > prefix_len && memcmp(key->mv_data, prefix, prefix_len) == 0;
}

//  Position on the first entry of the walk: after the cursor, or at the
//  range's first (forward) or last (reverse) entry.
static int s_page_first(MDB_cursor *cursor, const page_t *page, MDB_val *key, MDB_val *value)
{
    char start[PAGE_MAX_KEY];
    size_t len = page->after
                     ? page_key(start, page->owner, page->owner_len, page->after, page->after_len)
                     : page_key(start, page->owner, page->owner_len, NULL, 0);
    if (!page->after && page->reverse)
        start[len - 1] = 1; //  "<owner> 0x01" sorts just past the whole range
    key->mv_size = len;
    key->mv_data = start;
    int rc = mdb_cursor_get(cursor, key, value, MDB_SET_RANGE);
    if (!page->reverse) {
        if (rc == 0 && page->after && key->mv_size == len && memcmp(key->mv_data, start, len) == 0)
            rc = mdb_cursor_get(cursor, key, value, MDB_NEXT);
        return rc;
    }
    //  Reverse: the entry before the one found (or the database's last).
    if (rc == MDB_NOTFOUND)
        return mdb_cursor_get(cursor, key, value, MDB_LAST);
    return rc ? rc : mdb_cursor_get(cursor, key, value, MDB_PREV);
}

int page_read(MDB_txn *txn, MDB_dbi dbi, page_t *page)
{
    char prefix[PAGE_MAX_KEY];
    size_t prefix_len = page_key(prefix, page->owner, page->owner_len, NULL, 0);
    page->count = 0;
    page->next[0] = 0;
    if (!prefix_len || (page->after && (page->after_len == 0 || page->after_len > PAGE_MAX_REST)))
        return 0; //  no such owner or cursor: an empty page
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key, value;
    MDB_cursor_op step = page->reverse ? MDB_PREV : MDB_NEXT;
    rc = s_page_first(cursor, page, &key, &value);
    for (; rc == 0 && s_page_in(&key, prefix, prefix_len);
         rc = mdb_cursor_get(cursor, &key, &value, step)) {
        if (page->count == page->limit) {
            //  Another entry follows: the last one given is where to go on.
            rc = 0;
            break;
        }
        msgpack_sbuffer_write(&page->items->buffer, value.mv_data, value.mv_size);
        page->count++;
        size_t rest = key.mv_size - prefix_len;
        if (rest <= PAGE_MAX_REST) {
            memcpy(page->next, (char *)key.mv_data + prefix_len, rest);
            page->next[rest] = 0;
        }
    }
    bool more = rc == 0 && s_page_in(&key, prefix, prefix_len) && page->count == page->limit;
    if (!more)
        page->next[0] = 0;
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int page_keys(MDB_txn *txn, MDB_dbi dbi, const char *owner, size_t owner_len, page_keys_t *out)
{
    out->count = 0;
    out->keys = NULL;
    char prefix[PAGE_MAX_KEY];
    size_t prefix_len = page_key(prefix, owner, owner_len, NULL, 0);
    if (!prefix_len)
        return 0;
    MDB_cursor *cursor;
    int rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc)
        return rc;
    MDB_val key = {prefix_len, prefix}, value;
    size_t room = 0;
    for (rc = mdb_cursor_get(cursor, &key, &value, MDB_SET_RANGE);
         rc == 0 && s_page_in(&key, prefix, prefix_len);
         rc = mdb_cursor_get(cursor, &key, &value, MDB_NEXT)) {
        if (out->count == room) {
            room = room ? room * 2 : 16;
            out->keys = realloc(out->keys, room * sizeof *out->keys);
            assert(out->keys);
        }
        MDB_val *copy = &out->keys[out->count++];
        copy->mv_size = key.mv_size;
        copy->mv_data = malloc(key.mv_size);
        assert(copy->mv_data);
        memcpy(copy->mv_data, key.mv_data, key.mv_size);
    }
    mdb_cursor_close(cursor);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

void page_keys_free(page_keys_t *keys)
{
    for (size_t i = 0; i < keys->count; i++)
        free(keys->keys[i].mv_data);
    free(keys->keys);
    keys->keys = NULL;
    keys->count = 0;
}

//  ---------------------------------------------------------------------

#include <rapport/store.h>

static const char *const s_page_test_dbs[] = {"entries", NULL};

//  Entries "b" 1..7 between neighbours "a" and "c" (and "b2" sharing a
//  prefix), values the packed rest strings.
static int s_page_test_fill(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    static const char *const owners[] = {"a", "b", "c", "b2"};
    for (int o = 0; o < 4; o++)
        for (int i = 1; i <= (o == 1 ? 7 : 2); i++) {
            char rest[16], key[PAGE_MAX_KEY];
            snprintf(rest, sizeof rest, "%02d", i);
            size_t len = page_key(key, owners[o], strlen(owners[o]), rest, 2);
            rp_packer_t value;
            rp_packer_init(&value);
            rp_pack_cstr(&value.pk, rest);
            MDB_val k = {len, key}, v = {value.buffer.size, value.buffer.data};
            assert(mdb_put(txn, rp_store_dbi(store, "entries"), &k, &v, 0) == 0);
            rp_packer_destroy(&value);
        }
    return 0;
}

typedef struct {
    page_t page;
    char seen[64];
} page_test_t;

static int s_page_test_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    page_test_t *t = (page_test_t *)arg;
    rp_packer_reset(t->page.items);
    assert(page_read(txn, rp_store_dbi(store, "entries"), &t->page) == 0);
    //  The values are the rests: list them.
    t->seen[0] = 0;
    size_t offset = 0;
    msgpack_unpacked unpacked;
    msgpack_unpacked_init(&unpacked);
    for (size_t i = 0; i < t->page.count; i++) {
        assert(msgpack_unpack_next(&unpacked, t->page.items->buffer.data,
                                   t->page.items->buffer.size, &offset) == MSGPACK_UNPACK_SUCCESS);
        strncat(t->seen, unpacked.data.via.str.ptr, unpacked.data.via.str.size);
        strcat(t->seen, " ");
    }
    msgpack_unpacked_destroy(&unpacked);
    return 0;
}

static int s_page_test_keys(rp_store_t *store, MDB_txn *txn, void *arg)
{
    page_keys_t *keys = (page_keys_t *)arg;
    return page_keys(txn, rp_store_dbi(store, "entries"), "b", 1, keys);
}

void page_test(void)
{
    char dir[] = "/tmp/rp-page-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, s_page_test_dbs);
    assert(store);
    assert(rp_store_write(store, s_page_test_fill, NULL) == 0);
    static const struct {
        bool reverse;
        const char *pages[4];
    } walks[] = {{false, {"01 02 03 ", "04 05 06 ", "07 ", NULL}},
                 {true, {"07 06 05 ", "04 03 02 ", "01 ", NULL}}};
    for (int w = 0; w < 2; w++) {
        rp_packer_t items;
        rp_packer_init(&items);
        page_test_t t = {.page = {.owner = "b",
                                  .owner_len = 1,
                                  .reverse = walks[w].reverse,
                                  .limit = 3,
                                  .items = &items}};
        char cursor[PAGE_MAX_REST + 1];
        for (int p = 0; walks[w].pages[p]; p++) {
            assert(rp_store_read(store, s_page_test_read, &t) == 0);
            assert(strcmp(t.seen, walks[w].pages[p]) == 0);
            assert((t.page.next[0] != 0) == (walks[w].pages[p + 1] != NULL));
            snprintf(cursor, sizeof cursor, "%s", t.page.next);
            t.page.after = cursor;
            t.page.after_len = strlen(cursor);
        }
        rp_packer_destroy(&items);
    }
    //  Exactly a full page: no cursor; an owner with nothing; a cursor past the end.
    rp_packer_t items;
    rp_packer_init(&items);
    page_test_t t = {.page = {.owner = "a", .owner_len = 1, .limit = 2, .items = &items}};
    assert(rp_store_read(store, s_page_test_read, &t) == 0);
    assert(strcmp(t.seen, "01 02 ") == 0 && t.page.next[0] == 0);
    t.page.reverse = true;
    assert(rp_store_read(store, s_page_test_read, &t) == 0);
    assert(strcmp(t.seen, "02 01 ") == 0 && t.page.next[0] == 0);
    t.page.owner = "c"; //  the database's last range, reverse
    assert(rp_store_read(store, s_page_test_read, &t) == 0);
    assert(strcmp(t.seen, "02 01 ") == 0);
    t.page.owner = "z";
    assert(rp_store_read(store, s_page_test_read, &t) == 0 && t.page.count == 0);
    t.page.owner = "b";
    t.page.after = "99";
    t.page.after_len = 2;
    t.page.reverse = false;
    assert(rp_store_read(store, s_page_test_read, &t) == 0 && t.page.count == 0);
    t.page.reverse = true;
    assert(rp_store_read(store, s_page_test_read, &t) == 0 && strcmp(t.seen, "07 06 ") == 0);
    rp_packer_destroy(&items);

    page_keys_t keys;
    assert(rp_store_read(store, s_page_test_keys, &keys) == 0 && keys.count == 7);
    assert(keys.keys[6].mv_size == 4 && memcmp(keys.keys[6].mv_data,
                                               "b\0"
                                               "07",
                                               4) == 0);
    page_keys_free(&keys);
    rp_store_destroy(&store);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
