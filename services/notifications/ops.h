/*  ops.h — the inbox ops (docs/notifications.md § Ops). Everyone reaches
    their own entries only: another's id is 404, as one that never was.

    On "notifications" (any instance, min_seq honoured):
      notifications.list {unread?, limit?, cursor?}   the caller's entries,
          newest first, archived ones left out; data {items, next_cursor,
          unread_count}
      notifications.since {after?}   the caller's entries derived after seq
          `after`, oldest first (archived ones left out), 100 at most:
          {items, next_after: the last seq looked at, more}; what the
          gateway's stream asks each time its feed passes a seq (with
          min_seq that seq: services/gateway/feedout.h § Service streams)
    On "notifications.writer" (the lease holder), each appending one
    event with the request's idem ("notifications/<idem>"), answered once
    applied here:
      notifications.read {id, version?}     → notification.read {id, user}
      notifications.archive {id, version?}  → notification.archived {id, user}
          (both answer the entry as stored: ETag its version)
      notifications.read_all {}             → notification.read_all {id: user,
          user, through_seq: the writer's cursor}; data {user, unread_count}
*/
#ifndef NOTIFICATIONS_OPS_H
#define NOTIFICATIONS_OPS_H

#include <rapport/service.h>

//  rp_service_op_fn; arg: the notifications_handlers_t.
void notifications_ops_list(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req);
void notifications_ops_since(void *arg, rp_service_t *service, rp_origin_t *origin,
                             const rp_request_t *req);
void notifications_ops_read(void *arg, rp_service_t *service, rp_origin_t *origin,
                            const rp_request_t *req);
void notifications_ops_archive(void *arg, rp_service_t *service, rp_origin_t *origin,
                               const rp_request_t *req);
void notifications_ops_read_all(void *arg, rp_service_t *service, rp_origin_t *origin,
                                const rp_request_t *req);

#endif
