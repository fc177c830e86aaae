/*  import.h — a batch's import report: what every service's <name>.import
    op answers for one batch of a file (the gateway's generic CSV / NDJSON
    import, services/gateway/import.h, adds the batches up):

        {created, updated, skipped, rejected: [{line, errors: [{field, code,
         message}]}]}

    The rejected rows are packed as they are found, so a report costs their
    bytes, not a structure per row.
*/
#ifndef RAPPORT_IMPORT_H
#define RAPPORT_IMPORT_H

#include <rapport/pack.h>
#include <rapport/service.h>

typedef struct {
    uint64_t created, updated, skipped;
    rp_packer_t rejected; //  the rejected rows, packed one after another
    size_t rejected_count;
} rp_import_report_t;

void rp_import_report_init(rp_import_report_t *self);
void rp_import_report_destroy(rp_import_report_t *self);

//  Reject the row at line with count errors / with one error (code and
//  message as given: an outcome's code may be none of the field codes).
void rp_import_reject(rp_import_report_t *self, uint32_t line, const rp_field_error_t *errors,
                      int count);
void rp_import_reject_one(rp_import_report_t *self, uint32_t line, const char *field,
                          const char *code, const char *message);

//  Reply 200 {..., seq, data: the report} and free the origin.
void rp_import_report_reply(const rp_import_report_t *self, rp_service_t *service,
                            rp_origin_t **origin_p, uint64_t seq);

void rp_import_test(void);

#endif
