/*  netguard.c — see netguard.h. */
#include <rapport/netguard.h>
#include <rapport/items.h>

#include <arpa/inet.h>
#include <assert.h>
#include <curl/curl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int rp_netaddr_parse(const char *text, rp_netaddr_t *addr)
{
    memset(addr, 0, sizeof *addr);
    if (inet_pton(AF_INET, text, addr->bytes) == 1)
        addr->family = 4;
    else if (inet_pton(AF_INET6, text, addr->bytes) == 1)
        addr->family = 6;
    else
        return -1;
    return 0;
}

void rp_netaddr_format(const rp_netaddr_t *addr, char text[RP_NETGUARD_ADDR_TEXT])
{
    int af = addr->family == 4 ? AF_INET : AF_INET6;
    if (!inet_ntop(af, addr->bytes, text, RP_NETGUARD_ADDR_TEXT))
        snprintf(text, RP_NETGUARD_ADDR_TEXT, "?");
}

//  Are the first prefix bits of a and b the same?
static bool s_prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xFF << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

typedef struct {
    const char *net;
    int prefix;
    const char *reason; //  NULL: carries an IPv4 address at `embedded`
    int embedded;
} s_block_t;

//  IANA's special-purpose registries (RFC 6890 and successors), most
//  specific first where blocks nest.
static const s_block_t s_v4_blocks[] = {
    {"0.0.0.0", 8, "unspecified", 0},        {"10.0.0.0", 8, "private", 0},
    {"100.64.0.0", 10, "cgnat", 0},          {"127.0.0.0", 8, "loopback", 0},
    {"169.254.0.0", 16, "link_local", 0},    {"172.16.0.0", 12, "private", 0},
    {"192.0.0.0", 24, "reserved", 0},        {"192.0.2.0", 24, "documentation", 0},
    {"192.88.99.0", 24, "reserved", 0},      {"192.168.0.0", 16, "private", 0},
    {"198.18.0.0", 15, "reserved", 0},       {"198.51.100.0", 24, "documentation", 0},
    {"203.0.113.0", 24, "documentation", 0}, {"224.0.0.0", 4, "multicast", 0},
    {"255.255.255.255", 32, "broadcast", 0}, {"240.0.0.0", 4, "reserved", 0},
};

static const s_block_t s_v6_blocks[] = {
    {"::", 128, "unspecified", 0},      {"::1", 128, "loopback", 0},
    {"::ffff:0:0", 96, NULL, 12},       {"::", 96, NULL, 12}, //  IPv4-compatible
    {"64:ff9b::", 96, NULL, 12},        {"64:ff9b:1::", 48, "reserved", 0},
    {"100::", 64, "reserved", 0},       {"2001:db8::", 32, "documentation", 0},
    {"2001::", 23, "reserved", 0},      {"2002::", 16, NULL, 2}, //  6to4
    {"3fff::", 20, "documentation", 0}, {"fc00::", 7, "unique_local", 0},
    {"fe80::", 10, "link_local", 0},    {"fec0::", 10, "site_local", 0},
    {"ff00::", 8, "multicast", 0},
};

static const s_block_t *s_block_of(const rp_netaddr_t *addr)
{
    const s_block_t *blocks = addr->family == 4 ? s_v4_blocks : s_v6_blocks;
    size_t count = addr->family == 4 ? sizeof s_v4_blocks / sizeof s_v4_blocks[0]
                                     : sizeof s_v6_blocks / sizeof s_v6_blocks[0];
    for (size_t i = 0; i < count; i++) {
        rp_netaddr_t net;
        int rc = rp_netaddr_parse(blocks[i].net, &net);
        assert(rc == 0);
        if (s_prefix_equal(addr->bytes, net.bytes, blocks[i].prefix))
            return &blocks[i];
    }
    return NULL;
}

