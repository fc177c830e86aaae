/*  directory.c — see directory.h. */
#include "directory.h"
#include "../users/apply.h" //  the users service's fold: the one set of rules

#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <rapport/envelope.h>
#include <rapport/log.h>
#include <rapport/pack.h>
#include <rapport/store.h>

struct _gw_directory_t {
    char *dir;         //  the replica's directory, removed at destroy
    rp_store_t *store; //  the users store, as the users service folds it
    zhashx_t *cache;   //  key hash → gw_member_t: the hot path, emptied by every user.* event
    uint64_t cursor;
    bool failed; //  the replica could not be written: no key is accepted
};

static void s_member_free(void **item)
{
    free(*item);
    *item = NULL;
}

static void s_remove(const char *path)
{
    zdir_t *dir = zdir_new(path, NULL);
    if (dir)
        zdir_remove(dir, true);
    zdir_destroy(&dir);
}

//  Replicas left by gateways that died without cleaning up (a replica is
//  named after its process; ours may be a stale one of a previous life
//  under the same pid, in a container).
static void s_remove_stale(const char *parent)
{
    DIR *listing = opendir(parent);
    struct dirent *entry;
    while (listing && (entry = readdir(listing))) {
        char *end = NULL;
        if (strncmp(entry->d_name, "directory-", 10) != 0)
            continue;
        long pid = strtol(entry->d_name + 10, &end, 10);
        if (!end || *end || pid <= 0)
            continue;
        if (pid == (long)getpid() || (kill((pid_t)pid, 0) == -1 && errno == ESRCH)) {
            char *path = zsys_sprintf("%s/%s", parent, entry->d_name);
            s_remove(path);
            zstr_free(&path);
        }
    }
    if (listing)
        closedir(listing);
}

gw_directory_t *gw_directory_new(const char *parent)
{
    char *dir = NULL;
    if (parent) {
        zsys_dir_create("%s", parent);
        s_remove_stale(parent);
        dir = zsys_sprintf("%s/directory-%d", parent, (int)getpid());
        if (mkdir(dir, 0700))
            zstr_free(&dir);
    } else {
        dir = strdup("/tmp/directory-test-XXXXXX");
        if (!mkdtemp(dir))
            zstr_free(&dir);
    }
    if (!dir) {
        rp_error("gateway: cannot make the users replica's directory under %s",
                 parent ? parent : "/tmp");
        return NULL;
    }
    rp_store_t *store = rp_store_new_cache(dir, users_apply_dbnames);
    if (!store) {
        s_remove(dir);
        zstr_free(&dir);
        return NULL;
    }
    gw_directory_t *self = (gw_directory_t *)zmalloc(sizeof *self);
    self->dir = dir;
    self->store = store;
    self->cache = zhashx_new();
    zhashx_set_destructor(self->cache, s_member_free);
    return self;
}

void gw_directory_destroy(gw_directory_t **self_p)
{
    gw_directory_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->cache);
    rp_store_destroy(&self->store);
    s_remove(self->dir);
    zstr_free(&self->dir);
    free(self);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------
//  The fold

typedef struct {
    uint64_t seq;
    const rp_event_t *event;
} fold_t;

static int s_fold(rp_store_t *store, MDB_txn *txn, void *arg)
{
    fold_t *fold = (fold_t *)arg;
    int rc = users_apply_event(NULL, store, txn, fold->seq, fold->event);
    return rc ? rc : rp_store_set_cursor(store, txn, fold->seq);
}

int gw_directory_apply(void *arg, uint64_t seq, const char *type, size_t type_len,
                       const uint8_t *event, size_t size)
{
    gw_directory_t *self = (gw_directory_t *)arg;
    self->cursor = seq;
    if (type_len < 5 || memcmp(type, "user.", 5) != 0)
        return 0;              //  not ours: no decoding
    zhashx_purge(self->cache); //  a member may have changed: ask the store again
    const char *err = NULL;
    rp_doc_t *doc = rp_doc_new(event, size, &err);
    rp_event_t parsed;
    if (doc)
        err = rp_event_parse(rp_doc_root(doc), &parsed);
    if (err) //  the users service skips it alike
        rp_debug("directory: seq %" PRIu64 " is malformed, skipped: %s", seq, err);
    else if (!self->failed) {
        fold_t fold = {seq, &parsed};
        int rc = rp_store_write(self->store, s_fold, &fold);
        if (rc) { //  fail closed: a replica that missed an event must not answer
            rp_error("directory: applying seq %" PRIu64 " failed (%d): user keys refused", seq, rc);
            self->failed = true;
        }
    }
    rp_doc_destroy(&doc);
    return 0;
}

