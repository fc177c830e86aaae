/*  entry.h — one inbox entry (docs/notifications.md § Entries): what
    apply derives from one journal event for one person, and how it is
    stored and answered (a MessagePack map):

      {id, user, kind, title, body, record: {type, id}, seq, created_at,
       read_at, archived, version}

    id is "n" and the seq of the event it came from, so every instance
    names it alike; created_at is that event's time; read_at is nil while
    unread; version counts the entry's changes (1 when derived), for the
    ETag of a read or an archive.
*/
#ifndef NOTIFICATIONS_ENTRY_H
#define NOTIFICATIONS_ENTRY_H

#include <rapport/pack.h>

#include <stdbool.h>
#include <stdint.h>

#define ENTRY_MAX_ID    64 //  a user id, a record id
#define ENTRY_MAX_KIND  40
#define ENTRY_MAX_TITLE 400 //  bytes, cut on a UTF-8 boundary
#define ENTRY_MAX_BODY  600
#define ENTRY_MAX_TIME  32

typedef struct {
    char id[24];
    char user[ENTRY_MAX_ID + 1];
    char kind[ENTRY_MAX_KIND + 1];
    char title[ENTRY_MAX_TITLE + 1];
    char body[ENTRY_MAX_BODY + 1];
    char record_type[24];
    char record_id[ENTRY_MAX_ID + 1];
    uint64_t seq;
    char created_at[ENTRY_MAX_TIME];
    char read_at[ENTRY_MAX_TIME]; //  "" while unread
    bool archived;
    uint64_t version;
} entry_t;

//  The id of the entry derived from the event at seq.
void entry_id(uint64_t seq, char out[24]);

//  The seq an entry id names, 0 when it is not one.
uint64_t entry_seq(const char *id, size_t len);

//  Copy len bytes of str into out (size bytes), cut on a UTF-8 boundary.
void entry_copy(char *out, size_t size, const char *str, size_t len);

void entry_pack(const entry_t *self, msgpack_packer *pk);

//  A stored entry back into self: false when bytes are not one.
bool entry_unpack(entry_t *self, const void *bytes, size_t size);

void entry_test(void);

#endif
