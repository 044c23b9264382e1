/*
 * unhex.h -- hex text to bytes, for the tests that read line tables
 * dumped as hex (tests/data/linetables.txt, linetable_check's input).
 *
 * Contract: unhex(s, out, max) writes the bytes of the hex digits in s
 * ("-" is no bytes) to out, max at most, stopping at the first pair that
 * is not hex, and returns how many it wrote.
 */
#ifndef STETHO_TESTS_UNHEX_H
#define STETHO_TESTS_UNHEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static inline size_t unhex(const char *s, uint8_t *out, size_t max)
{
    size_t n = 0;
    if (!strcmp(s, "-"))
        return 0;
    while (s[0] && s[1] && n < max) {
        unsigned v;
        if (sscanf(s, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        s += 2;
    }
    return n;
}

#endif
