/*  columns.c — see columns.h. */
#include "columns.h"
#include "csv.h"
#include "json.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int gw_columns_index(const gw_columns_t *table, const char *name, size_t len)
{
    for (int i = 0; table->columns[i].name; i++)
        if (strlen(table->columns[i].name) == len && memcmp(table->columns[i].name, name, len) == 0)
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

json_t *gw_column_value(const gw_column_t *column, const char *cell, size_t len, const char **code)
{
    json_t *value = NULL;
    *code = "invalid";
    if (column->kind == GW_COLUMN_LIST)
        value = s_tags(cell, len);
    else if (column->kind == GW_COLUMN_NUMBER)
        value = s_number(cell, len);
    else if (column->kind == GW_COLUMN_OBJECT) {
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

void gw_column_write(struct evbuffer *out, const gw_column_t *column, const json_t *value)
{
    if (!value || json_is_null(value))
        return;
    if (json_is_string(value)) {
        gw_csv_field(out, json_string_value(value), json_string_length(value));
    } else if (column->kind == GW_COLUMN_LIST && json_is_array(value)) {
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

void gw_columns_write_header(struct evbuffer *out, const gw_columns_t *table)
{
    for (int i = 0; table->columns[i].name; i++) {
        if (i)
            evbuffer_add(out, ",", 1);
        evbuffer_add(out, table->columns[i].name, strlen(table->columns[i].name));
    }
    evbuffer_add(out, "\r\n", 2);
}

void gw_columns_write_row(struct evbuffer *out, const gw_columns_t *table, const json_t *record)
{
    for (int i = 0; table->columns[i].name; i++) {
        if (i)
            evbuffer_add(out, ",", 1);
        gw_column_write(out, &table->columns[i], json_object_get(record, table->columns[i].name));
    }
    evbuffer_add(out, "\r\n", 2);
}

void gw_columns_test(void)
{
    static const gw_column_t columns[] = {{"tax_id", GW_COLUMN_TEXT},
                                          {"tags", GW_COLUMN_LIST},
                                          {"credit_limit", GW_COLUMN_NUMBER},
                                          {"custom", GW_COLUMN_OBJECT},
                                          {NULL, GW_COLUMN_TEXT}};
    const gw_columns_t table = {"thing", columns};
    assert(gw_columns_index(&table, "tax_id", 6) == 0 && gw_columns_index(&table, "id", 2) == -1);
    const char *code;
    const gw_column_t *tags = &table.columns[1], *limit = &table.columns[2],
                      *custom = &table.columns[3];
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
    assert(!gw_column_value(custom, "[1]", 3, &code));
    //  A header and a row: absent and null cells are empty.
    evbuffer_drain(out, evbuffer_get_length(out));
    gw_columns_write_header(out, &table);
    json_t *record = json_pack("{s:s, s:[s,s], s:n, s:O}", "tax_id", "91x", "tags", "a", "b",
                               "credit_limit", "custom", v);
    gw_columns_write_row(out, &table, record);
    const char *want = "tax_id,tags,credit_limit,custom\r\n91x,a;b,,\"{\"\"k\"\":1}\"\r\n";
    assert(evbuffer_get_length(out) == strlen(want));
    assert(memcmp(evbuffer_pullup(out, -1), want, strlen(want)) == 0);
    json_decref(record);
    json_decref(v);
    evbuffer_free(out);
}
