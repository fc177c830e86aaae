/*  routes.c — the reminders service's HTTP routes, as rows for the
    gateway (libshared route.h). The ops they name: docs/reminders.md; the
    HTTP reference: docs/api.md. Values are checked by the service.
*/
#include <rapport/route.h>

#define REMINDERS "/api/v1/reminders"

static const rp_route_arg_t s_list_query[] = {RP_TEXT("assignee"),
                                              RP_TEXT("state"),
                                              RP_TEXT("kind"),
                                              RP_TEXT("customer_id"),
                                              RP_TEXT("opportunity_id"),
                                              RP_TEXT("due_before"),
                                              RP_TEXT("due_after"),
                                              RP_BOOL("overdue"),
                                              RP_INT("limit"),
                                              RP_TEXT("cursor"),
                                              RP_END};
static const rp_route_arg_t s_agenda_query[] = {RP_TEXT("from"),        RP_TEXT("to"),
                                                RP_TEXT("assignee"),    RP_TEXT("kind"),
                                                RP_TEXT("customer_id"), RP_TEXT("opportunity_id"),
                                                RP_INT("limit"),        RP_END};
static const rp_route_arg_t s_visits_query[] = {RP_TEXT("from"), RP_TEXT("to"), RP_TEXT("by"),
                                                RP_END};
static const rp_route_arg_t s_occurrences_query[] = {RP_TEXT("from"), RP_TEXT("to"),
                                                     RP_INT("limit"), RP_END};
//  If-Match → args.version (412 version_mismatch).
static const rp_route_arg_t s_if_match[] = {RP_IF_MATCH("version"), RP_END};

static const rp_route_t s_rows[] = {
    {.method = "GET",
     .path = REMINDERS,
     .service = "reminders",
     .op = "reminders.list",
     .query = s_list_query},
    {.method = "POST",
     .path = REMINDERS,
     .service = "reminders",
     .op = "reminders.create",
     .write = true,
     .body = RP_BODY_MERGED,
     .idem = true,
     .answer = RP_ANSWER_RECORD,
     .status = 201,
     .location = REMINDERS "/{id}"},
    //  Before /{id}: the calendar's view, series expanded.
    {.method = "GET",
     .path = REMINDERS "/agenda",
     .service = "reminders",
     .op = "reminders.agenda",
     .query = s_agenda_query},
    {.method = "GET",
     .path = REMINDERS "/{id}",
     .service = "reminders",
     .op = "reminders.get",
     .answer = RP_ANSWER_RECORD},
    {.method = "PATCH",
     .path = REMINDERS "/{id}",
     .service = "reminders",
     .op = "reminders.update",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    //  Deleted for good: {id, deleted: true}.
    {.method = "DELETE",
     .path = REMINDERS "/{id}",
     .service = "reminders",
     .op = "reminders.delete",
     .write = true,
     .headers = s_if_match,
     .idem = true},
    {.method = "POST",
     .path = REMINDERS "/{id}/snooze",
     .service = "reminders",
     .op = "reminders.snooze",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "POST",
     .path = REMINDERS "/{id}/done",
     .service = "reminders",
     .op = "reminders.done",
     .write = true,
     .body = RP_BODY_MERGED,
     .headers = s_if_match,
     .idem = true,
     .answer = RP_ANSWER_RECORD},
    {.method = "GET",
     .path = REMINDERS "/{id}/occurrences",
     .service = "reminders",
     .op = "reminders.occurrences",
     .query = s_occurrences_query},
    //  Visit plans per salesperson (report.h).
    {.method = "GET",
     .path = "/api/v1/reports/reminders/visits",
     .service = "reminders",
     .op = "reminders.report.visits",
     .query = s_visits_query},
};

RP_ROUTES(reminders, s_rows);
