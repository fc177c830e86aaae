/*  apikey.c — random keys and their SHA-256 hashes, by libsodium. */
#include "apikey.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

void apikey_generate(char key[APIKEY_LEN + 1])
{
    unsigned char bytes[32];
    randombytes_buf(bytes, sizeof bytes);
    memcpy(key, APIKEY_PREFIX, APIKEY_PREFIX_LEN);
    sodium_bin2hex(key + APIKEY_PREFIX_LEN, APIKEY_LEN - APIKEY_PREFIX_LEN + 1, bytes,
                   sizeof bytes);
    sodium_memzero(bytes, sizeof bytes);
}

void apikey_hash(const char *key, size_t len, char hash[APIKEY_HASH_LEN + 1])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)key, len);
    sodium_bin2hex(hash, APIKEY_HASH_LEN + 1, digest, sizeof digest);
}

bool apikey_hash_valid(const char *hash, size_t len)
{
    if (!hash || len != APIKEY_HASH_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((hash[i] >= '0' && hash[i] <= '9') || (hash[i] >= 'a' && hash[i] <= 'f')))
            return false;
    return true;
}

void apikey_wipe(char key[APIKEY_LEN + 1])
{
    sodium_memzero(key, APIKEY_LEN + 1);
}

void apikey_test(void)
{
    assert(sodium_init() >= 0);
    char a[APIKEY_LEN + 1], b[APIKEY_LEN + 1];
    apikey_generate(a);
    apikey_generate(b);
    assert(strlen(a) == APIKEY_LEN && memcmp(a, "rpk_", 4) == 0);
    assert(strcmp(a, b) != 0);
    for (size_t i = APIKEY_PREFIX_LEN; i < APIKEY_LEN; i++)
        assert((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));

    //  SHA-256 of the whole string, the known vector of "abc".
    char hash[APIKEY_HASH_LEN + 1];
    apikey_hash("abc", 3, hash);
    assert(strcmp(hash, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    assert(apikey_hash_valid(hash, strlen(hash)));
    apikey_hash(a, strlen(a), hash);
    assert(apikey_hash_valid(hash, APIKEY_HASH_LEN));
    assert(
        !apikey_hash_valid("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", 64));
    assert(!apikey_hash_valid(hash, 63));
    assert(!apikey_hash_valid(NULL, 0));
    apikey_wipe(a);
    assert(a[0] == 0 && a[APIKEY_LEN] == 0);
}
