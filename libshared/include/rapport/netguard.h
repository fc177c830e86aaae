/*  netguard.h — which addresses an outbound request (a webhook delivery)
    may go to: the guard against server-side request forgery (SSRF).

    A webhook URL is given by an integrator; without a guard, Rapport would
    POST wherever it points — the broker's port on loopback, a cloud
    metadata service on 169.254.169.254, a printer on the office network —
    and tell the caller what answered. So an address is judged public or
    refused: refused are loopback, unspecified, RFC 1918 private, CGNAT
    (100.64/10), link-local, multicast, broadcast, the documentation and
    benchmarking ranges and the other IANA special-purpose blocks, IPv6
    ULA (fc00::/7), link-local (fe80::/10) and site-local (fec0::/10). An
    address that carries an IPv4 address is judged as that address:
    IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64
    (64:ff9b::/96) and 6to4 (2002::/16).

    An allow-list (config webhooks/allow_hosts: comma-separated addresses
    and CIDR ranges, v4 or v6) lets chosen addresses through all the same:
    the tests' receivers on loopback, an on-premises CRM on the LAN.

    A URL is checked by what its host resolves to now: every address must
    be public or allowed, or the URL is refused (one bad address among good
    ones is the DNS-rebinding trick). The addresses checked are returned so
    the caller connects to those and no others (CURLOPT_RESOLVE, see
    rp_netguard_resolve_entry): a second lookup by the HTTP client could
    answer differently. URLs are parsed by libcurl's URL API, the parser
    the client itself uses, so the guard and the request agree on the host.
*/
#ifndef RAPPORT_NETGUARD_H
#define RAPPORT_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RP_NETGUARD_ALLOW_MAX 64   //  entries in an allow-list
#define RP_NETGUARD_ADDRS_MAX 16   //  addresses of a host kept for pinning
#define RP_NETGUARD_URL_MAX   2048 //  bytes of a URL
#define RP_NETGUARD_HOST_MAX  256  //  bytes of a host name
#define RP_NETGUARD_ADDR_TEXT 46   //  INET6_ADDRSTRLEN
#define RP_NETGUARD_ENTRY_MAX 64   //  bytes of a bad allow-list entry reported

//  An IPv4 (family 4, the first 4 bytes) or IPv6 (family 6) address.
typedef struct {
    int family;
    uint8_t bytes[16];
} rp_netaddr_t;

//  Read an address's text ("192.0.2.1", "::1"; no brackets, no zone).
//  Returns 0, or -1 when it is not one.
int rp_netaddr_parse(const char *text, rp_netaddr_t *addr);

//  The address's text, as inet_ntop writes it.
void rp_netaddr_format(const rp_netaddr_t *addr, char text[RP_NETGUARD_ADDR_TEXT]);

//  NULL for a public address, else why it is refused: "unspecified",
//  "loopback", "private", "cgnat", "link_local", "multicast", "broadcast",
//  "documentation", "reserved" (the other special-purpose blocks),
//  "unique_local", "site_local".
const char *rp_netguard_classify(const rp_netaddr_t *addr);

typedef struct {
    size_t count;
    struct {
        rp_netaddr_t net;
        int prefix; //  bits
    } entries[RP_NETGUARD_ALLOW_MAX];
} rp_netguard_allow_t;

//  Read an allow-list ("127.0.0.1, ::1, 10.1.0.0/16"; empty or NULL: none)
//  into *allow. NULL when it is one, else why not, with the bad entry
//  copied into bad (may be NULL): "invalid" (not an address or range),
//  "host_bits" (a range with bits set past its prefix, "10.0.0.1/8"),
//  "too_many" (over RP_NETGUARD_ALLOW_MAX).
const char *rp_netguard_allow_parse(const char *text, rp_netguard_allow_t *allow,
                                    char bad[RP_NETGUARD_ENTRY_MAX]);

//  Is the address in one of the list's entries? (An IPv4-mapped address
//  matches the IPv4 entries.)
bool rp_netguard_allowed(const rp_netguard_allow_t *allow, const rp_netaddr_t *addr);

//  May a request go to this address: public, or allowed? NULL if so, else
//  the reason rp_netguard_classify gives.
const char *rp_netguard_judge(const rp_netguard_allow_t *allow, const rp_netaddr_t *addr);

//  What a checked URL goes to.
typedef struct {
    bool https;
    char host[RP_NETGUARD_HOST_MAX]; //  without brackets for an IPv6 literal
    int port;                        //  the scheme's default when not given
    size_t count;                    //  addresses checked and kept
    rp_netaddr_t addrs[RP_NETGUARD_ADDRS_MAX];
    char refused[RP_NETGUARD_ADDR_TEXT]; //  on "refused": the address
    const char *reason;                  //  … and why (rp_netguard_classify)
} rp_netguard_target_t;

//  Check a URL: parse it (http or https, a host, no zone id), resolve the
//  host (getaddrinfo: this blocks as a lookup does) and judge every
//  address. NULL when every address may be used (target filled), else why
//  not: "bad_url", "bad_scheme", "unresolved" (no address), "refused"
//  (target->refused and target->reason say which and why).
const char *rp_netguard_check_url(const char *url, const rp_netguard_allow_t *allow,
                                  rp_netguard_target_t *target);

//  The CURLOPT_RESOLVE entry that pins a connection to the checked
//  addresses: "host:port:addr,[v6addr],…". Returns 0, or -1 if it does not
//  fit in size bytes.
int rp_netguard_resolve_entry(const rp_netguard_target_t *target, char *out, size_t size);

void rp_netguard_test(void);

#endif
