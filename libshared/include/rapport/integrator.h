/*  integrator.h — the events integrators publish (an ERP's orders, a web
    site's leads, a phone system's calls) and the check of their data,
    once for every way in (docs/integrators.md, docs/events.md).

    An integrator event is any event whose type no service owns; the
    broker's journal.append refuses one whose type is not listed here or
    whose data does not follow its schema, so HTTP (POST /api/v1/events)
    and ZeroMQ (journal.append) validate alike. The types and their data:

      order.placed      {order_no, customer, amount, currency, quantity,
                         product, spec?, placed_at, cost?}
      order.cancelled   {order_no, cancelled_at, reason?}
      payment.received  {order_no?, customer, amount, currency, received_at}
      lead.captured     {name, company?, phone?, email?, source, campaign?,
                         note?, captured_at}
      activity.logged   {customer? | phone? | email? (one at least),
                         kind: call|email|visit|meeting|note, at, summary,
                         by?, duration_s?}

    customer is a reference {id} | {code} | {tax_id} (exactly one key).
    Money (amount, cost) follows rapport/money.h: a number ≥ 0, at most two
    decimals, at most 10^13; currency is an ISO 4217 code ("CNY"); times
    are RFC 3339 (placed_at, cancelled_at, received_at, captured_at, at);
    texts are one line of bounded bytes (notes, summaries and reasons may
    have newlines). Unknown data keys are refused; a key given as nil
    counts as absent. The data's strings must be UTF-8 (rp_doc_new checks
    that on the way in; the check here refuses invalid bytes too).

    Errors are record field errors (rapport/record.h codes) named from the
    event: "data.amount", "data.customer.code", "data" (not a map), "type"
    (code unknown_type).
*/
#ifndef RAPPORT_INTEGRATOR_H
#define RAPPORT_INTEGRATOR_H

#include <rapport/pack.h>
#include <rapport/record.h>
#include <rapport/service.h>

#include <stdbool.h>
#include <stddef.h>

//  The most field errors one event's check reports.
#define RP_INTEGRATOR_MAX_ERRORS 16

//  Bounds of the data's texts, in bytes.
#define RP_INTEGRATOR_MAX_ORDER_NO 64   //  order_no
#define RP_INTEGRATOR_MAX_REF      64   //  customer.id, .code, .tax_id
#define RP_INTEGRATOR_MAX_TEXT     200  //  names, product, spec, company, campaign, source, by
#define RP_INTEGRATOR_MAX_NOTE     4000 //  note, summary, reason
#define RP_INTEGRATOR_MAX_PHONE    64
#define RP_INTEGRATOR_MAX_DURATION 604800 //  duration_s: a week at most

//  The integrator event types, NULL-terminated, in the order above.
extern const char *const rp_integrator_types[];

//  Is type (len bytes, not NUL-terminated) an integrator event type?
bool rp_integrator_known(const char *type, size_t len);

//  Check the data of an event of type against its schema. Writes up to
//  max errors and returns how many there are (0: valid; at most max). An
//  unknown type is one error {field "type", code "unknown_type"}.
int rp_integrator_check(const char *type, size_t type_len, const msgpack_object *data,
                        rp_field_error_t *errors, int max);

//  The data's fields, in each type's schema order (rp_integrator_read).
enum {
    RP_ORDER_NO,
    RP_ORDER_AMOUNT,
    RP_ORDER_CURRENCY,
    RP_ORDER_QUANTITY,
    RP_ORDER_PRODUCT,
    RP_ORDER_SPEC,
    RP_ORDER_PLACED_AT,
    RP_ORDER_COST
};
enum { RP_CANCEL_ORDER_NO, RP_CANCEL_AT, RP_CANCEL_REASON };
enum { RP_PAYMENT_ORDER_NO, RP_PAYMENT_AMOUNT, RP_PAYMENT_CURRENCY, RP_PAYMENT_AT };
enum {
    RP_LEAD_NAME,
    RP_LEAD_COMPANY,
    RP_LEAD_PHONE,
    RP_LEAD_EMAIL,
    RP_LEAD_SOURCE,
    RP_LEAD_CAMPAIGN,
    RP_LEAD_NOTE,
    RP_LEAD_AT
};
enum {
    RP_LOGGED_PHONE,
    RP_LOGGED_EMAIL,
    RP_LOGGED_KIND,
    RP_LOGGED_AT,
    RP_LOGGED_SUMMARY,
    RP_LOGGED_BY,
    RP_LOGGED_DURATION
};

//  For the services that fold these events: read data of type into
//  record (initialized here with the type's table; reset it after),
//  normalized as the journal checked it (times in UTC with milliseconds,
//  e-mails lower-cased). False when the type is unknown or the data does
//  not check (an event that reached the journal some other way): the
//  record is then empty.
bool rp_integrator_read(const char *type, size_t type_len, const msgpack_object *data,
                        rp_record_t *record);

//  The customer reference of data ({id} | {code} | {tax_id}): which key
//  ("id", "code", "tax_id") and its value. False when there is none.
bool rp_integrator_customer(const msgpack_object *data, const char **key, const char **value,
                            size_t *len);

//  Self-test support: pack the data of a valid order.placed (order_no,
//  customer {code "K3-001"}, amount, CNY, quantity 1, a product, a time).
void rp_integrator_test_order(msgpack_packer *pk, const char *order_no, uint64_t amount);
//  The same for the customer of another code.
void rp_integrator_test_order_of(msgpack_packer *pk, const char *order_no, const char *code,
                                 uint64_t amount);

void rp_integrator_test(void);

#endif
