/*  apply.c — the opportunities store's fold: customer.* through the
    customers service's apply, then opportunity.* through the table. */
#include "apply.h"
#include "deal.h"
#include "pipelines.h"

#include "../customers/apply.h"

#include "history.h"

#include <rapport/outcome.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

//  the customers fold's (outcomes and the users' among them), the deals'
const char *const opportunities_apply_dbnames[] = {OPPORTUNITIES_APPLY_DBNAMES, NULL};

size_t opportunities_apply_pair(char *out, const char *a, size_t a_len, const char *b, size_t b_len)
{
    if (a_len == 0 || b_len == 0 || a_len > OPPORTUNITIES_MAX_ID || b_len > OPPORTUNITIES_MAX_ID)
        return 0;
    memcpy(out, a, a_len);
    out[a_len] = 0;
    memcpy(out + a_len + 1, b, b_len);
    return a_len + 1 + b_len;
}

//  ---------------------------------------------------------------------
//  opportunity.* events

static const rp_apply_type_t s_types[] = {
    {"opportunity.pipeline_created", pipelines_apply_created},
    {"opportunity.pipeline_updated", pipelines_apply_updated},
    {"opportunity.lost_reasons_set", pipelines_apply_reasons},
    {"opportunity.created", deal_apply_created},
    {"opportunity.updated", deal_apply_updated},
    {"opportunity.stage_changed", deal_apply_stage_changed},
    {"opportunity.archived", deal_apply_archived},
    {"opportunity.restored", deal_apply_restored},
    {NULL},
};

static const rp_apply_def_t s_def = {"opportunities", "opportunity.", OPPORTUNITIES_MAX_ID, s_types,
                                     NULL};

int opportunities_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event)
{
    (void)arg;
    if (event->type_len > 9 && memcmp(event->type, "customer.", 9) == 0) {
        int rc = customers_apply_event(NULL, store, txn, seq, event);
        return rc ? rc : deal_apply_follow(store, txn, seq, event);
    }
    //  Users and leads through the customers fold too: a lead's customer
    //  and owner are then the customers service's own, and its deal follows.
    if (event->type_len > 5 && memcmp(event->type, "user.", 5) == 0)
        return customers_apply_event(NULL, store, txn, seq, event);
    if (rp_event_is(event, "lead.captured")) {
        int rc = customers_apply_event(NULL, store, txn, seq, event);
        return rc ? rc : deal_apply_lead(store, txn, seq, event);
    }
    rp_apply_t self;
    memset(&self, 0, sizeof self);
    return rp_apply_run(&s_def, &self, store, txn, seq, event);
}

//  ---------------------------------------------------------------------
//  Self-test

void opportunities_apply_test_event(rp_store_t *store, uint64_t seq, const char *type,
                                    const char *user, rp_packer_t *data)
{
    rp_apply_test_event(store, opportunities_apply_event, seq, type, "opportunities", user, data);
}

//  The default pipeline, written as its seed event would leave it (the
//  pipeline events have their own self-test in pipelines.c).
static int s_test_pipeline(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    static const char *const stages[][3] = {{"lead", "线索", "open"},
                                            {"proposal", "方案提交", "open"},
                                            {"won", "成交", "won"},
                                            {"lost", "输单", "lost"}};
    static const unsigned probabilities[] = {10, 60, 100, 0};
    rp_packer_t p;
    rp_packer_init(&p);
    msgpack_pack_map(&p.pk, 5);
    rp_pack_kv_cstr(&p.pk, "id", "default");
    rp_pack_kv_cstr(&p.pk, "name", "默认");
    rp_pack_cstr(&p.pk, "stages");
    msgpack_pack_array(&p.pk, 4);
    for (int i = 0; i < 4; i++) {
        msgpack_pack_map(&p.pk, 5);
        rp_pack_kv_cstr(&p.pk, "key", stages[i][0]);
        rp_pack_kv_cstr(&p.pk, "name", stages[i][1]);
        rp_pack_kv_cstr(&p.pk, "kind", stages[i][2]);
        rp_pack_kv_u64(&p.pk, "probability", probabilities[i]);
        rp_pack_kv_u64(&p.pk, "rot_days", 30);
    }
    rp_pack_cstr(&p.pk, "lost_reasons");
    msgpack_pack_array(&p.pk, 1);
    rp_pack_cstr(&p.pk, "价格");
    rp_pack_kv_u64(&p.pk, "version", 1);
    MDB_val k = {7, "default"}, v = {p.buffer.size, p.buffer.data};
    int rc = mdb_put(txn, rp_store_dbi(store, "pipelines"), &k, &v, 0);
    rp_packer_destroy(&p);
    return rc;
}

static void s_test_customer(rp_store_t *store, uint64_t seq, const char *id, const char *name)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "name", name);
    rp_pack_kv_cstr(&data.pk, "owner", "ann");
    rp_pack_kv_cstr(&data.pk, "team", "east");
    opportunities_apply_test_event(store, seq, "customer.created", "ann", &data);
    rp_packer_destroy(&data);
}