const char *rp_netguard_classify(const rp_netaddr_t *addr)
{
    const s_block_t *block = s_block_of(addr);
    if (!block)
        return NULL;
    if (block->reason)
        return block->reason;
    rp_netaddr_t v4 = {.family = 4};
    memcpy(v4.bytes, addr->bytes + block->embedded, 4);
    return rp_netguard_classify(&v4);
}

//  ::ffff:a.b.c.d as a.b.c.d; any other address as itself.
static rp_netaddr_t s_unmapped(const rp_netaddr_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    rp_netaddr_t out = *addr;
    if (addr->family == 6 && memcmp(addr->bytes, mapped, 12) == 0) {
        memset(&out, 0, sizeof out);
        out.family = 4;
        memcpy(out.bytes, addr->bytes + 12, 4);
    }
    return out;
}

//  One entry, "address" or "address/prefix", len bytes, already trimmed.
static const char *s_allow_entry(const char *text, size_t len, rp_netguard_allow_t *allow)
{
    char copy[RP_NETGUARD_ADDR_TEXT + 4];
    if (len == 0 || len >= sizeof copy)
        return "invalid";
    memcpy(copy, text, len);
    copy[len] = 0;
    char *slash = strchr(copy, '/');
    int prefix = -1;
    if (slash) {
        *slash = 0;
        char *end;
        long bits = strtol(slash + 1, &end, 10);
        if (slash[1] < '0' || slash[1] > '9' || *end || bits > 128) //  strtol takes " +8"
            return "invalid";
        prefix = (int)bits;
    }
    rp_netaddr_t net;
    if (rp_netaddr_parse(copy, &net) != 0)
        return "invalid";
    int width = net.family == 4 ? 32 : 128;
    if (prefix < 0)
        prefix = width;
    if (prefix > width)
        return "invalid";
    rp_netaddr_t masked = {.family = net.family};
    for (int bit = 0; bit < prefix; bit++)
        masked.bytes[bit / 8] |= (uint8_t)(net.bytes[bit / 8] & (0x80 >> (bit % 8)));
    if (memcmp(masked.bytes, net.bytes, 16) != 0)
        return "host_bits";
    if (allow->count == RP_NETGUARD_ALLOW_MAX)
        return "too_many";
    allow->entries[allow->count].net = net;
    allow->entries[allow->count].prefix = prefix;
    allow->count++;
    return NULL;
}

const char *rp_netguard_allow_parse(const char *text, rp_netguard_allow_t *allow,
                                    char bad[RP_NETGUARD_ENTRY_MAX])
{
    allow->count = 0;
    if (!text || !text[strspn(text, " \t")])
        return NULL;
    const char *at = text, *item;
    size_t len;
    while (rp_items_next(&at, &item, &len)) {
        const char *error = s_allow_entry(item, len, allow);
        if (error) {
            if (bad)
                snprintf(bad, RP_NETGUARD_ENTRY_MAX, "%.*s", (int)len, item);
            allow->count = 0;
            return error;
        }
    }
    return NULL;
}

bool rp_netguard_allowed(const rp_netguard_allow_t *allow, const rp_netaddr_t *addr)
{
    rp_netaddr_t plain = s_unmapped(addr);
    for (size_t i = 0; allow && i < allow->count; i++) {
        const rp_netaddr_t *net = &allow->entries[i].net;
        int prefix = allow->entries[i].prefix;
        if ((net->family == addr->family && s_prefix_equal(addr->bytes, net->bytes, prefix)) ||
            (net->family == plain.family && s_prefix_equal(plain.bytes, net->bytes, prefix)))
            return true;
    }
    return false;
}

const char *rp_netguard_judge(const rp_netguard_allow_t *allow, const rp_netaddr_t *addr)
{
    if (rp_netguard_allowed(allow, addr))
        return NULL;
    return rp_netguard_classify(addr);
}

