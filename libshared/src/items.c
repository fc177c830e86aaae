/*  items.c — see items.h. */
#include <rapport/items.h>

#include <assert.h>
#include <string.h>

bool rp_items_next(const char **at, const char **item, size_t *len)
{
    if (!*at)
        return false;
    size_t span = strcspn(*at, ",");
    const char *start = *at, *end = *at + span;
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *item = start;
    *len = (size_t)(end - start);
    *at = (*at)[span] ? *at + span + 1 : NULL;
    return true;
}

void rp_items_test(void)
{
    const char *want[] = {"a", "bc", "", "d e", ""};
    const char *at = " a,bc ,\t, d e \t,", *item;
    size_t len, n = 0;
    while (rp_items_next(&at, &item, &len)) {
        assert(n < 5 && len == strlen(want[n]) && memcmp(item, want[n], len) == 0);
        n++;
    }
    assert(n == 5 && at == NULL);
    assert(!rp_items_next(&at, &item, &len));
    at = "";
    assert(rp_items_next(&at, &item, &len) && len == 0 && !rp_items_next(&at, &item, &len));
}
