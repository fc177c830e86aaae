/*  store.c — an LMDB environment owned by one process.  */
#include <rapport/log.h>
#include <rapport/pack.h>
#include <rapport/store.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX_DBS   64
#define STORE_MAP_START (64UL << 20) //  64 MiB; sparse, grows by doubling

struct _rp_store_t {
    char *dir;
    int lock_fd; //  holds the exclusive flock for our lifetime
    MDB_env *env;
    size_t map_size;
    size_t dbs;
    char *names[STORE_MAX_DBS];
    MDB_dbi dbis[STORE_MAX_DBS];
    bool unsynced; //  a cache store running with MDB_NOSYNC (see store.h)
};

//  In a cache store's directory while it runs unsynced: the boot's id.
#define STORE_MARK    "unsynced"
#define STORE_BOOT_ID "/proc/sys/kernel/random/boot_id"

//  mkdir -p: the data directory may not exist on a new machine.
static int s_make_dirs(const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return -1;
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return (mkdir(buf, 0755) && errno != EEXIST) ? -1 : 0;
}

static int s_open_dbs(rp_store_t *self, const char *const *dbnames)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
    if (rc)
        return rc;
    const char *meta[] = {"meta", NULL};
    const char *const *lists[] = {meta, dbnames};
    for (int l = 0; l < 2 && !rc; l++)
        for (const char *const *name = lists[l]; name && *name && !rc; name++) {
            assert(self->dbs < STORE_MAX_DBS);
            rc = mdb_dbi_open(txn, *name, MDB_CREATE, &self->dbis[self->dbs]);
            self->names[self->dbs++] = strdup(*name);
        }
    if (rc) {
        mdb_txn_abort(txn);
        return rc;
    }
    return mdb_txn_commit(txn);
}

//  The first line of a file (up to 63 bytes, newline stripped; "" if
//  empty); false if the file cannot be opened.
static bool s_first_line(const char *path, char line[64])
{
    line[0] = 0;
    FILE *file = fopen(path, "r");
    if (!file)
        return false;
    if (!fgets(line, 64, file))
        line[0] = 0;
    fclose(file);
    line[strcspn(line, "\n")] = 0;
    return true;
}

