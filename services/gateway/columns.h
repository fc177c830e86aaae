/*  columns.h — a record as a CSV row: a resource's column table (which
    fields import accepts and export writes, in order) and each cell's
    conversion to and from the JSON value the service takes.

    A column is a record field and a kind:
      GW_COLUMN_TEXT    the cell is the string
      GW_COLUMN_LIST    the strings joined by ";" (each trimmed, empty ones
                        dropped; an item holding ";" does not survive a
                        round trip)
      GW_COLUMN_OBJECT  a JSON object
      GW_COLUMN_NUMBER  a decimal number (an integer up to 2^53, or a real)
    An empty cell is an absent field (an import leaves it unset; export
    writes "" for null). The tables themselves live with the resources that
    use them (csvdefs.h).
*/
#ifndef GW_COLUMNS_H
#define GW_COLUMNS_H

#include <event2/buffer.h>
#include <jansson.h>

typedef enum {
    GW_COLUMN_TEXT,
    GW_COLUMN_LIST,
    GW_COLUMN_OBJECT,
    GW_COLUMN_NUMBER
} gw_column_kind_t;

typedef struct {
    const char *name; //  the record field and the CSV header
    gw_column_kind_t kind;
} gw_column_t;

typedef struct {
    const char *noun;           //  one record, in messages ("customer")
    const gw_column_t *columns; //  ends with {NULL}
} gw_columns_t;

//  The column's index in table, or -1.
int gw_columns_index(const gw_columns_t *table, const char *name, size_t len);

//  The JSON value of a non-empty cell, or NULL with *code set ("invalid").
json_t *gw_column_value(const gw_column_t *column, const char *cell, size_t len, const char **code);

//  Append a record's value for the column as one CSV field.
void gw_column_write(struct evbuffer *out, const gw_column_t *column, const json_t *value);

//  Append table's header row / one record as a row, CRLF-terminated.
void gw_columns_write_header(struct evbuffer *out, const gw_columns_t *table);
void gw_columns_write_row(struct evbuffer *out, const gw_columns_t *table, const json_t *record);

void gw_columns_test(void);

#endif
