/*  store.h — an LMDB environment owned by one process.

    Each instance keeps its own directory and holds an exclusive flock on it
    (LMDB's reader table is keyed by PID; sharing an environment across PID
    namespaces fails). Opening runs mdb_reader_check to clear stale readers.
    Named databases are opened once at start. The "meta" database is always
    there and holds the applied cursor, written in the same transaction as
    the changes it covers, so a crash never applies an event twice or skips
    one.

    Writes go through rp_store_write, which runs a function in a write
    transaction and commits. When LMDB reports MDB_MAP_FULL (from the function
    or from the commit), the transaction is aborted, the map doubled and the
    function run again from the start: it must therefore do all its work
    inside the transaction and keep no side effects outside it until
    rp_store_write has returned 0.

    Durability: commits are synchronous (no MDB_NOSYNC): when rp_store_write
    returns 0 the data is on disk.

    A cache store (rp_store_new_cache: a service's store, derived from the
    journal and rebuilt by replaying it) commits with MDB_NOSYNC and writes
    through the map (MDB_WRITEMAP): a commit costs no disk flush and no
    write system call. That survives the death of the process (the pages
    are in the page cache, LMDB's meta page written last), not the
    machine's. So the store marks its directory ("unsynced", holding the
    boot id, /proc/sys/kernel/random/boot_id) before its first unsynced
    commit, and a clean close syncs and removes the mark. Opening a store
    whose mark names another boot deletes it: it starts empty at cursor 0
    and the journal replays into it. A store is never used silently
    inconsistent.
*/
#ifndef RAPPORT_STORE_H
#define RAPPORT_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _rp_store_t rp_store_t;

//  Open (creating) the environment in dir, lock it, open the named databases
//  (a NULL-terminated list; "meta" is added). Returns NULL with a logged
//  reason if the directory is locked by another process or cannot be opened.
rp_store_t *rp_store_new(const char *dir, const char *const *dbnames);

//  The same for a cache store: unsynced commits, the boot rule above.
rp_store_t *rp_store_new_cache(const char *dir, const char *const *dbnames);
void rp_store_destroy(rp_store_t **self_p);

MDB_env *rp_store_env(rp_store_t *self);

//  The handle of a named database given at open; aborts on an unknown name
//  (a programming error).
MDB_dbi rp_store_dbi(rp_store_t *self, const char *name);

typedef int(rp_store_fn)(rp_store_t *store, MDB_txn *txn, void *arg);

//  Run fn in a write transaction and commit. fn returns 0 to commit, or an
//  error (an MDB_* code or a negative value of its own) to abort; that error
//  is returned. MDB_MAP_FULL grows the map and retries.
int rp_store_write(rp_store_t *self, rp_store_fn *fn, void *arg);

//  Run fn in a read-only transaction.
int rp_store_read(rp_store_t *self, rp_store_fn *fn, void *arg);

//  The applied cursor (0 for a new store), and setting it inside a write.
uint64_t rp_store_cursor(rp_store_t *self, MDB_txn *txn);
int rp_store_set_cursor(rp_store_t *self, MDB_txn *txn, uint64_t seq);

//  Small typed values in "meta" (8-byte big-endian); 0 when absent.
uint64_t rp_store_meta_u64(rp_store_t *self, MDB_txn *txn, const char *key);
int rp_store_set_meta_u64(rp_store_t *self, MDB_txn *txn, const char *key, uint64_t value);

//  The identity of the journal (docs/protocol.md § Journal, "Identity"):
//  the journal keeps its own in "meta", a service store the one its
//  cursor counts in, written in the same transaction as the cursor.
//  rp_store_journal copies it into id (RP_STORE_JOURNAL_MAX + 1 bytes), ""
//  if none is recorded.
#define RP_STORE_JOURNAL_MAX 64
void rp_store_journal(rp_store_t *self, MDB_txn *txn, char *id);
int rp_store_set_journal(rp_store_t *self, MDB_txn *txn, const char *id);

//  Empty every database of the store, "meta" too (cursor 0, no journal):
//  a rebuild from another journal starts here.
int rp_store_clear(rp_store_t *self, MDB_txn *txn);

//  The current map size in bytes (grows on demand).
size_t rp_store_map_size(rp_store_t *self);

void rp_store_test(void);

#endif
