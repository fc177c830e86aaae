/*  opportunity.h — the deal record (DESIGN.md §5; docs/opportunities.md
    § A deal): its field table over rp_record (rapport/record.h).

    Stored as one MessagePack map with every field below in table order
    (absent values nil). Amounts (amount, budget, products' unit_price) are
    numbers as given, with at most two decimals; sums are made in integer
    hundredths (rapport/money.h), never in floating point.
*/
#ifndef OPPORTUNITIES_OPPORTUNITY_H
#define OPPORTUNITIES_OPPORTUNITY_H

#include <rapport/record.h>

typedef enum {
    OPPORTUNITY_ID,
    OPPORTUNITY_CUSTOMER_ID,
    OPPORTUNITY_TITLE,
    OPPORTUNITY_PIPELINE_ID,
    OPPORTUNITY_STAGE,
    OPPORTUNITY_AMOUNT,
    OPPORTUNITY_CURRENCY,
    OPPORTUNITY_PROBABILITY,
    OPPORTUNITY_PROBABILITY_MANUAL, //  read-only: set by hand, survives moves
    OPPORTUNITY_EXPECTED_CLOSE,
    OPPORTUNITY_BUDGET,
    OPPORTUNITY_PRODUCTS,
    OPPORTUNITY_QUOTE_NO,
    OPPORTUNITY_COMPETITORS,
    OPPORTUNITY_SOURCE,
    OPPORTUNITY_OWNER,
    OPPORTUNITY_TEAM,
    OPPORTUNITY_LOST_REASON,
    OPPORTUNITY_STATUS, //  read-only: open, won, lost (the stage's kind)
    OPPORTUNITY_STAGE_ENTERED_AT,
    OPPORTUNITY_CLOSED_AT,
    OPPORTUNITY_TAGS,
    OPPORTUNITY_CUSTOM,
    OPPORTUNITY_ARCHIVED,
    OPPORTUNITY_VERSION,
    OPPORTUNITY_CREATED_AT,
    OPPORTUNITY_UPDATED_AT,
    OPPORTUNITY_FIELDS
} opportunity_field_t;

#define OPPORTUNITY_MAX_ERRORS   32
#define OPPORTUNITY_CURRENCY_DEF "CNY"

//  An empty deal record.
void opportunity_init(rp_record_t *self);

//  The field's wire name ("expected_close").
const char *opportunity_field_name(int field);

void opportunity_test(void);

#endif
