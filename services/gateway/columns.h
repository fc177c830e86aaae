/*  columns.h — a customer as a CSV row: the columns import accepts and
    export writes (the writable fields of docs/customers.md, in record
    order), and each cell's conversion to and from the JSON value the
    customers service takes.

    Cells are text, except: tags is the tags joined by ";" (each trimmed,
    empty ones dropped; a tag holding ";" does not survive a round trip),
    custom is a JSON object, credit_limit a decimal number. An empty cell
    is an absent field (an import leaves it unset; export writes "" for
    null).
*/
#ifndef GW_COLUMNS_H
#define GW_COLUMNS_H

#include <event2/buffer.h>
#include <jansson.h>

extern const char *const gw_columns[]; //  NULL-terminated

//  The column's index, or -1.
int gw_column_index(const char *name, size_t len);

//  The JSON value of a non-empty cell, or NULL with *code set ("invalid").
json_t *gw_column_value(int column, const char *cell, size_t len, const char **code);

//  Append a record's value for the column as one CSV field.
void gw_column_write(struct evbuffer *out, int column, const json_t *value);

void gw_columns_test(void);

#endif
