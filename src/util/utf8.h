/*
 * utf8.h -- cutting text without splitting a character.
 *
 * Contract: utf8_cut(s, n, max) is the largest length <= max (and <= n)
 * at which s[0..len) ends on a character boundary, assuming s is UTF-8;
 * bytes that are not UTF-8 are treated as one-byte characters, so the
 * result is never less than max - 3 when n > max.  utf8_char_len(p, left)
 * is the length of the well-formed character at p (1 for a stray byte).
 */
#ifndef STETHO_UTIL_UTF8_H
#define STETHO_UTIL_UTF8_H

#include <stddef.h>
#include <stdint.h>

static inline size_t utf8_cut(const char *s, size_t n, size_t max)
{
    if (n <= max)
        return n;
    size_t cut = max, back = 0;
    while (cut && back < 3 && ((uint8_t)s[cut] & 0xc0) == 0x80) {
        cut--;                          /* do not split a character */
        back++;
    }
    if (((uint8_t)s[cut] & 0xc0) == 0x80)
        return max;                     /* not UTF-8 there: cut anywhere */
    return cut;
}

static inline size_t utf8_char_len(const unsigned char *p, size_t left)
{
    size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
             : (p[0] & 0xf8) == 0xf0 ? 4 : 1;
    if (n > left)
        return 1;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 1;
    return n;
}

#endif