//  A store left unsynced by a process that never closed it is sound after
//  the process's death (its writes are in the page cache, LMDB's meta page
//  last), but not after the machine's: then the pages may have reached the
//  disk in any order. So a mark from another boot (or an unreadable one)
//  throws the store away, and the journal rebuilds it.
static void s_discard_if_unsafe(rp_store_t *self, const char *boot)
{
    const char *dir = self->dir;
    char mark[1100], seen[64];
    snprintf(mark, sizeof mark, "%s/" STORE_MARK, dir);
    if (!s_first_line(mark, seen))
        return; //  closed cleanly, or never unsynced
    if (*boot && strcmp(seen, boot) == 0)
        return; //  the same boot: only the process died
    rp_warn("store: %s was left unsynced before the machine restarted: rebuilding it "
            "from the journal",
            dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/lock.mdb", dir);
    unlink(path);
    unlink(mark);
    fsync(self->lock_fd); //  the directory itself (opened for the flock)
}

//  Write the mark (synced, with its directory entry) before the first
//  unsynced commit; on failure the store stays synced.
static void s_go_unsynced(rp_store_t *self, const char *boot)
{
    char mark[1100];
    snprintf(mark, sizeof mark, "%s/" STORE_MARK, self->dir);
    int fd = open(mark, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    size_t len = strlen(boot);
    bool ok = fd >= 0 && len > 0 && write(fd, boot, len) == (ssize_t)len && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    ok = ok && fsync(self->lock_fd) == 0; //  the mark's directory entry
    if (ok && mdb_env_set_flags(self->env, MDB_NOSYNC, 1) == 0)
        self->unsynced = true;
    else
        rp_warn("store: %s stays synced (cannot write %s)", self->dir, mark);
}

static rp_store_t *s_open(const char *dir, const char *const *dbnames, bool cache)
{
    if (s_make_dirs(dir)) {
        rp_error("store: cannot create %s: %s", dir, strerror(errno));
        return NULL;
    }
    rp_store_t *self = calloc(1, sizeof *self);
    assert(self);
    self->dir = strdup(dir);
    self->lock_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->lock_fd < 0 || flock(self->lock_fd, LOCK_EX | LOCK_NB)) {
        rp_error("store: %s is in use by another process (%s)", dir, strerror(errno));
        rp_store_destroy(&self);
        return NULL;
    }
    char boot[64] = "";
    if (cache) {
        s_first_line(STORE_BOOT_ID, boot); //  this boot's id; "" if unreadable
        s_discard_if_unsafe(self, boot);
    }
    int rc = mdb_env_create(&self->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(self->env, STORE_MAX_DBS);
    if (!rc)
        rc = mdb_env_set_mapsize(self->env, STORE_MAP_START);
    //  A cache store writes through the map (MDB_WRITEMAP): a commit is
    //  memory writes, not a pwrite per dirty page (2-3 per event on the
    //  customers write path). It survives the process as the unsynced
    //  commits do (the map is the page cache); a stray write could corrupt
    //  the map, which for a store the journal rebuilds is an acceptable risk.
    if (!rc)
        rc = mdb_env_open(self->env, dir, cache ? MDB_WRITEMAP : 0, 0644);
    if (rc) {
        rp_error("store: cannot open %s: %s", dir, mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    //  A process that died inside a read transaction leaves its slot taken;
    //  clearing it now keeps old pages from being pinned forever.
    int dead = 0;
    mdb_reader_check(self->env, &dead);
    if (dead)
        rp_warn("store: cleared %d stale reader slot(s) in %s", dead, dir);
    MDB_envinfo info;
    mdb_env_info(self->env, &info);
    self->map_size = info.me_mapsize;
    rc = s_open_dbs(self, dbnames);
    if (rc) {
        rp_error("store: cannot open databases in %s: %s", dir, mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    if (cache)
        s_go_unsynced(self, boot);
    return self;
}

rp_store_t *rp_store_new(const char *dir, const char *const *dbnames)
{
    return s_open(dir, dbnames, false);
}

rp_store_t *rp_store_new_cache(const char *dir, const char *const *dbnames)
{
    return s_open(dir, dbnames, true);
}

//  A clean close of an unsynced store: sync everything, then remove the
//  mark (synced too). If either fails the mark stays, which is safe.
static void s_close_unsynced(rp_store_t *self)
{
    char mark[1100];
    snprintf(mark, sizeof mark, "%s/" STORE_MARK, self->dir);
    int rc = mdb_env_sync(self->env, 1);
    if (rc == 0 && unlink(mark) == 0)
        fsync(self->lock_fd); //  the directory: the mark is gone for good
    else
        rp_warn("store: %s not closed cleanly (%s)", self->dir,
                rc ? mdb_strerror(rc) : strerror(errno));
}

void rp_store_destroy(rp_store_t **self_p)
{
    rp_store_t *self = *self_p;
    if (!self)
        return;
    if (self->env && self->unsynced)
        s_close_unsynced(self);
    if (self->env)
        mdb_env_close(self->env);
    if (self->lock_fd >= 0)
        close(self->lock_fd); //  releases the flock
    for (size_t i = 0; i < self->dbs; i++)
        free(self->names[i]);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

MDB_env *rp_store_env(rp_store_t *self)
{
    return self->env;
}

MDB_dbi rp_store_dbi(rp_store_t *self, const char *name)
{
    for (size_t i = 0; i < self->dbs; i++)
        if (strcmp(self->names[i], name) == 0)
            return self->dbis[i];
    rp_error("store: unknown database '%s'", name);
    abort();
}

static int s_grow(rp_store_t *self)
{
    size_t size = self->map_size * 2;
    int rc = mdb_env_set_mapsize(self->env, size);
    if (rc)
        return rc;
    self->map_size = size;
    rp_info("store: map of %s grown to %zu MiB", self->dir, size >> 20);
    return 0;
}

int rp_store_write(rp_store_t *self, rp_store_fn *fn, void *arg)
{
    while (true) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(self->env, NULL, 0, &txn);
        if (rc)
            return rc;
        rc = fn(self, txn, arg);
        if (rc) {
            mdb_txn_abort(txn);
        } else {
            rc = mdb_txn_commit(txn); //  frees txn whatever the outcome
        }
        if (rc != MDB_MAP_FULL)
            return rc;
        rc = s_grow(self);
        if (rc)
            return rc;
    }
}

int rp_store_read(rp_store_t *self, rp_store_fn *fn, void *arg)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(self->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    rc = fn(self, txn, arg);
    mdb_txn_abort(txn);
    return rc;
}

uint64_t rp_store_meta_u64(rp_store_t *self, MDB_txn *txn, const char *key)
{
    MDB_val k = {strlen(key), (void *)key}, v;
    if (mdb_get(txn, rp_store_dbi(self, "meta"), &k, &v) || v.mv_size != 8)
        return 0;
    return rp_seq_get(v.mv_data);
}

int rp_store_set_meta_u64(rp_store_t *self, MDB_txn *txn, const char *key, uint64_t value)
{
    uint8_t buf[8];
    rp_seq_put(buf, value);
    MDB_val k = {strlen(key), (void *)key}, v = {8, buf};
    return mdb_put(txn, rp_store_dbi(self, "meta"), &k, &v, 0);
}

uint64_t rp_store_cursor(rp_store_t *self, MDB_txn *txn)
{
    return rp_store_meta_u64(self, txn, "cursor");
}

int rp_store_set_cursor(rp_store_t *self, MDB_txn *txn, uint64_t seq)
{
    return rp_store_set_meta_u64(self, txn, "cursor", seq);
}

void rp_store_journal(rp_store_t *self, MDB_txn *txn, char *id)
{
    MDB_val k = {7, "journal"}, v;
    *id = 0;
    if (mdb_get(txn, rp_store_dbi(self, "meta"), &k, &v) == 0 &&
        v.mv_size <= RP_STORE_JOURNAL_MAX && !memchr(v.mv_data, 0, v.mv_size)) {
        memcpy(id, v.mv_data, v.mv_size);
        id[v.mv_size] = 0;
    }
}

int rp_store_set_journal(rp_store_t *self, MDB_txn *txn, const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > RP_STORE_JOURNAL_MAX)
        return EINVAL;
    MDB_val k = {7, "journal"}, v = {len, (void *)id};
    return mdb_put(txn, rp_store_dbi(self, "meta"), &k, &v, 0);
}

int rp_store_clear(rp_store_t *self, MDB_txn *txn)
{
    int rc = 0;
    for (size_t i = 0; i < self->dbs && !rc; i++)
        rc = mdb_drop(txn, self->dbis[i], 0);
    return rc;
}

size_t rp_store_map_size(rp_store_t *self)
{
    return self->map_size;
}

//  ---------------------------------------------------------------------
//  Self-test

typedef struct {
    uint64_t seq;
    size_t value_size;
    int fail; //  make the function fail after writing, to test atomicity
} apply_t;

//  An "apply": one record keyed by seq and the cursor, in one transaction.
static int s_test_apply(rp_store_t *store, MDB_txn *txn, void *arg)
{
    apply_t *a = arg;
    uint8_t key[8];
    rp_seq_put(key, a->seq);
    MDB_val k = {8, key}, v = {a->value_size, NULL};
    int rc = mdb_put(txn, rp_store_dbi(store, "items"), &k, &v, MDB_RESERVE);
    if (rc)
        return rc;
    memset(v.mv_data, (int)(a->seq & 0xff), a->value_size);
    rc = rp_store_set_cursor(store, txn, a->seq);
    return rc ? rc : (a->fail ? -1 : 0);
}

static int s_test_count(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_stat stat;
    int rc = mdb_stat(txn, rp_store_dbi(store, "items"), &stat);
    *(size_t *)arg = stat.ms_entries;
    (void)store;
    return rc;
}

static int s_test_cursor(rp_store_t *store, MDB_txn *txn, void *arg)
{
    *(uint64_t *)arg = rp_store_cursor(store, txn);
    return 0;
}

static void s_test_mark(const char *path, const char *content)
{
    char mark[600];
    snprintf(mark, sizeof mark, "%s/" STORE_MARK, path);
    FILE *file = fopen(mark, "w");
    assert(file);
    fputs(content, file);
    fclose(file);
}

static uint64_t s_test_reopen_cursor(const char *path, const char *const *dbs)
{
    rp_store_t *store = rp_store_new_cache(path, dbs);
    assert(store);
    uint64_t cursor = UINT64_MAX;
    rp_store_read(store, s_test_cursor, &cursor);
    rp_store_destroy(&store);
    return cursor;
}

//  A cache store: kept after a clean close or a process's death in this
//  boot, thrown away when left unsynced in another boot.
static void s_test_cache(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/cache", dir);
    const char *dbs[] = {"items", NULL};
    rp_store_t *store = rp_store_new_cache(path, dbs);
    assert(store && store->unsynced);
    apply_t a = {5, 100, 0};
    assert(rp_store_write(store, s_test_apply, &a) == 0);
    char mark[600];
    snprintf(mark, sizeof mark, "%s/" STORE_MARK, path);
    assert(access(mark, F_OK) == 0);
    rp_store_destroy(&store);
    assert(access(mark, F_OK) != 0); //  closed cleanly: no mark
    assert(s_test_reopen_cursor(path, dbs) == 5);

    //  The process died in this boot (the mark names it): kept.
    char boot[64];
    s_first_line(STORE_BOOT_ID, boot); //  this boot's id; "" if unreadable
    assert(*boot);
    s_test_mark(path, boot);
    assert(s_test_reopen_cursor(path, dbs) == 5);

    //  Left unsynced in another boot: rebuilt from nothing.
    s_test_mark(path, "00000000-0000-0000-0000-000000000000\n");
    assert(s_test_reopen_cursor(path, dbs) == 0);
}

static int s_test_set_journal(rp_store_t *store, MDB_txn *txn, void *arg)
{
    return rp_store_set_journal(store, txn, arg);
}

static int s_test_journal(rp_store_t *store, MDB_txn *txn, void *arg)
{
    rp_store_journal(store, txn, arg);
    return 0;
}

static int s_test_clear(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    return rp_store_clear(store, txn);
}

void rp_store_test(void)
{
    char dir[] = "/tmp/rp-store-XXXXXX";
    assert(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/a/b", dir);
    const char *dbs[] = {"items", NULL};
    rp_store_t *store = rp_store_new(path, dbs);
    assert(store);
    //  A second open of the same directory is refused while we hold it.
    assert(rp_store_new(path, dbs) == NULL);

    apply_t a = {1, 100, 0};
    assert(rp_store_write(store, s_test_apply, &a) == 0);
    uint64_t cursor;
    rp_store_read(store, s_test_cursor, &cursor);
    assert(cursor == 1);

    //  A failing apply leaves neither the record nor the cursor behind.
    a = (apply_t){2, 100, 1};
    assert(rp_store_write(store, s_test_apply, &a) == -1);
    size_t count;
    rp_store_read(store, s_test_count, &count);
    assert(count == 1);
    rp_store_read(store, s_test_cursor, &cursor);
    assert(cursor == 1);

    //  The journal's identity, kept beside the cursor; cleared with it.
    char id[RP_STORE_JOURNAL_MAX + 1];
    rp_store_read(store, s_test_journal, id);
    assert(strcmp(id, "") == 0);
    assert(rp_store_write(store, s_test_set_journal, "j-1") == 0);
    rp_store_read(store, s_test_journal, id);
    assert(strcmp(id, "j-1") == 0);
    assert(rp_store_write(store, s_test_set_journal, "") == EINVAL);

    //  Fill past the initial map: MDB_MAP_FULL grows it and retries.
    size_t before = rp_store_map_size(store);
    for (uint64_t seq = 2; seq < 2 + 70; seq++) {
        a = (apply_t){seq, 1 << 20, 0};
        assert(rp_store_write(store, s_test_apply, &a) == 0);
    }
    assert(rp_store_map_size(store) > before);
    rp_store_read(store, s_test_count, &count);
    assert(count == 71);

    //  Reopen: the data and the cursor are there.
    rp_store_destroy(&store);
    store = rp_store_new(path, dbs);
    assert(store);
    rp_store_read(store, s_test_cursor, &cursor);
    assert(cursor == 71);
    rp_store_read(store, s_test_journal, id);
    assert(strcmp(id, "j-1") == 0);
    //  Cleared: no data, cursor 0, no journal.
    assert(rp_store_write(store, s_test_clear, NULL) == 0);
    rp_store_read(store, s_test_count, &count);
    rp_store_read(store, s_test_cursor, &cursor);
    rp_store_read(store, s_test_journal, id);
    assert(count == 0 && cursor == 0 && id[0] == 0);
    rp_store_destroy(&store);
    s_test_cache(dir);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
