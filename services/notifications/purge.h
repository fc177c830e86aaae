/*  purge.h — retention (docs/notifications.md § Retention): the writer
    appends notification.purged {id: the period, before: now − retention}
    when it starts and every purge period (notifications/purge_every,
    default P1D) after, with the idem "notifications/purge/<period>" (the
    period's number since the epoch), so a writer that takes over within
    the same period appends nothing again. Apply deletes the entries
    created before `before`, alike on every instance.
*/
#ifndef NOTIFICATIONS_PURGE_H
#define NOTIFICATIONS_PURGE_H

#include <rapport/config.h>
#include <rapport/service.h>

#define PURGE_RETENTION "P90D"
#define PURGE_EVERY     "P1D"

typedef struct {
    int64_t retention_ms;
    int64_t every_ms;
    int64_t last_ms; //  when the last purge was appended (0: not yet)
    bool in_flight;
} notifications_purge_t;

//  notifications/retention and notifications/purge_every from config:
//  0, or -1 (logged) when one is not a duration of a second or more.
int notifications_purge_configure(notifications_purge_t *self, rp_config_t *config);

//  On the writer (a lease held): append the purge when it is due.
void notifications_purge_tick(notifications_purge_t *self, rp_service_t *service, int64_t now_ms);

void notifications_purge_test(void);

#endif
