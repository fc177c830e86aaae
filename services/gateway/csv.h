/*  csv.h — RFC 4180 CSV, read as a stream and written field by field.

    The reader is pushed bytes as they arrive (any split, even inside a
    quoted field or a CRLF) and calls back once per record with its fields
    and the physical line the record starts on (line 1 is the first line;
    a quoted field holding newlines spans lines, and the next record's
    number accounts for them). It holds one record at a time, never the
    input. Accepted: a UTF-8 byte-order mark at the start (skipped), CRLF,
    LF or CR line ends, quoted fields with "" for a quote. Blank lines are
    skipped. A record with a problem still comes back, with an error code:
        "csv_syntax"  a quote inside an unquoted field, text after a closing
                      quote, or a quote left open at the end of the input
        "encoding"    a field that is not valid UTF-8 or holds a NUL
        "too_long"    the record is over GW_CSV_RECORD_MAX bytes, or has
                      more than GW_CSV_FIELDS_MAX fields (fields then NULL)
*/
#ifndef GW_CSV_H
#define GW_CSV_H

#include <event2/buffer.h>
#include <stdbool.h>
#include <stddef.h>

#define GW_CSV_RECORD_MAX (1024 * 1024)
#define GW_CSV_FIELDS_MAX 256

typedef struct _gw_csv_t gw_csv_t;

//  One record: fields[i] of lens[i] bytes (NUL-terminated too), count of
//  them; error NULL or a code above. Return false to stop the reader.
typedef bool(gw_csv_record_fn)(void *arg, size_t line, const char *const *fields,
                               const size_t *lens, size_t count, const char *error);

gw_csv_t *gw_csv_new(gw_csv_record_fn *fn, void *arg);
void gw_csv_destroy(gw_csv_t **self_p);

//  Push bytes; records are called back as they complete. Returns false once
//  the callback has asked to stop (the rest is ignored).
bool gw_csv_feed(gw_csv_t *self, const char *data, size_t size);

//  The input ended: the last record (without a line end) is called back.
bool gw_csv_finish(gw_csv_t *self);

//  Append one field to out, quoted when it holds a comma, quote, CR or LF,
//  or begins or ends with a space.
void gw_csv_field(struct evbuffer *out, const char *value, size_t len);

void gw_csv_test(void);

#endif
