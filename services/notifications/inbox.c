/*  inbox.c — see inbox.h. */
#include "inbox.h"
#include "apply.h"
#include "entry.h"

#include "../customers/lead.h"

#include <rapport/outcome.h>
#include <rapport/pack.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

//  What one derivation reads: the event, and the entry it fills.
typedef struct {
    rp_store_t *store;
    MDB_txn *txn;
    uint64_t seq;
    const rp_event_t *event;
    entry_t entry;
} derive_t;

//  Formatted into out (size bytes), cut on a UTF-8 boundary.
__attribute__((format(printf, 3, 4))) static void s_format(char *out, size_t size,
                                                           const char *format, ...)
{
    char text[2048];
    va_list args;
    va_start(args, format);
    int n = vsnprintf(text, sizeof text, format, args);
    va_end(args);
    entry_copy(out, size, text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

//  A string field of a map into out ("" when absent).
static void s_field(const msgpack_object *map, const char *key, char *out, size_t size)
{
    const char *str = NULL;
    size_t len = 0;
    rp_obj_str(rp_obj_get(map, key), &str, &len);
    entry_copy(out, size, str, len);
}

//  Field key of the record id in db into out ("" when no such record).
static void s_lookup(derive_t *self, const char *db, const char *id, const char *key, char *out,
                     size_t size)
{
    out[0] = 0;
    MDB_val k = {strlen(id), (void *)id}, v;
    if (!k.mv_size || k.mv_size > 511 ||
        mdb_get(self->txn, rp_store_dbi(self->store, db), &k, &v) != 0)
        return;
    rp_doc_t *doc = rp_doc_new(v.mv_data, v.mv_size, NULL);
    if (doc)
        s_field(rp_doc_root(doc), key, out, size);
    rp_doc_destroy(&doc);
}

//  The fold applied the event (its outcome 200): a refusal tells nobody.
static bool s_applied(derive_t *self)
{
    char code[32];
    return rp_outcome_status(self->store, self->txn, self->seq, code, sizeof code) == 200;
}

static void s_data(derive_t *self, const char *key, char *out, size_t size)
{
    s_field(self->event->data, key, out, size);
}

//  The entry for user, of kind, about record (type, id): stored.
static int s_tell(derive_t *self, const char *user, const char *kind, const char *type,
                  const char *id)
{
    entry_t *e = &self->entry;
    if (!*user || strlen(user) > ENTRY_MAX_ID)
        return 0;
    entry_id(self->seq, e->id);
    snprintf(e->user, sizeof e->user, "%s", user);
    snprintf(e->kind, sizeof e->kind, "%s", kind);
    snprintf(e->record_type, sizeof e->record_type, "%s", type);
    entry_copy(e->record_id, sizeof e->record_id, id, strlen(id));
    e->seq = self->seq;
    int64_t ms = 0;
    const rp_event_t *ev = self->event;
    if (ev->time && rp_time_parse(ev->time, ev->time_len, &ms))
        rp_time_format(ms, e->created_at);
    e->version = 1;
    return notifications_apply_put(self->store, self->txn, e, ms);
}

static int s_reminder_fired(derive_t *self)
{
    char id[ENTRY_MAX_ID + 1], assignee[ENTRY_MAX_ID + 1], subject[ENTRY_MAX_TITLE + 1],
        due[ENTRY_MAX_TIME];
    s_data(self, "id", id, sizeof id);
    s_data(self, "due_at", due, sizeof due);
    if (!*id || !s_applied(self))
        return 0;
    s_lookup(self, "reminders", id, "assignee", assignee, sizeof assignee);
    s_lookup(self, "reminders", id, "subject", subject, sizeof subject);
    s_format(self->entry.title, sizeof self->entry.title, "%s", subject);
    //  The body says when it was due; the related records are the reminder's.
    char customer[ENTRY_MAX_ID + 1], deal[ENTRY_MAX_ID + 1];
    s_lookup(self, "reminders", id, "customer_id", customer, sizeof customer);
    s_lookup(self, "reminders", id, "opportunity_id", deal, sizeof deal);
    char name[ENTRY_MAX_TITLE + 1] = "";
    if (*deal)
        s_lookup(self, "opportunities", deal, "title", name, sizeof name);
    else if (*customer)
        s_lookup(self, "customers", customer, "name", name, sizeof name);
    s_format(self->entry.body, sizeof self->entry.body, "Due %s%s%s", due, *name ? " · " : "",
             name);
    return s_tell(self, assignee, "reminder.fired", "reminder", id);
}

//  The name of a record a rule follows: a customer's, else a deal's.
static const char *s_record_name(derive_t *self, const char *id, char *name, size_t size)
{
    s_lookup(self, "customers", id, "name", name, size);
    if (*name)
        return "customer";
    s_lookup(self, "opportunities", id, "title", name, size);
    return *name ? "opportunity" : "record";
}

static int s_rule_escalated(derive_t *self)
{
    char manager[ENTRY_MAX_ID + 1], owner[ENTRY_MAX_ID + 1], record[ENTRY_MAX_ID + 1],
        owner_name[201], name[ENTRY_MAX_TITLE / 2];
    s_data(self, "manager_id", manager, sizeof manager);
    s_data(self, "owner", owner, sizeof owner);
    s_data(self, "record", record, sizeof record);
    if (!*manager || !s_applied(self))
        return 0;
    s_lookup(self, "users", owner, "name", owner_name, sizeof owner_name);
    const char *type = s_record_name(self, record, name, sizeof name);
    s_format(self->entry.title, sizeof self->entry.title, "Follow-up overdue: %s — %s",
             *owner_name ? owner_name : owner, *name ? name : record);
    char rule[ENTRY_MAX_ID + 1];
    s_data(self, "id", rule, sizeof rule);
    s_format(self->entry.body, sizeof self->entry.body,
             "%s has not followed up on %s in time (rule %s)", *owner_name ? owner_name : owner,
             *name ? name : record, rule);
    return s_tell(self, manager, "rule.escalated", type, record);
}

static int s_customer_assigned(derive_t *self)
{
    char id[ENTRY_MAX_ID + 1], owner[ENTRY_MAX_ID + 1], name[ENTRY_MAX_TITLE / 2];
    s_data(self, "id", id, sizeof id);
    s_data(self, "owner", owner, sizeof owner);
    if (!*id || !s_applied(self))
        return 0;
    s_lookup(self, "customers", id, "name", name, sizeof name);
    s_format(self->entry.title, sizeof self->entry.title, "Customer assigned to you: %s", name);
    s_format(self->entry.body, sizeof self->entry.body, "%s is now yours", name);
    return s_tell(self, owner, "customer.assigned", "customer", id);
}

//  The actor's user of the event ("" when none).
static void s_actor(derive_t *self, char *out, size_t size)
{
    s_field(self->event->actor, "user", out, size);
}

static int s_opportunity_created(derive_t *self)
{
    char id[ENTRY_MAX_ID + 1], owner[ENTRY_MAX_ID + 1], actor[ENTRY_MAX_ID + 1],
        title[ENTRY_MAX_TITLE / 2];
    s_data(self, "id", id, sizeof id);
    if (!*id || !s_applied(self))
        return 0;
    s_lookup(self, "opportunities", id, "owner", owner, sizeof owner);
    s_actor(self, actor, sizeof actor);
    if (strcmp(owner, actor) == 0)
        return 0; //  one's own deal is no news
    s_lookup(self, "opportunities", id, "title", title, sizeof title);
    s_format(self->entry.title, sizeof self->entry.title, "Deal assigned to you: %s", title);
    s_format(self->entry.body, sizeof self->entry.body, "%s is now yours", title);
    return s_tell(self, owner, "opportunity.assigned", "opportunity", id);
}

static int s_stage_changed(derive_t *self)
{
    char id[ENTRY_MAX_ID + 1], status[16], owner[ENTRY_MAX_ID + 1], manager[ENTRY_MAX_ID + 1],
        owner_name[201], title[ENTRY_MAX_TITLE / 2];
    s_data(self, "id", id, sizeof id);
    if (!*id || !s_applied(self))
        return 0;
    s_lookup(self, "opportunities", id, "status", status, sizeof status);
    bool won = strcmp(status, "won") == 0;
    if (!won && strcmp(status, "lost") != 0)
        return 0;
    s_lookup(self, "opportunities", id, "owner", owner, sizeof owner);
    s_lookup(self, "users", owner, "manager_id", manager, sizeof manager);
    s_lookup(self, "users", owner, "name", owner_name, sizeof owner_name);
    s_lookup(self, "opportunities", id, "title", title, sizeof title);
    s_format(self->entry.title, sizeof self->entry.title, "Deal %s: %s", won ? "won" : "lost",
             title);
    s_format(self->entry.body, sizeof self->entry.body, "%s %s %s",
             *owner_name ? owner_name : owner, won ? "won" : "lost", title);
    return s_tell(self, manager, won ? "opportunity.won" : "opportunity.lost", "opportunity", id);
}

static int s_lead_captured(derive_t *self)
{
    MDB_val value;
    if (lead_get(self->store, self->txn, self->seq, &value) != 0)
        return 0;
    char customer[ENTRY_MAX_ID + 1] = "", owner[ENTRY_MAX_ID + 1] = "", name[ENTRY_MAX_TITLE / 2];
    rp_doc_t *doc = rp_doc_new(value.mv_data, value.mv_size, NULL);
    if (doc) {
        s_field(rp_doc_root(doc), "customer_id", customer, sizeof customer);
        s_field(rp_doc_root(doc), "owner", owner, sizeof owner);
    }
    rp_doc_destroy(&doc);
    s_lookup(self, "customers", customer, "name", name, sizeof name);
    char source[65];
    s_data(self, "source", source, sizeof source);
    s_format(self->entry.title, sizeof self->entry.title, "New lead: %s", name);
    s_format(self->entry.body, sizeof self->entry.body, "A lead from %s is yours",
             *source ? source : "the web");
    return s_tell(self, owner, "lead.assigned", "customer", customer);
}

int inbox_derive(rp_store_t *store, MDB_txn *txn, uint64_t seq, const rp_event_t *event)
{
    static const struct {
        const char *type;
        int (*fn)(derive_t *self);
    } rows[] = {{"reminder.fired", s_reminder_fired},
                {"rule.escalated", s_rule_escalated},
                {"customer.assigned", s_customer_assigned},
                {"opportunity.created", s_opportunity_created},
                {"opportunity.stage_changed", s_stage_changed},
                {"lead.captured", s_lead_captured}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rp_event_is(event, rows[i].type)) {
            derive_t self = {.store = store, .txn = txn, .seq = seq, .event = event};
            return rows[i].fn(&self);
        }
    return 0;
}