//  Scheme, host and port from libcurl's parser; NULL or why not.
static const char *s_parse_url(const char *url, rp_netguard_target_t *target)
{
    CURLU *u = curl_url();
    if (!u)
        return "bad_url";
    char *scheme = NULL, *host = NULL, *port = NULL, *zone = NULL;
    const char *error = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
        error = "bad_url";
    else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)
        error = "bad_scheme";
    else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
             curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        error = "bad_url";
    else if (curl_url_get(u, CURLUPART_ZONEID, &zone, 0) == CURLUE_OK)
        error = "bad_url"; //  a zone id names a link, not a host
    else {
        size_t len = strlen(host);
        bool bracketed = len >= 2 && host[0] == '[' && host[len - 1] == ']';
        if (bracketed)
            snprintf(target->host, sizeof target->host, "%.*s", (int)(len - 2), host + 1);
        else
            snprintf(target->host, sizeof target->host, "%s", host);
        target->https = strcmp(scheme, "https") == 0;
        target->port = atoi(port);
        if (len == 0 || len >= sizeof target->host || target->port <= 0 || target->port > 65535)
            error = "bad_url";
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(zone);
    curl_url_cleanup(u);
    return error;
}

static void s_addr_from(const struct sockaddr *sa, rp_netaddr_t *addr)
{
    memset(addr, 0, sizeof *addr);
    if (sa->sa_family == AF_INET) {
        addr->family = 4;
        memcpy(addr->bytes, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
    } else {
        addr->family = 6;
        memcpy(addr->bytes, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    }
}

//  Every address of the list is judged; the first few are kept. One
//  refused address refuses them all (a name answering with a public and a
//  private address is the DNS-rebinding trick).
static const char *s_judge_list(const rp_netguard_allow_t *allow, const struct addrinfo *list,
                                rp_netguard_target_t *target)
{
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        rp_netaddr_t addr;
        s_addr_from(ai->ai_addr, &addr);
        const char *reason = rp_netguard_judge(allow, &addr);
        if (reason) {
            rp_netaddr_format(&addr, target->refused);
            target->reason = reason;
            target->count = 0;
            return "refused";
        }
        if (target->count < RP_NETGUARD_ADDRS_MAX)
            target->addrs[target->count++] = addr;
    }
    return target->count ? NULL : "unresolved";
}

static const char *s_resolve(const rp_netguard_allow_t *allow, rp_netguard_target_t *target)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *list = NULL;
    if (getaddrinfo(target->host, NULL, &hints, &list) != 0 || !list)
        return "unresolved";
    const char *error = s_judge_list(allow, list, target);
    freeaddrinfo(list);
    return error;
}

const char *rp_netguard_check_url(const char *url, const rp_netguard_allow_t *allow,
                                  rp_netguard_target_t *target)
{
    memset(target, 0, sizeof *target);
    if (!url || strnlen(url, RP_NETGUARD_URL_MAX + 1) > RP_NETGUARD_URL_MAX)
        return "bad_url";
    const char *error = s_parse_url(url, target);
    return error ? error : s_resolve(allow, target);
}

int rp_netguard_resolve_entry(const rp_netguard_target_t *target, char *out, size_t size)
{
    rp_netaddr_t literal;
    if (size == 0)
        return -1;
    out[0] = 0;
    if (rp_netaddr_parse(target->host, &literal) == 0)
        return 0; //  an address in the URL: nothing is looked up, nothing to pin
    int n = snprintf(out, size, "%s:%d:", target->host, target->port);
    for (size_t i = 0; n >= 0 && (size_t)n < size && i < target->count; i++) {
        char text[RP_NETGUARD_ADDR_TEXT];
        rp_netaddr_format(&target->addrs[i], text);
        bool v6 = target->addrs[i].family == 6;
        n += snprintf(out + n, size - (size_t)n, "%s%s%s%s", i ? "," : "", v6 ? "[" : "", text,
                      v6 ? "]" : "");
    }
    if (n < 0 || (size_t)n >= size) {
        out[0] = 0;
        return -1;
    }
    return 0;
}

