/*  apikey.h — users' API keys: how one is made and how it is hashed.

    A key is "rpk_" followed by 64 lowercase hex digits: 32 bytes from
    libsodium's randombytes_buf (256 bits, so guessing is hopeless and a
    plain unsalted hash is enough). Hex rather than base64 so that a key
    survives every shell, URL, header and log without quoting, and the
    prefix lets secret scanners recognise a leaked one.

    Only the hash is ever stored or journalled: SHA-256 (libsodium's
    crypto_hash_sha256) of the whole key string, prefix included, as 64
    lowercase hex digits. The gateway hashes a presented Bearer key the
    same way and looks the hash up.

    Call sodium_init() once before apikey_generate.
*/
#ifndef USERS_APIKEY_H
#define USERS_APIKEY_H

#include <stdbool.h>
#include <stddef.h>

#define APIKEY_PREFIX     "rpk_"
#define APIKEY_PREFIX_LEN 4
#define APIKEY_LEN        (APIKEY_PREFIX_LEN + 64)
#define APIKEY_HASH_LEN   64

//  A new random key, NUL-terminated.
void apikey_generate(char key[APIKEY_LEN + 1]);

//  The hash of len bytes of key, NUL-terminated lowercase hex.
void apikey_hash(const char *key, size_t len, char hash[APIKEY_HASH_LEN + 1]);

//  True if hash is exactly 64 lowercase hex digits (what events must carry).
bool apikey_hash_valid(const char *hash, size_t len);

//  Overwrite a key in memory once it has been answered (the clear key must
//  not linger in freed heap).
void apikey_wipe(char key[APIKEY_LEN + 1]);

void apikey_test(void);

#endif
