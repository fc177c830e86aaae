/*  items.h — the items of a comma-separated setting ("a, b,c"), each
    trimmed of spaces and tabs: the allow-list of webhooks/allow_hosts and
    the retry schedule of webhooks/schedule are both written so.

        const char *at = text, *item;
        size_t len;
        while (rp_items_next(&at, &item, &len))
            …item, len bytes, not NUL-terminated…

    Every comma separates, so "a,,b" has an empty second item and "a," an
    empty last one: the caller decides whether an empty item is an error.
*/
#ifndef RAPPORT_ITEMS_H
#define RAPPORT_ITEMS_H

#include <stdbool.h>
#include <stddef.h>

//  The next item of *at into item and len; false once the last is taken
//  (*at is then NULL). A text of "" has one item, empty.
bool rp_items_next(const char **at, const char **item, size_t *len);

void rp_items_test(void);

#endif
