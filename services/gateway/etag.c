/*  etag.c — see etag.h. */
#include "etag.h"
#include "problem.h"

#include <czmq.h>
#include <errno.h>

gw_if_match_t gw_if_match_parse(const char *value, uint64_t *version)
{
    if (!value || streq(value, "*"))
        return GW_IF_MATCH_NONE;
    size_t len = strlen(value);
    size_t digits = len >= 2 ? strspn(value + 1, "0123456789") : 0;
    if (len < 3 || len > 22 || value[0] != '"' || digits != len - 2 || value[len - 1] != '"')
        return GW_IF_MATCH_BAD;
    errno = 0;
    *version = strtoull(value + 1, NULL, 10);
    return errno ? GW_IF_MATCH_BAD : GW_IF_MATCH_VERSION;
}

gw_if_match_t gw_if_match(gw_exchange_t **ex_p, uint64_t *version)
{
    gw_if_match_t if_match = gw_if_match_parse(gw_exchange_header(*ex_p, "If-Match"), version);
    if (if_match == GW_IF_MATCH_BAD)
        gw_problem_send(
            ex_p, 400, "bad_if_match",
            "If-Match must be \"*\" or one entity tag as given in ETag (\"<version>\")");
    return if_match;
}

bool gw_etag_format(const json_t *record, char etag[GW_ETAG_MAX])
{
    json_t *version = json_object_get(record, "version");
    if (!json_is_integer(version) || json_integer_value(version) < 0)
        return false;
    snprintf(etag, GW_ETAG_MAX, "\"%" JSON_INTEGER_FORMAT "\"", json_integer_value(version));
    return true;
}

void gw_etag_add(gw_exchange_t *ex, const json_t *record)
{
    char etag[GW_ETAG_MAX];
    if (gw_etag_format(record, etag))
        gw_exchange_add_header(ex, "ETag", etag);
}

void gw_etag_test(void)
{
    uint64_t version = 0;
    assert(gw_if_match_parse(NULL, &version) == GW_IF_MATCH_NONE);
    assert(gw_if_match_parse("*", &version) == GW_IF_MATCH_NONE);
    assert(gw_if_match_parse("\"7\"", &version) == GW_IF_MATCH_VERSION && version == 7);
    assert(gw_if_match_parse("\"18446744073709551615\"", &version) == GW_IF_MATCH_VERSION);
    assert(version == UINT64_MAX);
    assert(gw_if_match_parse("\"18446744073709551616\"", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("7", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("W/\"7\"", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("\"\"", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("\"7\", \"8\"", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("\"-1\"", &version) == GW_IF_MATCH_BAD);
    assert(gw_if_match_parse("\"", &version) == GW_IF_MATCH_BAD);
}
