/*  problem.c — see problem.h. */
#include "problem.h"
#include "json.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>

json_t *gw_problem_new(int status, const char *code, const char *detail, json_t *errors)
{
    char type[160];
    snprintf(type, sizeof type, "/problems/%s", code);
    json_t *problem =
        json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title", gw_status_phrase(status),
                  "status", status, "detail", detail ? detail : "", "code", code);
    if (problem && errors)
        json_object_set(problem, "errors", errors);
    json_decref(errors);
    return problem;
}

void gw_problem_send_errors(gw_exchange_t **ex_p, int status, const char *code, const char *detail,
                            json_t *errors)
{
    //  A caller that knows better (the rate limit) sets its own Retry-After.
    struct evkeyvalq *out = evhttp_request_get_output_headers(gw_exchange_req(*ex_p));
    if ((status == 503 || status == 429) && !evhttp_find_header(out, "Retry-After")) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", GW_RETRY_AFTER_S);
        gw_exchange_add_header(*ex_p, "Retry-After", seconds);
    }
    json_t *problem = gw_problem_new(status, code, detail, errors);
    size_t size = 0;
    char *text = problem ? gw_json_dump(problem, &size) : NULL;
    json_decref(problem);
    if (!text) //  detail or code not valid UTF-8: a caller's bug, still answer
        gw_exchange_send(ex_p, status, "application/problem+json", "{}", 2);
    else
        gw_exchange_send(ex_p, status, "application/problem+json", text, size);
    free(text);
}

void gw_problem_send(gw_exchange_t **ex_p, int status, const char *code, const char *detail)
{
    gw_problem_send_errors(ex_p, status, code, detail, NULL);
}