//  opportunity.created {id, record: {customer_id, title, amount,
//  probability (when < 101), owner, team}}.
static void s_test_deal(rp_store_t *store, uint64_t seq, const char *id, const char *customer,
                        uint64_t amount, unsigned probability)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, probability <= 100 ? 6 : 5);
    rp_pack_kv_cstr(&data.pk, "customer_id", customer);
    rp_pack_kv_cstr(&data.pk, "title", "扩容项目");
    rp_pack_kv_u64(&data.pk, "amount", amount);
    rp_pack_kv_cstr(&data.pk, "owner", "ann");
    rp_pack_kv_cstr(&data.pk, "team", "east");
    if (probability <= 100)
        rp_pack_kv_u64(&data.pk, "probability", probability);
    opportunities_apply_test_event(store, seq, "opportunity.created", "ann", &data);
    rp_packer_destroy(&data);
}

static void s_test_move(rp_store_t *store, uint64_t seq, const char *id, const char *stage,
                        const char *reason)
{
    rp_packer_t data;
    rp_packer_init(&data);
    msgpack_pack_map(&data.pk, reason ? 3 : 2);
    rp_pack_kv_cstr(&data.pk, "id", id);
    rp_pack_kv_cstr(&data.pk, "stage", stage);
    if (reason)
        rp_pack_kv_cstr(&data.pk, "lost_reason", reason);
    opportunities_apply_test_event(store, seq, "opportunity.stage_changed", "ann", &data);
    rp_packer_destroy(&data);
}

//  The same journal, event by event: deals created, moved, a hand-set
//  probability kept and cleared, lost (with and without a reason), won,
//  their customer merged and reassigned with_opportunities.
static void s_test_journal(rp_store_t *store)
{
    assert(rp_store_write(store, s_test_pipeline, NULL) == 0);
    s_test_customer(store, 1, "c1", "甲公司");
    s_test_customer(store, 2, "c2", "乙公司");
    s_test_deal(store, 3, "d1", "c1", 100, 99);
    s_test_deal(store, 4, "d2", "c1", 200, 101);
    s_test_deal(store, 5, "d3", "nobody", 1, 101);
    s_test_move(store, 6, "d1", "proposal", NULL);
    s_test_move(store, 7, "d2", "lost", NULL);
    s_test_move(store, 8, "d2", "lost", "价格");
    s_test_deal(store, 9, "d4", "c1", 300, 101);
    rp_packer_t data;
    rp_packer_init(&data);
    //  d4: the probability set by hand, then cleared back to the default.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "d4");
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_u64(&data.pk, "probability", 5);
    opportunities_apply_test_event(store, 10, "opportunity.updated", "ann", &data);
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "d4");
    rp_pack_cstr(&data.pk, "changes");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_cstr(&data.pk, "probability");
    msgpack_pack_nil(&data.pk);
    opportunities_apply_test_event(store, 11, "opportunity.updated", "ann", &data);
    s_test_move(store, 12, "d4", "won", NULL);
    //  c1 merged into c2; c2 assigned to bob with its open deals.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c2");
    rp_pack_cstr(&data.pk, "from");
    msgpack_pack_array(&data.pk, 1);
    rp_pack_cstr(&data.pk, "c1");
    opportunities_apply_test_event(store, 13, "customer.merged", "ann", &data);
    msgpack_pack_map(&data.pk, 3);
    rp_pack_kv_cstr(&data.pk, "id", "c2");
    rp_pack_kv_cstr(&data.pk, "owner", "bob");
    rp_pack_kv_bool(&data.pk, "with_opportunities", true);
    opportunities_apply_test_event(store, 14, "customer.assigned", "ann", &data);
    rp_packer_destroy(&data);
}

//  ---------------------------------------------------------------------
//  What the journal leaves

typedef struct {
    uint64_t seq;
    int status;
    const char *code;
} test_outcome_t;

static int s_test_outcome_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_outcome_t *want = (test_outcome_t *)arg;
    MDB_val value;
    assert(rp_outcome_get(store, txn, want->seq, &value) == 0);
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    assert(doc);
    uint64_t status = 0;
    assert(rp_obj_u64(rp_obj_get(rp_doc_root(doc), "status"), &status) &&
           status == (uint64_t)want->status);
    assert(!want->code || rp_obj_streq(rp_obj_get(rp_doc_root(doc), "code"), want->code));
    rp_doc_destroy(&doc);
    return 0;
}

static void s_test_outcome(rp_store_t *store, uint64_t seq, int status, const char *code)
{
    test_outcome_t want = {seq, status, code};
    assert(rp_store_read(store, s_test_outcome_read, &want) == 0);
}

typedef struct {
    const char *id;
    const char *const *kv; //  field, expected value as text ("~": nil), NULL-terminated
} test_deal_t;

