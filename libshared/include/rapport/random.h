/*  random.h — random bytes, event ids and record ids, cheaply.

    Every write makes ids: one UUID per event and, for a create, one record
    id. czmq's zuuid_new (libuuid's uuid_generate) makes about seven system
    calls per UUID (getrandom, getpid twice, getuid, getppid, gettid) and
    libsodium's randombytes_buf one getrandom per call; on this project's
    write path those were a third of the customers service's system calls.
    Here bytes come from a per-thread buffer that randombytes_buf (the
    kernel's CSPRNG) refills 4 KiB at a time, and each byte is wiped from the
    buffer as it is handed out, so nothing served stays behind in memory.

    Ids are not secrets, but nothing here depends on that: secrets (API
    keys) may use this too. The buffer is per thread, so threads need no
    lock; a process that forks must not use it in both parent and child
    (no Rapport process forks).
*/
#ifndef RAPPORT_RANDOM_H
#define RAPPORT_RANDOM_H

#include <stddef.h>

//  Fill buf with size random bytes.
void rp_random_bytes(void *buf, size_t size);

//  A random (version 4) UUID in canonical form: 36 characters and a NUL.
#define RP_UUID_SIZE 37
void rp_uuid_format(char uuid[RP_UUID_SIZE]);

//  A record id: 12 hex digits of the wall clock's milliseconds (so ids sort
//  by creation) and 8 random hex digits (so two made in one millisecond
//  differ), 20 characters and a NUL.
#define RP_ID_SIZE 21
void rp_id_format(char id[RP_ID_SIZE]);

void rp_random_test(void);

#endif
