/*  columns.c — see columns.h. */
#include "columns.h"
#include "csv.h"
#include "json.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const gw_columns[] = {
    "code",    "name",   "short_name",   "type",     "grade",  "tier",     "nature",
    "owner",   "team",   "phone",        "mobile",   "fax",    "email",    "website",
    "country", "region", "address",      "postcode", "tax_id", "industry", "registered_on",
    "tags",    "custom", "credit_limit", NULL};

int gw_column_index(const char *name, size_t len)
{
    for (int i = 0; gw_columns[i]; i++)
        if (strlen(gw_columns[i]) == len && memcmp(gw_columns[i], name, len) == 0)
            return i;
    return -1;
}

static json_t *s_tags(const char *cell, size_t len)
{
    json_t *tags = json_array();
    const char *p = cell, *end = cell + len;
    while (p <= end) {
        const char *semi = (const char *)memchr(p, ';', (size_t)(end - p));
        const char *stop = semi ? semi : end;
        const char *a = p, *b = stop;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a)
            json_array_append_new(tags, json_stringn(a, (size_t)(b - a)));
        p = stop + 1;
    }
    return tags;
}

static json_t *s_number(const char *cell, size_t len)
{
    char text[64];
    if (len == 0 || len >= sizeof text)
        return NULL;
    memcpy(text, cell, len);
    text[len] = 0;
    char *end = NULL;
    if (strspn(text, "0123456789") == len) {
        unsigned long long v = strtoull(text, &end, 10);
        return v <= (1ULL << 53) ? json_integer((json_int_t)v) : NULL;
    }
    double d = strtod(text, &end);
    return end && *end == 0 && isfinite(d) && strspn(text, "0123456789.-+eE") == len ? json_real(d)
                                                                                     : NULL;
}

json_t *gw_column_value(int column, const char *cell, size_t len, const char **code)
{
    const char *name = gw_columns[column];
    json_t *value = NULL;
    *code = "invalid";
    if (strcmp(name, "tags") == 0)
        value = s_tags(cell, len);
    else if (strcmp(name, "credit_limit") == 0)
        value = s_number(cell, len);
    else if (strcmp(name, "custom") == 0) {
        char err[160];
        value = gw_json_parse(cell, len, err, sizeof err);
        if (value && !json_is_object(value)) {
            json_decref(value);
            value = NULL;
        }
    } else
        value = json_stringn(cell, len);
    return value;
}

void gw_column_write(struct evbuffer *out, int column, const json_t *value)
{
    const char *name = gw_columns[column];
    if (!value || json_is_null(value))
        return;
    if (json_is_string(value)) {
        gw_csv_field(out, json_string_value(value), json_string_length(value));
    } else if (strcmp(name, "tags") == 0 && json_is_array(value)) {
        struct evbuffer *joined = evbuffer_new();
        size_t i;
        json_t *tag;
        json_array_foreach(value, i, tag)
        {
            if (i)
                evbuffer_add(joined, ";", 1);
            if (json_is_string(tag))
                evbuffer_add(joined, json_string_value(tag), json_string_length(tag));
        }
        size_t len = evbuffer_get_length(joined);
        gw_csv_field(out, (const char *)evbuffer_pullup(joined, -1), len);
        evbuffer_free(joined);
    } else {
        size_t size = 0;
        char *text = gw_json_dump(value, &size);
        if (text)
            gw_csv_field(out, text, size);
        free(text);
    }
}

void gw_columns_test(void)
{
    assert(gw_column_index("tax_id", 6) >= 0 && gw_column_index("id", 2) == -1);
    const char *code;
    int tags = gw_column_index("tags", 4), limit = gw_column_index("credit_limit", 12),
        custom = gw_column_index("custom", 6);
    json_t *v = gw_column_value(tags, " vip ; 华东;;x", strlen(" vip ; 华东;;x"), &code);
    assert(json_array_size(v) == 3 && strcmp(json_string_value(json_array_get(v, 1)), "华东") == 0);
    struct evbuffer *out = evbuffer_new();
    gw_column_write(out, tags, v);
    json_decref(v);
    assert(evbuffer_get_length(out) == strlen("vip;华东;x"));
    v = gw_column_value(limit, "1500.5", 6, &code);
    assert(json_is_real(v) && json_real_value(v) == 1500.5);
    json_decref(v);
    assert(!gw_column_value(limit, "12abc", 5, &code) && strcmp(code, "invalid") == 0);
    v = gw_column_value(custom, "{\"k\":1}", 7, &code);
    assert(json_is_object(v));
    evbuffer_drain(out, evbuffer_get_length(out));
    gw_column_write(out, custom, v);
    assert(evbuffer_get_length(out) == strlen("\"{\"\"k\"\":1}\""));
    json_decref(v);
    assert(!gw_column_value(custom, "[1]", 3, &code));
    evbuffer_free(out);
}
