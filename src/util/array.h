/*
 * array.h -- a growable array: room for one more element.
 *
 * Contract: util_reserve(&v, n, &cap, sizeof *v) makes sure v (holding n
 * of cap elements of `size` bytes) has room for element n, doubling from
 * 64; 0, or -1 when out of memory (then v and cap are unchanged).
 * ARRAY_RESERVE(v, n, cap) is the same with the size taken from v.
 * The allocator is libc's: the agent, which must use the real allocator
 * behind its own hooks, keeps its own growth code.
 */
#ifndef STETHO_UTIL_ARRAY_H
#define STETHO_UTIL_ARRAY_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline int util_reserve(void **v, size_t n, size_t *cap, size_t size)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 64;
    if (ncap <= n)
        ncap = n + 1;
    if (ncap > SIZE_MAX / size)
        return -1;
    void *nv = realloc(*v, ncap * size);
    if (!nv)
        return -1;
    *v = nv;
    *cap = ncap;
    return 0;
}

#define ARRAY_RESERVE(v, n, cap) util_reserve((void **)&(v), (n), &(cap), sizeof *(v))

#endif