static int s_clear(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    return rp_store_clear(store, txn);
}

void gw_directory_clear(gw_directory_t *self)
{
    zhashx_purge(self->cache);
    self->cursor = 0;
    int rc = rp_store_write(self->store, s_clear, NULL);
    if (rc) { //  fail closed, as for an event that could not be folded
        rp_error("directory: emptying the replica failed (%d): user keys refused", rc);
        self->failed = true;
    }
}

//  ---------------------------------------------------------------------
//  Reading the replica: the record format of services/users/user.h, read
//  by field name.

typedef struct {
    const char *key; //  a key hash, or NULL
    const char *id;  //  else a user id
    size_t id_len;
    gw_member_t *member;
    bool found;
} read_t;

static bool s_copy(const msgpack_object *o, char *out, size_t max)
{
    const char *str;
    size_t len;
    *out = 0;
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return true;
    if (!rp_obj_str(o, &str, &len) || len > max)
        return false;
    memcpy(out, str, len);
    out[len] = 0;
    return true;
}

static int s_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    read_t *read = (read_t *)arg;
    MDB_val id = {read->id_len, (void *)read->id}, value;
    if (read->key && users_apply_key_get(store, txn, read->key, strlen(read->key), &id))
        return 0;
    if (users_apply_record_get(store, txn, (const char *)id.mv_data, id.mv_size, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    const msgpack_object *root = doc ? rp_doc_root(doc) : NULL;
    const msgpack_object *active = rp_obj_get(root, "active");
    gw_member_t *member = read->member;
    memset(member, 0, sizeof *member);
    read->found = active && active->type == MSGPACK_OBJECT_BOOLEAN && active->via.boolean &&
                  id.mv_size <= GW_DIRECTORY_ID_MAX;
    if (read->found) {
        memcpy(member->user, id.mv_data, id.mv_size);
        read->found = s_copy(rp_obj_get(root, "role"), member->role, GW_DIRECTORY_ROLE_MAX) &&
                      s_copy(rp_obj_get(root, "team"), member->team, GW_DIRECTORY_TEAM_MAX);
    }
    rp_doc_destroy(&doc);
    return 0;
}

bool gw_directory_lookup(gw_directory_t *self, const char *key_hash, gw_member_t *member)
{
    if (!key_hash || self->failed)
        return false;
    gw_member_t *cached = (gw_member_t *)zhashx_lookup(self->cache, key_hash);
    if (cached) {
        *member = *cached;
        return true;
    }
    read_t read = {.key = key_hash, .member = member};
    rp_store_read(self->store, s_read, &read);
    if (read.found && zhashx_size(self->cache) < GW_DIRECTORY_CACHE_MAX) {
        gw_member_t *copy = (gw_member_t *)malloc(sizeof *copy);
        assert(copy);
        *copy = *member;
        zhashx_insert(self->cache, key_hash, copy);
    }
    return read.found;
}

bool gw_directory_member(gw_directory_t *self, const char *user, gw_member_t *member)
{
    if (!user || self->failed)
        return false;
    read_t read = {.id = user, .id_len = strlen(user), .member = member};
    rp_store_read(self->store, s_read, &read);
    return read.found;
}

uint64_t gw_directory_cursor(gw_directory_t *self)
{
    return self->cursor;
}

static int s_count(rp_store_t *store, MDB_txn *txn, void *arg)
{
    MDB_stat stat;
    if (mdb_stat(txn, rp_store_dbi(store, "keys"), &stat) == 0)
        *(size_t *)arg = stat.ms_entries;
    return 0;
}

size_t gw_directory_size(gw_directory_t *self)
{
    size_t count = 0;
    rp_store_read(self->store, s_count, &count);
    return count;
}

//  ---------------------------------------------------------------------
//  Self-test: one journal of hand-made events, folded by the gateway's
//  directory and by the users service's store (its apply, as its runtime
//  calls it), and every key resolved by both: the directory, and the
//  store as users.by_key reads it (services/users/handlers.c: the keys
//  database, then the record through the users record class).

#include "../users/user.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"
#define H5 "5555555555555555555555555555555555555555555555555555555555555555"

static const char *const s_test_hashes[] = {H1, H2, H3, H4, H5, NULL};

typedef struct {
    gw_directory_t *dir;
    rp_store_t *users; //  the users service's store
    uint64_t seq;
} test_t;

//  Pack a journal event {specversion, id, source, type, time, data} with
//  data packed by fn, and give it to both.
typedef void(test_data_fn)(msgpack_packer *pk, const char **args);

static void s_test_fold(test_t *t, const char *type, test_data_fn *fn, const char **args)
{
    rp_packer_t packer;
    rp_packer_init(&packer);
    msgpack_pack_map(&packer.pk, 6);
    rp_pack_kv_cstr(&packer.pk, "specversion", "1.0");
    char id[24];
    snprintf(id, sizeof id, "ev%" PRIu64, ++t->seq);
    rp_pack_kv_cstr(&packer.pk, "id", id);
    rp_pack_kv_cstr(&packer.pk, "source", "users");
    rp_pack_kv_cstr(&packer.pk, "type", type);
    rp_pack_kv_cstr(&packer.pk, "time", "2026-12-02T08:00:00.000Z");
    rp_pack_cstr(&packer.pk, "data");
    fn(&packer.pk, args);
    assert(gw_directory_apply(t->dir, t->seq, type, strlen(type),
                              (const uint8_t *)packer.buffer.data, packer.buffer.size) == 0);
    assert(gw_directory_cursor(t->dir) == t->seq);
    rp_doc_t *doc = rp_doc_new(packer.buffer.data, packer.buffer.size, NULL);
    rp_event_t event;
    assert(doc && rp_event_parse(rp_doc_root(doc), &event) == NULL);
    fold_t fold = {t->seq, &event};
    assert(rp_store_write(t->users, s_fold, &fold) == 0);
    rp_doc_destroy(&doc);
    rp_packer_destroy(&packer);
}

typedef struct {
    const char *hash;
    bool found;
    char id[USER_MAX_ID + 1], role[16], team[USER_MAX_TEAM + 1];
} by_key_t;

static void s_test_str(rp_record_t *record, int field, char *out, size_t max)
{
    const char *str = "";
    size_t len = 0;
    if (!rp_record_str(record, field, &str, &len) || len >= max)
        len = 0;
    memcpy(out, str, len);
    out[len] = 0;
}

static int s_test_by_key(rp_store_t *store, MDB_txn *txn, void *arg)
{
    by_key_t *q = (by_key_t *)arg;
    MDB_val id, value;
    if (users_apply_key_get(store, txn, q->hash, strlen(q->hash), &id) ||
        users_apply_record_get(store, txn, (const char *)id.mv_data, id.mv_size, &value))
        return 0;
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    rp_record_t record;
    user_init(&record);
    rp_record_from_map(&record, rp_doc_root(doc));
    q->found = rp_record_bool(&record, USER_ACTIVE);
    s_test_str(&record, USER_ID, q->id, sizeof q->id);
    s_test_str(&record, USER_ROLE, q->role, sizeof q->role);
    s_test_str(&record, USER_TEAM, q->team, sizeof q->team);
    rp_record_reset(&record);
    rp_doc_destroy(&doc);
    return 0;
}

//  Every key resolves alike on both sides; the number of keys held too.
static void s_test_agree(test_t *t)
{
    for (size_t i = 0; s_test_hashes[i]; i++) {
        by_key_t q = {.hash = s_test_hashes[i]};
        rp_store_read(t->users, s_test_by_key, &q);
        gw_member_t member;
        bool found = gw_directory_lookup(t->dir, s_test_hashes[i], &member);
        assert(found == q.found);
        assert(!found || (streq(member.user, q.id) && streq(member.role, q.role) &&
                          streq(member.team, q.team)));
        //  A second lookup (from the cache) says the same.
        gw_member_t again;
        assert(gw_directory_lookup(t->dir, s_test_hashes[i], &again) == found);
        assert(!found || memcmp(&again, &member, sizeof member) == 0);
    }
    size_t keys = 0;
    rp_store_read(t->users, s_count, &keys);
    assert(gw_directory_size(t->dir) == keys);
}

//  args: id, key_hash, email, role, team (NULL: absent), manager_id (NULL: absent)
static void s_test_created(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 3);
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_kv_cstr(pk, "key_hash", args[1]);
    rp_pack_cstr(pk, "record");
    msgpack_pack_map(pk, 3 + (args[4] != NULL) + (args[5] != NULL));
    rp_pack_kv_cstr(pk, "name", "王芳");
    rp_pack_kv_cstr(pk, "email", args[2]);
    rp_pack_kv_cstr(pk, "role", args[3]);
    if (args[4])
        rp_pack_kv_cstr(pk, "team", args[4]);
    if (args[5])
        rp_pack_kv_cstr(pk, "manager_id", args[5]);
}

