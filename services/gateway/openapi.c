/*  openapi.c — see openapi.h. The assembler takes docs/openapi.json in as
    read-only bytes and computes their length itself; the path is relative
    to the repository root, where make runs the compiler (the Makefile
    makes this object depend on the file). */
#include "openapi.h"

#include <stdint.h>

__asm__(".section .rodata\n"
        ".global gw_openapi_bytes\n"
        ".global gw_openapi_length\n"
        ".balign 8\n"
        "gw_openapi_length:\n"
        ".quad 2f - 1f\n"
        "gw_openapi_bytes:\n"
        "1:\n"
        ".incbin \"docs/openapi.json\"\n"
        "2:\n"
        ".byte 0\n"
        ".previous\n");

extern const char gw_openapi_bytes[];
extern const uint64_t gw_openapi_length;

const char *gw_openapi_json(void)
{
    return gw_openapi_bytes;
}

size_t gw_openapi_size(void)
{
    return (size_t)gw_openapi_length;
}
