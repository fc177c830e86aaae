/*  random.c — see random.h. */
#include <rapport/random.h>

#include <assert.h>
#include <czmq.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define POOL_SIZE 4096

//  The unserved bytes are pool[used .. POOL_SIZE).
static _Thread_local unsigned char s_pool[POOL_SIZE];
static _Thread_local size_t s_used = POOL_SIZE;

void rp_random_bytes(void *buf, size_t size)
{
    unsigned char *out = (unsigned char *)buf;
    while (size > 0) {
        if (s_used == POOL_SIZE) {
            randombytes_buf(s_pool, POOL_SIZE);
            s_used = 0;
        }
        size_t take = POOL_SIZE - s_used;
        if (take > size)
            take = size;
        memcpy(out, s_pool + s_used, take);
        sodium_memzero(s_pool + s_used, take);
        s_used += take;
        out += take;
        size -= take;
    }
}

void rp_uuid_format(char uuid[RP_UUID_SIZE])
{
    unsigned char b[16];
    rp_random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); //  version 4
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); //  RFC 4122 variant
    static const char hex[] = "0123456789abcdef";
    char *p = uuid;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 0x0f];
    }
    *p = '\0';
}

//  Ids sort in creation order (lists page "by id" as creation order), also
//  for ids made in the same millisecond: the suffix then counts up from the
//  last one instead of being drawn again (a wrap moves on to the next
//  millisecond). Per thread, since each service makes its ids on one.
void rp_id_format(char id[RP_ID_SIZE])
{
    static _Thread_local uint64_t last_ms;
    static _Thread_local uint32_t last_suffix;
    uint64_t ms = (uint64_t)zclock_time() & (uint64_t)0xffffffffffff;
    uint32_t suffix;
    if (ms > last_ms) {
        unsigned char r[4];
        rp_random_bytes(r, sizeof r);
        suffix = (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
    } else {
        ms = last_ms;
        suffix = last_suffix + 1;
        if (suffix == 0)
            ms++;
    }
    last_ms = ms;
    last_suffix = suffix;
    snprintf(id, RP_ID_SIZE, "%012" PRIx64 "%08" PRIx32, ms, suffix);
}

//  ---------------------------------------------------------------------

void rp_random_test(void)
{
    //  Bytes across a refill: no all-zero run (a served byte is wiped, so a
    //  bug serving the pool twice would show zeros), and the pool is empty
    //  of what was served.
    size_t size = POOL_SIZE + 100;
    unsigned char *big = (unsigned char *)malloc(size);
    assert(big);
    rp_random_bytes(big, size);
    size_t zeros = 0;
    for (size_t i = 0; i + 8 <= size; i += 8) {
        static const unsigned char nothing[8];
        zeros += memcmp(big + i, nothing, 8) == 0;
    }
    assert(zeros == 0);
    for (size_t i = 0; i < s_used; i++)
        assert(s_pool[i] == 0);
    free(big);

    //  UUIDs: canonical form, version 4, RFC 4122 variant, all distinct.
    char seen[64][RP_UUID_SIZE];
    for (int i = 0; i < 64; i++) {
        rp_uuid_format(seen[i]);
        const char *u = seen[i];
        assert(strlen(u) == 36 && u[8] == '-' && u[13] == '-' && u[18] == '-' && u[23] == '-');
        assert(strspn(u, "0123456789abcdef-") == 36);
        assert(u[14] == '4' && strchr("89ab", u[19]));
        for (int j = 0; j < i; j++)
            assert(strcmp(seen[j], u) != 0);
    }

    //  Ids: 20 hex digits, sorted by time first.
    char a[RP_ID_SIZE], b[RP_ID_SIZE];
    rp_id_format(a);
    zclock_sleep(2);
    rp_id_format(b);
    assert(strlen(a) == 20 && strspn(a, "0123456789abcdef") == 20);
    assert(strcmp(a, b) < 0);
    //  Many in the same millisecond still sort in the order they were made.
    for (int i = 0; i < 1000; i++) {
        memcpy(a, b, RP_ID_SIZE);
        rp_id_format(b);
        assert(strcmp(a, b) < 0);
    }
}
