/*  import.h — customers.import: one batch of an import file, checked and
    written as one journal append (docs/customers.md "Import").

    On customers.writer. args:
        {session, mode: "create" | "upsert", dry_run?, final?,
         rows: [{line, record: {field: value…}}]}       (1..IMPORT_BATCH_MAX rows)
    data: {created, updated, skipped, rejected: [{line, errors: [{field, code,
    message}]}]} for this batch; the gateway adds the batches up.

    Each row is checked as a create (or, in upsert mode when it matches a
    stored record by code, then tax id, then e-mail, as an update of that
    record) with the same rules as customers.create / update, then against:
      - earlier rows of the same session (the file): the same code, tax id,
        e-mail, normalized name, phone or mobile → rejected, code
        "duplicate", message "same <field> as line N";
      - stored records: a create whose code or tax id is taken, or whose
        normalized name, phone or e-mail a record has → "duplicate"; an
        update whose new code or tax id another record has → "duplicate".
    An upsert row that changes nothing is skipped. The accepted rows become
    customer.created (allow_duplicate: the import checked) and
    customer.updated (expected_version) events in one append; the reply
    comes once they are applied, and a row whose event was refused at apply
    time (a race with another write) is reported rejected with the
    outcome's code. dry_run does every check and appends nothing.

    A session remembers the rows it accepted as 64-bit keyed hashes of
    their keys (SipHash, libsodium crypto_shorthash): 12 bytes a key, about
    6 MB for 100,000 rows, not the rows themselves. It ends with the batch
    marked final, or IMPORT_SESSION_IDLE_S after its last batch.
*/
#ifndef CUSTOMERS_IMPORT_H
#define CUSTOMERS_IMPORT_H

#include <rapport/service.h>

#define IMPORT_BATCH_MAX      500
#define IMPORT_SESSIONS_MAX   64
#define IMPORT_SESSION_IDLE_S 600

typedef struct _import_t import_t;

//  region: the default phone region ("CN").
import_t *import_new(const char *region);
void import_destroy(import_t **self_p);

//  The customers.import op (rp_service_op_fn; arg: the customers handlers,
//  handlers.h, whose import_t it uses).
void import_request(void *arg, rp_service_t *service, rp_origin_t *origin, const rp_request_t *req);

void import_test(void);

#endif
