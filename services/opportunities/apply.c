/*  apply.c — the opportunities store's fold: customer.* through the
    customers service's apply, then opportunity.* through the table. */
#include "apply.h"
#include "pipelines.h"

#include "../customers/apply.h"

#include <rapport/outcome.h>

#include <string.h>

const char *const opportunities_apply_dbnames[] = {
    //  the customers fold's (customers_apply_dbnames, outcomes among them)
    "customers", "codes", "tax_ids", "similar", RP_OUTCOME_DB, "sorted", "contacts",
    "contact_names", "activities", "activity_ids", "timeline",
    //  the deals'
    "opportunities", "pipelines", "history", "by_customer", "stage_open", "opp_sorted", NULL};

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
    {NULL},
};

static const rp_apply_def_t s_def = {"opportunities", "opportunity.", OPPORTUNITIES_MAX_ID, s_types,
                                     NULL};

int opportunities_apply_event(void *arg, rp_store_t *store, MDB_txn *txn, uint64_t seq,
                              const rp_event_t *event)
{
    (void)arg;
    if (event->type_len > 9 && memcmp(event->type, "customer.", 9) == 0)
        return customers_apply_event(NULL, store, txn, seq, event);
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

//  The same journal, event by event.
static void s_test_journal(rp_store_t *store)
{
    rp_packer_t data;
    rp_packer_init(&data);
    //  A customer, folded with the customers apply.
    msgpack_pack_map(&data.pk, 2);
    rp_pack_kv_cstr(&data.pk, "id", "c1");
    rp_pack_cstr(&data.pk, "record");
    msgpack_pack_map(&data.pk, 1);
    rp_pack_kv_cstr(&data.pk, "name", "甲公司");
    opportunities_apply_test_event(store, 1, "customer.created", NULL, &data);
    rp_packer_destroy(&data);
}

void opportunities_apply_test(void)
{
    rp_apply_test_replay("opportunities", opportunities_apply_dbnames, s_test_journal);
}
