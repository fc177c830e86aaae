/*  listquery.c — see listquery.h. */
#include "listquery.h"
#include "problem.h"
#include "request.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_paged[] = {
    "q",        "grade",         "tier",           "owner",
    "team",     "region",        "industry",       "tag",
    "sort",     "created_after", "created_before", "last_contacted_before",
    "archived", "limit",         "cursor",         NULL};
#define NOT_PAGED 13 //  s_paged without limit and cursor

static bool s_in(const char *value, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(value, *set) == 0)
            return true;
    return false;
}

static bool s_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

//  A date or a UTC time (the service checks the calendar).
static bool s_time_ok(const char *v)
{
    size_t len = strlen(v);
    if (len < 10 || !s_digits(v, 4) || v[4] != '-' || !s_digits(v + 5, 2) || v[7] != '-' ||
        !s_digits(v + 8, 2))
        return false;
    if (len == 10)
        return true;
    return len >= 20 && len <= 30 && v[10] == 'T' && s_digits(v + 11, 2) && v[13] == ':' &&
           s_digits(v + 14, 2) && v[16] == ':' && s_digits(v + 17, 2) && v[len - 1] == 'Z' &&
           (len == 20 || (v[19] == '.' && s_digits(v + 20, len - 21) && len > 21));
}

//  The first problem with one parameter's value, or NULL.
static const char *s_check(const char *name, const char *value)
{
    static const char *const grades[] = {"A", "B", "C", "D", "E", NULL};
    static const char *const tiers[] = {"lead", "prospect",  "transacting",
                                        "key",  "strategic", NULL};
    static const char *const sorts[] = {"created_at", "-created_at", "updated_at", "-updated_at",
                                        "name",       "-name",       "code",       "-code",
                                        "grade",      "-grade",      NULL};
    if (!*value)
        return "must not be empty";
    if (strcmp(name, "grade") == 0 && !s_in(value, grades))
        return "grade is one of A, B, C, D, E";
    if (strcmp(name, "tier") == 0 && !s_in(value, tiers))
        return "tier is one of lead, prospect, transacting, key, strategic";
    if (strcmp(name, "sort") == 0 && !s_in(value, sorts))
        return "sort is created_at, updated_at, name, code or grade, with '-' for descending";
    if (strncmp(name, "created_", 8) == 0 || strcmp(name, "last_contacted_before") == 0)
        return s_time_ok(value) ? NULL
                                : "a date YYYY-MM-DD or a UTC time YYYY-MM-DDTHH:MM:SS[.fff]Z";
    if (strcmp(name, "archived") == 0 && strcmp(value, "true") && strcmp(value, "false"))
        return "archived is true or false";
    if (strcmp(name, "limit") == 0 && !gw_request_limit_value(value))
        return "limit must be 1..200";
    return NULL;
}

//  The typed args (limit a number, archived a boolean), errors into errors.
static json_t *s_typed(json_t *query, json_t *errors)
{
    const char *name;
    json_t *value;
    json_t *args = json_object();
    json_object_foreach(query, name, value)
    {
        const char *text = json_string_value(value);
        const char *problem = s_check(name, text);
        if (problem)
            json_array_append_new(errors,
                                  json_pack("{s:s, s:s, s:s}", "field", name, "code",
                                            strcmp(name, "limit") == 0 ? "out_of_range" : "invalid",
                                            "message", problem));
        else if (strcmp(name, "limit") == 0)
            json_object_set_new(args, name, json_integer(gw_request_limit_value(text)));
        else if (strcmp(name, "archived") == 0)
            json_object_set_new(args, name, json_boolean(strcmp(text, "true") == 0));
        else
            json_object_set(args, name, value);
    }
    return args;
}

json_t *gw_list_query(gw_exchange_t **ex_p, bool paging)
{
    const char *allowed[NOT_PAGED + 3];
    size_t n = 0;
    for (; s_paged[n] && (paging || n < NOT_PAGED); n++)
        allowed[n] = s_paged[n];
    allowed[n] = NULL;
    json_t *query = gw_request_query(ex_p, allowed);
    if (!query)
        return NULL;
    json_t *errors = json_array();
    json_t *args = s_typed(query, errors);
    json_decref(query);
    if (json_array_size(errors)) {
        json_decref(args);
        gw_problem_send_errors(ex_p, 422, "invalid", "some query parameters are not valid", errors);
        return NULL;
    }
    json_decref(errors);
    return args;
}

void gw_list_query_test(void)
{
    assert(s_time_ok("2026-01-02") && s_time_ok("2026-01-02T03:04:05Z"));
    assert(s_time_ok("2026-01-02T03:04:05.123Z") && !s_time_ok("2026-01-02T03:04:05+08:00"));
    assert(!s_time_ok("2026-1-2") && !s_time_ok("2026-01-02T03:04:05.Z"));
    json_t *query = json_pack("{s:s, s:s, s:s, s:s, s:s}", "sort", "-name", "limit", "20",
                              "archived", "true", "grade", "Z", "created_after", "soon");
    json_t *errors = json_array();
    json_t *args = s_typed(query, errors);
    assert(json_array_size(errors) == 2);
    assert(json_integer_value(json_object_get(args, "limit")) == 20);
    assert(json_is_true(json_object_get(args, "archived")));
    assert(strcmp(json_string_value(json_object_get(args, "sort")), "-name") == 0);
    json_decref(args);
    json_decref(errors);
    json_decref(query);
    assert(s_check("limit", "0") && s_check("limit", "201") && !s_check("limit", "200"));
    assert(s_check("sort", "size") && !s_check("sort", "-grade"));
}
