/*  store.c — an LMDB environment owned by one process.  */
#include <rapport/log.h>
#include <rapport/pack.h>
#include <rapport/store.h>

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_MAX_DBS   16
#define STORE_MAP_START (64UL << 20) //  64 MiB; sparse, grows by doubling

struct _rp_store_t {
    char *dir;
    int lock_fd; //  holds the exclusive flock for our lifetime
    MDB_env *env;
    size_t map_size;
    size_t dbs;
    char *names[STORE_MAX_DBS];
    MDB_dbi dbis[STORE_MAX_DBS];
};

//  mkdir -p: the data directory may not exist on a new machine.
static int make_dirs(const char *path)
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

static int open_dbs(rp_store_t *self, const char *const *dbnames)
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

rp_store_t *rp_store_new(const char *dir, const char *const *dbnames)
{
    if (make_dirs(dir)) {
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
    int rc = mdb_env_create(&self->env);
    if (!rc)
        rc = mdb_env_set_maxdbs(self->env, STORE_MAX_DBS);
    if (!rc)
        rc = mdb_env_set_mapsize(self->env, STORE_MAP_START);
    if (!rc)
        rc = mdb_env_open(self->env, dir, 0, 0644);
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
    rc = open_dbs(self, dbnames);
    if (rc) {
        rp_error("store: cannot open databases in %s: %s", dir, mdb_strerror(rc));
        rp_store_destroy(&self);
        return NULL;
    }
    return self;
}

void rp_store_destroy(rp_store_t **self_p)
{
    rp_store_t *self = *self_p;
    if (!self)
        return;
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

static int grow(rp_store_t *self)
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
        rc = grow(self);
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
static int test_apply(rp_store_t *store, MDB_txn *txn, void *arg)
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

static int test_count(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_stat stat;
    int rc = mdb_stat(txn, rp_store_dbi(store, "items"), &stat);
    *(size_t *)arg = stat.ms_entries;
    (void)store;
    return rc;
}

static int test_cursor(rp_store_t *store, MDB_txn *txn, void *arg)
{
    *(uint64_t *)arg = rp_store_cursor(store, txn);
    return 0;
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
    assert(rp_store_write(store, test_apply, &a) == 0);
    uint64_t cursor;
    rp_store_read(store, test_cursor, &cursor);
    assert(cursor == 1);

    //  A failing apply leaves neither the record nor the cursor behind.
    a = (apply_t){2, 100, 1};
    assert(rp_store_write(store, test_apply, &a) == -1);
    size_t count;
    rp_store_read(store, test_count, &count);
    assert(count == 1);
    rp_store_read(store, test_cursor, &cursor);
    assert(cursor == 1);

    //  Fill past the initial map: MDB_MAP_FULL grows it and retries.
    size_t before = rp_store_map_size(store);
    for (uint64_t seq = 2; seq < 2 + 70; seq++) {
        a = (apply_t){seq, 1 << 20, 0};
        assert(rp_store_write(store, test_apply, &a) == 0);
    }
    assert(rp_store_map_size(store) > before);
    rp_store_read(store, test_count, &count);
    assert(count == 71);

    //  Reopen: the data and the cursor are there.
    rp_store_destroy(&store);
    store = rp_store_new(path, dbs);
    assert(store);
    rp_store_read(store, test_cursor, &cursor);
    assert(cursor == 71);
    rp_store_destroy(&store);

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert(system(cmd) == 0);
}
