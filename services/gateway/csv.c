/*  csv.c — see csv.h. */
#include "csv.h"

#include <assert.h>
#include <rapport/pack.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    AT_FIELD_START, //  nothing of the field read yet
    IN_UNQUOTED,
    IN_QUOTED,
    AFTER_QUOTE, //  a quote inside a quoted field: "" or the closing one
} state_t;

struct _gw_csv_t {
    gw_csv_record_fn *fn;
    void *arg;
    state_t state;
    size_t line;        //  the physical line being read
    size_t record_line; //  where the current record began
    bool skip_lf;       //  a CR ended the last line: an LF right after is its pair
    bool stopped;
    size_t bom; //  BOM bytes matched at the start; SIZE_MAX once decided
    char *data; //  the record's bytes, each field NUL-terminated
    size_t size, capacity;
    size_t starts[GW_CSV_FIELDS_MAX + 1];
    size_t count;      //  fields complete
    bool empty_record; //  nothing at all on the record's line so far
    const char *error;
};

gw_csv_t *gw_csv_new(gw_csv_record_fn *fn, void *arg)
{
    gw_csv_t *self = (gw_csv_t *)calloc(1, sizeof *self);
    assert(self);
    self->fn = fn;
    self->arg = arg;
    self->line = 1;
    self->record_line = 1;
    self->empty_record = true;
    self->capacity = 1024;
    self->data = (char *)malloc(self->capacity);
    assert(self->data);
    return self;
}

void gw_csv_destroy(gw_csv_t **self_p)
{
    gw_csv_t *self = *self_p;
    if (!self)
        return;
    free(self->data);
    free(self);
    *self_p = NULL;
}

static void s_error(gw_csv_t *self, const char *error)
{
    if (!self->error)
        self->error = error;
}

static void s_byte(gw_csv_t *self, char c)
{
    if (self->error && strcmp(self->error, "too_long") == 0)
        return; //  the record is refused anyway: hold nothing more
    if (self->size + 2 > GW_CSV_RECORD_MAX) {
        self->error = "too_long";
        return;
    }
    if (self->size + 2 > self->capacity) {
        self->capacity *= 2;
        self->data = (char *)realloc(self->data, self->capacity);
        assert(self->data);
    }
    self->data[self->size++] = c;
}

static void s_field_end(gw_csv_t *self)
{
    s_byte(self, 0);
    if (self->count == GW_CSV_FIELDS_MAX)
        self->error = "too_long";
    else
        self->starts[++self->count] = self->size;
    self->state = AT_FIELD_START;
}

//  The record is complete: call back (unless it was a blank line), reset.
static void s_record_end(gw_csv_t *self)
{
    bool blank = self->empty_record && self->count == 0 && self->state == AT_FIELD_START;
    if (!blank) {
        s_field_end(self);
        const char *fields[GW_CSV_FIELDS_MAX];
        size_t lens[GW_CSV_FIELDS_MAX];
        bool whole = !self->error || strcmp(self->error, "too_long") != 0;
        for (size_t i = 0; whole && i < self->count; i++) {
            fields[i] = self->data + self->starts[i];
            lens[i] = self->starts[i + 1] - self->starts[i] - 1;
            if (!rp_utf8_valid(fields[i], lens[i]) || memchr(fields[i], 0, lens[i]))
                s_error(self, "encoding");
        }
        if (!self->fn(self->arg, self->record_line, whole ? fields : NULL, whole ? lens : NULL,
                      whole ? self->count : 0, self->error))
            self->stopped = true;
    }
    self->size = 0;
    self->count = 0;
    self->starts[0] = 0;
    self->error = NULL;
    self->state = AT_FIELD_START;
    self->empty_record = true;
    self->record_line = self->line;
}

//  A line end outside quotes (c is '\r' or '\n').
static void s_line_end(gw_csv_t *self, char c)
{
    if (c == '\n' && self->skip_lf) {
        self->skip_lf = false;
        return;
    }
    self->skip_lf = c == '\r';
    self->line++;
    s_record_end(self);
}

