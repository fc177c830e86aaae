/*  report.h — the visit plans' report (the seed's 拜访计划; docs/
    reminders.md § Visits): reminders of kind "visit", per salesperson.

    reminders.report.visits {from, to (RFC 3339, to - from ≤ 366 days),
    by? ("owner", the default, or "team")} → {from, to, by, items: [{key,
    planned, done, overdue, upcoming}], total: {planned, done, overdue,
    upcoming}}: the occurrences in [from, to] of the visits within the
    caller's read reach (cancelled ones left out), grouped by assignee
    (or team; "" for none), in key order. planned counts them all; done
    those done; overdue those not done whose time has passed; upcoming
    the others (planned = done + overdue + upcoming).
*/
#ifndef REMINDERS_REPORT_H
#define REMINDERS_REPORT_H

#include <rapport/service.h>

#define REPORT_RANGE_MAX (366LL * 86400 * 1000)
#define REPORT_PER_VISIT 1000 //  occurrences of one series counted, at most

void reminders_report_visits(void *arg, rp_service_t *service, rp_origin_t *origin,
                             const rp_request_t *req);

void reminders_report_test(void);

#endif