//  Both NULL, or the same text.
static bool s_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void s_expect_class(const char *text, const char *want)
{
    rp_netaddr_t addr;
    assert(rp_netaddr_parse(text, &addr) == 0);
    const char *got = rp_netguard_classify(&addr);
    if (!s_same(got, want))
        fprintf(stderr, "classify %s: %s, want %s\n", text, got ? got : "public",
                want ? want : "public");
    assert(s_same(got, want));
}

static void s_test_classify(void)
{
    static const char *const cases[][2] = {
        {"8.8.8.8", NULL},
        {"1.1.1.1", NULL},
        {"0.0.0.0", "unspecified"},
        {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"},
        {"10.1.2.3", "private"},
        {"172.16.0.1", "private"},
        {"172.31.255.255", "private"},
        {"172.32.0.1", NULL},
        {"192.168.1.1", "private"},
        {"100.64.0.1", "cgnat"},
        {"100.127.255.255", "cgnat"},
        {"100.128.0.1", NULL},
        {"169.254.169.254", "link_local"},
        {"224.0.0.251", "multicast"},
        {"239.255.255.250", "multicast"},
        {"255.255.255.255", "broadcast"},
        {"240.0.0.1", "reserved"},
        {"192.0.2.10", "documentation"},
        {"198.51.100.7", "documentation"},
        {"203.0.113.99", "documentation"},
        {"198.18.0.1", "reserved"},
        {"2606:4700:4700::1111", NULL},
        {"2a00:1450:4001:81c::200e", NULL},
        {"::", "unspecified"},
        {"::1", "loopback"},
        {"::ffff:127.0.0.1", "loopback"},
        {"::ffff:10.0.0.1", "private"},
        {"::ffff:8.8.8.8", NULL},
        {"::127.0.0.1", "loopback"},
        {"64:ff9b::a9fe:a9fe", "link_local"}, //  NAT64 of 169.254.169.254
        {"64:ff9b::808:808", NULL},
        {"2002:7f00:1::", "loopback"}, //  6to4 of 127.0.0.1
        {"2002:c000:204::1", "documentation"},
        {"2002:808:808::1", NULL},
        {"fc00::1", "unique_local"},
        {"fd12:3456:789a::1", "unique_local"},
        {"fe80::1", "link_local"},
        {"febf::1", "link_local"},
        {"fec0::1", "site_local"},
        {"ff02::1", "multicast"},
        {"2001:db8::1", "documentation"},
        {"3fff::1", "documentation"},
        {"2001::1", "reserved"}, //  Teredo
        {"100::1", "reserved"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        s_expect_class(cases[i][0], cases[i][1]);
    rp_netaddr_t addr;
    assert(rp_netaddr_parse("127.1", &addr) == -1);
    assert(rp_netaddr_parse("[::1]", &addr) == -1);
    assert(rp_netaddr_parse("", &addr) == -1);
}

static void s_test_allow(void)
{
    rp_netguard_allow_t allow;
    char bad[RP_NETGUARD_ENTRY_MAX];
    assert(!rp_netguard_allow_parse(" 127.0.0.1 , ::1,10.1.0.0/16,fd00::/8 ", &allow, bad));
    assert(allow.count == 4);
    rp_netaddr_t addr;
    rp_netaddr_parse("127.0.0.1", &addr);
    assert(rp_netguard_allowed(&allow, &addr) && !rp_netguard_judge(&allow, &addr));
    rp_netaddr_parse("127.0.0.2", &addr);
    assert(!rp_netguard_allowed(&allow, &addr));
    assert(strcmp(rp_netguard_judge(&allow, &addr), "loopback") == 0);
    rp_netaddr_parse("::ffff:127.0.0.1", &addr);
    assert(rp_netguard_allowed(&allow, &addr));
    rp_netaddr_parse("10.1.200.3", &addr);
    assert(rp_netguard_allowed(&allow, &addr));
    rp_netaddr_parse("10.2.0.1", &addr);
    assert(!rp_netguard_allowed(&allow, &addr));
    rp_netaddr_parse("fdff::1", &addr);
    assert(rp_netguard_allowed(&allow, &addr));
    rp_netaddr_parse("8.8.8.8", &addr);
    assert(!rp_netguard_allowed(&allow, &addr) && !rp_netguard_judge(&allow, &addr));
    assert(!rp_netguard_allow_parse("", &allow, bad) && allow.count == 0);
    assert(!rp_netguard_allow_parse(NULL, &allow, bad) && allow.count == 0);
    assert(!rp_netguard_allow_parse("0.0.0.0/0", &allow, bad) && allow.count == 1);
    static const char *const wrong[][3] = {
        {"127.0.0.1,localhost", "invalid", "localhost"},
        {"10.0.0.1/8", "host_bits", "10.0.0.1/8"},
        {"10.0.0.0/33", "invalid", "10.0.0.0/33"},
        {"::1/129", "invalid", "::1/129"},
        {"10.0.0.0/", "invalid", "10.0.0.0/"},
        {"10.0.0.0/-1", "invalid", "10.0.0.0/-1"},
        {"10.0.0.0/ 8", "invalid", "10.0.0.0/ 8"},
        {"127.0.0.1,,::1", "invalid", ""},
        {"127.0.0.1,", "invalid", ""},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        const char *error = rp_netguard_allow_parse(wrong[i][0], &allow, bad);
        assert(error && strcmp(error, wrong[i][1]) == 0);
        assert(strcmp(bad, wrong[i][2]) == 0 && allow.count == 0);
    }
    char many[RP_NETGUARD_ALLOW_MAX * 12 + 16] = "";
    for (int i = 0; i <= RP_NETGUARD_ALLOW_MAX; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%s10.0.%d.1", i ? "," : "", i);
    const char *error = rp_netguard_allow_parse(many, &allow, bad);
    assert(error && strcmp(error, "too_many") == 0);
}

static void s_expect_url(const char *url, const rp_netguard_allow_t *allow, const char *want,
                         const char *reason, rp_netguard_target_t *target)
{
    const char *got = rp_netguard_check_url(url, allow, target);
    bool reason_ok = !reason || s_same(target->reason, reason);
    if (!s_same(got, want) || !reason_ok)
        fprintf(stderr, "url %s: %s (%s), want %s (%s)\n", url, got ? got : "ok",
                target->reason ? target->reason : "-", want ? want : "ok", reason ? reason : "-");
    assert(s_same(got, want) && reason_ok);
}

static void s_test_url(void)
{
    rp_netguard_allow_t none = {0}, loopback;
    assert(!rp_netguard_allow_parse("127.0.0.0/8,::1", &loopback, NULL));
    rp_netguard_target_t t;
    s_expect_url("http://127.0.0.1:8080/hook", &none, "refused", "loopback", &t);
    assert(strcmp(t.refused, "127.0.0.1") == 0);
    s_expect_url("http://127.0.0.1:8080/hook", &loopback, NULL, NULL, &t);
    assert(!t.https && t.port == 8080 && t.count == 1 && strcmp(t.host, "127.0.0.1") == 0);
    char entry[256];
    assert(rp_netguard_resolve_entry(&t, entry, sizeof entry) == 0 && entry[0] == 0);
    s_expect_url("https://[::1]/x", &none, "refused", "loopback", &t);
    s_expect_url("https://[::1]/x", &loopback, NULL, NULL, &t);
    assert(t.https && t.port == 443 && strcmp(t.host, "::1") == 0);
    s_expect_url("http://[::ffff:169.254.169.254]/latest/meta-data", &none, "refused", "link_local",
                 &t);
    s_expect_url("http://169.254.169.254/", &none, "refused", "link_local", &t);
    s_expect_url("http://10.0.0.5/", &none, "refused", "private", &t);
    s_expect_url("http://2130706433/", &none, "refused", "loopback",
                 &t); //  127.0.0.1 in one number
    s_expect_url("http://0x7f.1/", &none, "refused", "loopback", &t);
    s_expect_url("http://0/", &none, "refused", "unspecified", &t);
    s_expect_url("http://8.8.8.8/hook", &none, NULL, NULL, &t);
    assert(t.port == 80 && t.count == 1 && t.addrs[0].family == 4);
    s_expect_url("https://[2606:4700:4700::1111]:8443/", &none, NULL, NULL, &t);
    assert(t.port == 8443 && t.addrs[0].family == 6);
    s_expect_url("http://user:pw@8.8.8.8/", &none, NULL, NULL, &t);
    s_expect_url("http://localhost:9/", &none, "refused", "loopback", &t);
    s_expect_url("http://localhost:9/", &loopback, NULL, NULL, &t);
    assert(t.count >= 1 && strcmp(t.host, "localhost") == 0);
    assert(rp_netguard_resolve_entry(&t, entry, sizeof entry) == 0);
    assert(strncmp(entry, "localhost:9:", 12) == 0);
    assert(strstr(entry, "127.0.0.1") || strstr(entry, "[::1]"));
    assert(rp_netguard_resolve_entry(&t, entry, 8) == -1 && entry[0] == 0);
    s_expect_url("ftp://8.8.8.8/", &none, "bad_scheme", NULL, &t);
    s_expect_url("file:///etc/passwd", &none, "bad_scheme", NULL, &t);
    s_expect_url("gopher://8.8.8.8/", &none, "bad_scheme", NULL, &t);
    s_expect_url("nosuch://8.8.8.8/", &none, "bad_url", NULL, &t); //  not a scheme curl has
    s_expect_url("8.8.8.8/hook", &none, "bad_url", NULL, &t);
    s_expect_url("http://", &none, "bad_url", NULL, &t);
    s_expect_url("http://[fe80::1%25eth0]/", &none, "bad_url", NULL, &t);
    s_expect_url("http://8.8.8.8:99999/", &none, "bad_url", NULL, &t);
    s_expect_url(NULL, &none, "bad_url", NULL, &t);
    char url[RP_NETGUARD_URL_MAX + 32] = "http://8.8.8.8/";
    memset(url + strlen(url), 'a', RP_NETGUARD_URL_MAX);
    url[RP_NETGUARD_URL_MAX + 16] = 0;
    s_expect_url(url, &none, "bad_url", NULL, &t);
}

//  A name that resolves to a public and a private address, as a hostile
//  DNS server answers: refused, whichever comes first.
static void s_test_rebinding(void)
{
    struct sockaddr_in public = {.sin_family = AF_INET}, private = {.sin_family = AF_INET};
    inet_pton(AF_INET, "8.8.8.8", &public.sin_addr);
    inet_pton(AF_INET, "10.0.0.1", &private.sin_addr);
    struct addrinfo second = {
        .ai_family = AF_INET, .ai_addr = (struct sockaddr *)&private, .ai_addrlen = sizeof private};
    struct addrinfo first = {.ai_family = AF_INET,
                             .ai_addr = (struct sockaddr *)&public,
                             .ai_addrlen = sizeof public,
                             .ai_next = &second};
    rp_netguard_allow_t none = {0}, lan;
    rp_netguard_target_t t = {0};
    const char *error = s_judge_list(&none, &first, &t);
    assert(error && strcmp(error, "refused") == 0 && t.count == 0);
    assert(strcmp(t.refused, "10.0.0.1") == 0 && strcmp(t.reason, "private") == 0);
    memset(&t, 0, sizeof t);
    assert(!rp_netguard_allow_parse("10.0.0.0/24", &lan, NULL));
    assert(!s_judge_list(&lan, &first, &t) && t.count == 2);
    memset(&t, 0, sizeof t);
    error = s_judge_list(&none, NULL, &t);
    assert(error && strcmp(error, "unresolved") == 0);
}

void rp_netguard_test(void)
{
    s_test_rebinding();
    s_test_classify();
    s_test_allow();
    s_test_url();
}