//  args: id, change name, value ("~" packs nil), expected_version or NULL
static void s_test_updated(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 2 + (args[3] != NULL));
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_cstr(pk, "changes");
    msgpack_pack_map(pk, 1);
    rp_pack_cstr(pk, args[1]);
    if (streq(args[2], "~"))
        msgpack_pack_nil(pk);
    else
        rp_pack_cstr(pk, args[2]);
    if (args[3])
        rp_pack_kv_u64(pk, "expected_version", (uint64_t)atoi(args[3]));
}

//  args: id, key_hash
static void s_test_rotated(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 2);
    rp_pack_kv_cstr(pk, "id", args[0]);
    rp_pack_kv_cstr(pk, "key_hash", args[1]);
}

//  args: id, expected_version or NULL
static void s_test_revoked(msgpack_packer *pk, const char **args)
{
    msgpack_pack_map(pk, 1 + (args[1] != NULL));
    rp_pack_kv_cstr(pk, "id", args[0]);
    if (args[1])
        rp_pack_kv_u64(pk, "expected_version", (uint64_t)atoi(args[1]));
}

static void s_test_create(test_t *t, const char *id, const char *hash, const char *email,
                          const char *role, const char *team, const char *manager)
{
    const char *args[] = {id, hash, email, role, team, manager};
    s_test_fold(t, "user.created", s_test_created, args);
    s_test_agree(t);
}