static void s_char(gw_csv_t *self, char c)
{
    if (c != '\n')
        self->skip_lf = false;
    switch (self->state) {
    case AT_FIELD_START:
        if (c == '"') {
            self->state = IN_QUOTED;
            self->empty_record = false;
            return;
        }
        self->state = IN_UNQUOTED;
        //  fall through
    case IN_UNQUOTED:
        if (c == ',') {
            self->empty_record = false;
            s_field_end(self);
        } else if (c == '\r' || c == '\n') {
            if (self->count == 0 && self->size == self->starts[0])
                self->state = AT_FIELD_START; //  nothing on the line
            s_line_end(self, c);
        } else {
            if (c == '"')
                s_error(self, "csv_syntax");
            self->empty_record = false;
            s_byte(self, c);
        }
        return;
    case IN_QUOTED:
        if (c == '"')
            self->state = AFTER_QUOTE;
        else {
            if (c == '\n')
                self->line++;
            s_byte(self, c);
        }
        return;
    case AFTER_QUOTE:
        if (c == '"') {
            s_byte(self, '"');
            self->state = IN_QUOTED;
        } else if (c == ',')
            s_field_end(self);
        else if (c == '\r' || c == '\n') {
            self->state = IN_UNQUOTED; //  the field is done; the record ends
            s_line_end(self, c);
        } else {
            s_error(self, "csv_syntax");
            s_byte(self, c);
            self->state = IN_UNQUOTED;
        }
        return;
    }
}

bool gw_csv_feed(gw_csv_t *self, const char *data, size_t size)
{
    static const char bom[] = "\xEF\xBB\xBF";
    size_t i = 0;
    while (self->bom != SIZE_MAX && i < size) {
        if (data[i] == bom[self->bom]) {
            i++;
            if (++self->bom == 3)
                self->bom = SIZE_MAX;
            continue;
        }
        size_t matched = self->bom; //  not a BOM after all: those bytes are data
        self->bom = SIZE_MAX;
        for (size_t j = 0; j < matched && !self->stopped; j++)
            s_char(self, bom[j]);
    }
    for (; i < size && !self->stopped; i++)
        s_char(self, data[i]);
    return !self->stopped;
}

bool gw_csv_finish(gw_csv_t *self)
{
    if (self->stopped)
        return false;
    if (self->bom != SIZE_MAX && self->bom > 0) { //  input was a partial BOM
        size_t matched = self->bom;
        self->bom = SIZE_MAX;
        gw_csv_feed(self, "\xEF\xBB\xBF", matched);
    }
    if (self->state == IN_QUOTED)
        s_error(self, "csv_syntax");
    if (!self->empty_record || self->count || self->state != AT_FIELD_START)
        s_record_end(self);
    return !self->stopped;
}

void gw_csv_field(struct evbuffer *out, const char *value, size_t len)
{
    bool quote = len && (value[0] == ' ' || value[len - 1] == ' ');
    for (size_t i = 0; i < len && !quote; i++)
        quote = value[i] == ',' || value[i] == '"' || value[i] == '\r' || value[i] == '\n';
    if (!quote) {
        evbuffer_add(out, value, len);
        return;
    }
    evbuffer_add(out, "\"", 1);
    const char *p = value, *end = value + len;
    while (p < end) {
        const char *q = (const char *)memchr(p, '"', (size_t)(end - p));
        size_t n = q ? (size_t)(q - p) + 1 : (size_t)(end - p);
        evbuffer_add(out, p, n);
        if (q)
            evbuffer_add(out, "\"", 1);
        p += n;
    }
    evbuffer_add(out, "\"", 1);
}

//  ---------------------------------------------------------------------
//  Self-test

typedef struct {
    char text[2048]; //  records as "line:field|field|…[!error]\n"
    size_t records;
} test_sink_t;

static bool s_test_record(void *arg, size_t line, const char *const *fields, const size_t *lens,
                          size_t count, const char *error)
{
    test_sink_t *sink = (test_sink_t *)arg;
    char *p = sink->text + strlen(sink->text);
    p += sprintf(p, "%zu:", line);
    for (size_t i = 0; i < count; i++) {
        assert(strlen(fields[i]) == lens[i] || error);
        p += sprintf(p, "%s%.*s", i ? "|" : "", (int)lens[i], fields[i]);
    }
    sprintf(p, "%s%s\n", error ? "!" : "", error ? error : "");
    sink->records++;
    return true;
}

