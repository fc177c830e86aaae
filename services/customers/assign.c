/*  assign.c — see assign.h. Tested with the other relation events in
    merge_test. */
#include "assign.h"
#include "apply.h"

#include <string.h>

//  A name as the record keeps it: 1..max bytes, no control characters.
static bool s_assign_name(const msgpack_object *o, const char **str, size_t *len)
{
    return rp_obj_str(o, str, len) && *len > 0 &&
           !rp_normalize_text(*str, *len, ASSIGN_MAX_NAME, RP_TEXT_BLANK);
}

int assign_apply(rp_store_t *store, MDB_txn *txn, const rp_event_t *event, int *status,
                 const char **code)
{
    *status = 200;
    *code = NULL;
    const char *id = NULL, *owner, *team = NULL;
    size_t id_len = 0, owner_len, team_len = 0;
    const msgpack_object *data = event->data, *team_obj = rp_obj_get(data, "team");
    rp_obj_str(rp_obj_get(data, "id"), &id, &id_len);
    if (!s_assign_name(rp_obj_get(data, "owner"), &owner, &owner_len) ||
        (team_obj && team_obj->type != MSGPACK_OBJECT_NIL &&
         !s_assign_name(team_obj, &team, &team_len))) {
        *status = 422;
        *code = "bad_event";
        return 0;
    }
    customers_apply_held_t held;
    int rc = customers_apply_hold(store, txn, id, id_len, &held);
    if (rc == MDB_NOTFOUND) {
        *status = 404;
        *code = "not_found";
        rc = 0;
    } else if (rc == 0 && rp_record_stale(&held.record, data)) {
        *status = 412;
        *code = "version_mismatch";
    } else if (rc == 0) {
        rp_record_set_str(&held.record, CUSTOMER_OWNER, owner, owner_len);
        if (team)
            rp_record_set_str(&held.record, CUSTOMER_TEAM, team, team_len);
        rp_record_stamp(&held.record, event);
        rc = customers_apply_save(store, txn, &held.record,
                                  &held.record); //  no index on owner, team
    }
    customers_apply_release(&held);
    return rc;
}