static void s_test_update(test_t *t, const char *id, const char *field, const char *value,
                          const char *expected)
{
    const char *args[] = {id, field, value, expected};
    s_test_fold(t, "user.updated", s_test_updated, args);
    s_test_agree(t);
}

static bool s_test_is(test_t *t, const char *hash, const char *user, const char *role,
                      const char *team)
{
    gw_member_t member;
    memset(&member, 0, sizeof member);
    return gw_directory_lookup(t->dir, hash, &member) && streq(member.user, user) &&
           streq(member.role, role) && streq(member.team, team);
}

void gw_directory_test(void)
{
    char users_dir[] = "/tmp/directory-test-users-XXXXXX";
    assert(mkdtemp(users_dir));
    test_t t = {.dir = gw_directory_new(NULL),
                .users = rp_store_new_cache(users_dir, users_apply_dbnames)};
    assert(t.dir && t.users);
    test_t *dir = &t;
    gw_member_t member;
    assert(gw_directory_size(t.dir) == 0 && !gw_directory_lookup(t.dir, H1, &member));

    //  A manager and a sales user of one team, one without a team.
    s_test_create(dir, "m1", H1, "li@example.cn", "manager", "east", NULL);
    s_test_create(dir, "s1", H2, "wang@example.cn", "sales", "east", "m1");
    s_test_create(dir, "r1", H3, "zhao@example.cn", "readonly", NULL, NULL);
    assert(gw_directory_size(t.dir) == 3);
    assert(s_test_is(dir, H1, "m1", "manager", "east"));
    assert(s_test_is(dir, H2, "s1", "sales", "east"));
    assert(s_test_is(dir, H3, "r1", "readonly", ""));
    assert(gw_directory_member(t.dir, "s1", &member) && streq(member.role, "sales"));
    assert(!gw_directory_member(t.dir, "nobody", &member));

    //  Refused as the users service refuses them: an id reused, a taken
    //  key or e-mail (also when it differs in case only: the users
    //  service compares normalized e-mails, which the gateway's own fold
    //  did not), a manager who is not one, a bad hash or role.
    s_test_create(dir, "m1", H4, "new@example.cn", "admin", NULL, NULL);
    s_test_create(dir, "x1", H1, "x1@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x2", H4, "li@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x2", H4, "LI@Example.CN", "sales", NULL, NULL);
    s_test_create(dir, "x3", H4, "x3@example.cn", "sales", NULL, "s1");
    s_test_create(dir, "x4", H4, "x4@example.cn", "sales", NULL, "x4");
    s_test_create(dir, "x5", "ABCD", "x5@example.cn", "sales", NULL, NULL);
    s_test_create(dir, "x6", H4, "x6@example.cn", "root", NULL, NULL);
    s_test_create(dir, "x7", H4, "not an e-mail", "sales", NULL, NULL);
    assert(gw_directory_size(t.dir) == 3 && !gw_directory_lookup(t.dir, H4, &member));
    assert(s_test_is(dir, H1, "m1", "manager", "east"));

    //  Updates: role and team take effect; a stale expected_version, a
    //  taken e-mail or a bad role change nothing; nil team is "".
    s_test_update(dir, "s1", "team", "west", "1");
    assert(s_test_is(dir, H2, "s1", "sales", "west"));
    s_test_update(dir, "s1", "role", "readonly", "1"); //  stale: version is 2
    s_test_update(dir, "s1", "email", "li@example.cn", NULL);
    s_test_update(dir, "s1", "email", "Li@example.cn", NULL);
    s_test_update(dir, "s1", "role", "boss", NULL);
    s_test_update(dir, "s1", "manager_id", "r1", NULL);
    s_test_update(dir, "nobody", "role", "admin", NULL);
    assert(s_test_is(dir, H2, "s1", "sales", "west"));
    s_test_update(dir, "s1", "role", "manager", "2");
    s_test_update(dir, "s1", "team", "~", NULL);
    assert(s_test_is(dir, H2, "s1", "manager", ""));
    s_test_update(dir, "s1", "email", "wang.new@example.cn", NULL); //  frees the old e-mail
    s_test_create(dir, "s2", H4, "wang@example.cn", "sales", "east", "s1");
    assert(s_test_is(dir, H4, "s2", "sales", "east"));

    //  Rotation: the old key stops, the new one works; a taken hash is refused.
    const char *rotate[] = {"s2", H3};
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate); //  r1 holds H3
    s_test_agree(dir);
    assert(s_test_is(dir, H4, "s2", "sales", "east"));
    rotate[1] = H5;
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate);
    s_test_agree(dir);
    assert(!gw_directory_lookup(t.dir, H4, &member));
    assert(s_test_is(dir, H5, "s2", "sales", "east"));

    //  Revocation: stale is refused; then the key is gone for good, the
    //  id cannot come back, the e-mail is free again, a repeat is harmless.
    const char *revoke[] = {"s2", "1"};
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke); //  s2 is at version 2
    s_test_agree(dir);
    assert(gw_directory_lookup(t.dir, H5, &member));
    revoke[1] = "2";
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke);
    s_test_agree(dir);
    assert(!gw_directory_lookup(t.dir, H5, &member) && !gw_directory_member(t.dir, "s2", &member));
    s_test_fold(dir, "user.revoked", s_test_revoked, revoke);
    s_test_fold(dir, "user.key_rotated", s_test_rotated, rotate);
    s_test_update(dir, "s2", "role", "admin", NULL);
    assert(!gw_directory_lookup(t.dir, H5, &member));
    s_test_create(dir, "s2", H4, "s2@example.cn", "sales", NULL, NULL);
    assert(!gw_directory_lookup(t.dir, H4, &member));
    s_test_create(dir, "s3", H4, "wang@example.cn", "integrator", NULL, NULL);
    assert(s_test_is(dir, H4, "s3", "integrator", ""));
    assert(gw_directory_size(t.dir) == 4);

    //  Other types are skipped undecoded (even garbage); garbage user.* too.
    t.seq++;
    assert(gw_directory_apply(t.dir, t.seq, "customer.created", 16, (const uint8_t *)"\xc1", 1) ==
           0);
    t.seq++;
    assert(gw_directory_apply(t.dir, t.seq, "user.created", 12, (const uint8_t *)"\xc1", 1) == 0);
    assert(gw_directory_cursor(t.dir) == t.seq && gw_directory_size(t.dir) == 4);
    s_test_agree(dir);

    //  Another journal: every key of this one stops working at once.
    assert(gw_directory_lookup(t.dir, H4, &member)); //  in the hot path's cache too
    gw_directory_clear(t.dir);
    assert(gw_directory_cursor(t.dir) == 0 && gw_directory_size(t.dir) == 0);
    assert(!gw_directory_lookup(t.dir, H4, &member) && !gw_directory_member(t.dir, "s3", &member));

    gw_directory_destroy(&t.dir);
    assert(t.dir == NULL);
    rp_store_destroy(&t.users);
    s_remove(users_dir);
}