//  Parse input fed in pieces of step bytes; compare with expected.
static void s_test_parse(const char *input, size_t size, size_t step, const char *expected)
{
    test_sink_t sink = {"", 0};
    gw_csv_t *csv = gw_csv_new(s_test_record, &sink);
    for (size_t i = 0; i < size; i += step)
        assert(gw_csv_feed(csv, input + i, size - i < step ? size - i : step));
    assert(gw_csv_finish(csv));
    gw_csv_destroy(&csv);
    if (strcmp(sink.text, expected) != 0) {
        fprintf(stderr, "csv: step %zu\nexpected:\n%sgot:\n%s", step, expected, sink.text);
        assert(false);
    }
}

static void s_test_all_steps(const char *input, size_t size, const char *expected)
{
    for (size_t step = 1; step <= size + 1; step++)
        s_test_parse(input, size, step, expected);
}

static bool s_test_stop(void *arg, size_t line, const char *const *fields, const size_t *lens,
                        size_t count, const char *error)
{
    (void)line, (void)fields, (void)lens, (void)count, (void)error;
    return ++*(int *)arg < 2;
}

void gw_csv_test(void)
{
    //  Plain, CRLF, a last line without a line end, blank lines skipped.
    const char *in = "name,code\r\n上海华联,C1\r\n\r\n北京,C2";
    s_test_all_steps(in, strlen(in), "1:name|code\n2:上海华联|C1\n4:北京|C2\n");

    //  Quoting: commas, "" and newlines inside; line numbers count them.
    in = "a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\r\nlast,\"\"\n";
    s_test_all_steps(in, strlen(in), "1:a|b\n2:x, y|say \"hi\"\n3:two\nlines|z\n5:last|\n");

    //  A BOM is skipped; empty fields stay; CR alone ends a line.
    in = "\xEF\xBB\xBFname,,x\rb,c\n";
    s_test_all_steps(in, strlen(in), "1:name||x\n2:b|c\n");

    //  Errors: a stray quote, text after a closing quote, bad UTF-8, NUL,
    //  an open quote at the end. The record still comes, flagged.
    static const char bad[] = "a\"b,c\n\"x\"y,z\nok,\xC3\x28\nn\0l,1\nfine,1\n\"open,2\n";
    s_test_all_steps(bad, sizeof bad - 1,
                     "1:a\"b|c!csv_syntax\n2:xy|z!csv_syntax\n3:ok|\xC3\x28!encoding\n"
                     "4:n|1!encoding\n5:fine|1\n6:open,2\n!csv_syntax\n");

    //  A BOM-like start that is not one is data.
    in = "\xEF\xBB,x\n";
    s_test_parse(in, strlen(in), 1, "1:\xEF\xBB|x!encoding\n");

    //  Too many fields; a huge record is refused without being held.
    char *wide = (char *)malloc(GW_CSV_FIELDS_MAX * 2 + 8);
    assert(wide);
    size_t n = 0;
    for (size_t i = 0; i <= GW_CSV_FIELDS_MAX; i++) {
        wide[n++] = 'v';
        wide[n++] = ',';
    }
    wide[n - 1] = '\n';
    s_test_parse(wide, n, 64, "1:!too_long\n");
    free(wide);
    size_t big = GW_CSV_RECORD_MAX + 10;
    char *huge = (char *)malloc(big + 8);
    assert(huge);
    memset(huge, 'x', big);
    memcpy(huge + big, "\nok\n", 4);
    s_test_parse(huge, big + 4, 65536, "1:!too_long\n2:ok\n");
    free(huge);

    //  The callback can stop the reader.
    int calls = 0;
    gw_csv_t *csv = gw_csv_new(s_test_stop, &calls);
    assert(!gw_csv_feed(csv, "a\nb\nc\n", 6));
    assert(calls == 2 && !gw_csv_finish(csv));
    gw_csv_destroy(&csv);

    //  Writing: quoted only when needed; what is written reads back.
    struct evbuffer *out = evbuffer_new();
    const char *values[] = {"plain", "a,b", "say \"hi\"", "two\nlines", " pad", "上海", ""};
    for (size_t i = 0; i < 7; i++) {
        if (i)
            evbuffer_add(out, ",", 1);
        gw_csv_field(out, values[i], strlen(values[i]));
    }
    evbuffer_add(out, "\n", 1);
    size_t len = evbuffer_get_length(out);
    char *text = (char *)evbuffer_pullup(out, -1);
    assert(strncmp(text, "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\" pad\",上海,\n", len) ==
           0);
    s_test_all_steps(text, len, "1:plain|a,b|say \"hi\"|two\nlines| pad|上海|\n");
    evbuffer_free(out);
}