static int s_test_deal_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    test_deal_t *want = (test_deal_t *)arg;
    MDB_val k = {strlen(want->id), (void *)want->id}, v;
    assert(mdb_get(txn, rp_store_dbi(store, "opportunities"), &k, &v) == 0);
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    assert(doc);
    for (const char *const *kv = want->kv; *kv; kv += 2) {
        const msgpack_object *o = rp_obj_get(rp_doc_root(doc), kv[0]);
        char text[64] = "~";
        if (o && o->type == MSGPACK_OBJECT_STR)
            snprintf(text, sizeof text, "%.*s", (int)o->via.str.size, o->via.str.ptr);
        else if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            snprintf(text, sizeof text, "%" PRIu64, o->via.u64);
        else if (o && o->type == MSGPACK_OBJECT_BOOLEAN)
            snprintf(text, sizeof text, "%s", o->via.boolean ? "true" : "false");
        if (strcmp(kv[1], "*") == 0 ? strcmp(text, "~") == 0 : strcmp(text, kv[1]) != 0) {
            fprintf(stderr, "deal %s: %s is %s, want %s\n", want->id, kv[0], text, kv[1]);
            assert(false);
        }
    }
    rp_doc_destroy(&doc);
    return 0;
}

static void s_test_expect(rp_store_t *store, const char *id, const char *const *kv)
{
    test_deal_t want = {id, kv};
    assert(rp_store_read(store, s_test_deal_read, &want) == 0);
}

static bool s_test_entry(void *arg, const history_entry_t *entry)
{
    (void)entry;
    (*(size_t *)arg)++;
    return true;
}

static int s_test_counts_read(rp_store_t *store, MDB_txn *txn, void *arg)
{
    (void)arg;
    size_t entries = 0;
    assert(history_each(txn, rp_store_dbi(store, "history"), "d4", 2, s_test_entry, &entries) == 0);
    assert(entries == 4); //  created, probability set, cleared, won
    MDB_val k = {strlen("default") + 1 + strlen("proposal"), "default\0proposal"}, v;
    assert(mdb_get(txn, rp_store_dbi(store, "stage_open"), &k, &v) == 0);
    assert(v.mv_size == 8 && rp_seq_get(v.mv_data) == 1); //  d1
    MDB_val lead = {strlen("default") + 1 + 4, "default\0lead"};
    assert(mdb_get(txn, rp_store_dbi(store, "stage_open"), &lead, &v) == MDB_NOTFOUND);
    MDB_val moved = {5, "c2\0d1"};
    assert(mdb_get(txn, rp_store_dbi(store, "by_customer"), &moved, &v) == 0);
    MDB_val gone = {5, "c1\0d1"};
    assert(mdb_get(txn, rp_store_dbi(store, "by_customer"), &gone, &v) == MDB_NOTFOUND);
    return 0;
}

static void s_test_rules(void)
{
    char dir[] = "/tmp/rp-opportunities-rules-XXXXXX";
    assert(mkdtemp(dir));
    rp_store_t *store = rp_store_new(dir, opportunities_apply_dbnames);
    assert(store);
    s_test_journal(store);
    s_test_outcome(store, 3, 200, NULL);
    s_test_outcome(store, 5, 422, "unknown_customer");
    s_test_outcome(store, 7, 422, "lost_reason_required");
    s_test_outcome(store, 8, 200, NULL);
    s_test_outcome(store, 13, 200, NULL);
    //  d1: 99 % set by hand survives the move to proposal (60 %); moved to
    //  c2 by the merge and to bob with it, as it is open.
    s_test_expect(store, "d1",
                  (const char *const[]){"stage", "proposal", "probability", "99",
                                        "probability_manual", "true", "status", "open",
                                        "customer_id", "c2", "owner", "bob", "closed_at", "~",
                                        "version", "4", NULL});
    //  d2: lost with its reason, probability 0, closed; keeps ann.
    s_test_expect(store, "d2",
                  (const char *const[]){"stage", "lost", "status", "lost", "lost_reason", "价格",
                                        "probability", "0", "closed_at", "*", "owner", "ann",
                                        "customer_id", "c2", "currency", "CNY", NULL});
    //  d4: hand-set 5 %, cleared back to lead's 10 %, then won: 100 %.
    s_test_expect(store, "d4",
                  (const char *const[]){"stage", "won", "status", "won", "probability", "100",
                                        "probability_manual", "false", "owner", "ann", NULL});
    assert(rp_store_read(store, s_test_counts_read, NULL) == 0);
    rp_store_destroy(&store);
    zdir_t *tree = zdir_new(dir, NULL);
    zdir_remove(tree, true);
    zdir_destroy(&tree);
}

void opportunities_apply_test(void)
{
    s_test_rules();
    rp_apply_test_replay("opportunities", opportunities_apply_dbnames, s_test_journal);
}
