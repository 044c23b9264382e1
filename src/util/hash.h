/*
 * hash.h -- the string hash the tables keyed by text share.
 *
 * Contract: FNV-1a over the bytes of a NUL-terminated string or a byte
 * range, 64 bits; util_hash_str(s) == util_hash_bytes(s, strlen(s)).
 * Chaining: pass a previous result as `seed` to hash several pieces as
 * one (UTIL_HASH_SEED starts a chain).  Not for hostile input: no
 * secret, so callers must tolerate collisions (every user compares the
 * text after a hash match).
 */
#ifndef STETHO_UTIL_HASH_H
#define STETHO_UTIL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define UTIL_HASH_SEED 1469598103934665603ULL

static inline uint64_t util_hash_bytes_from(uint64_t seed, const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static inline uint64_t util_hash_str_from(uint64_t seed, const char *s)
{
    uint64_t h = seed;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static inline uint64_t util_hash_str(const char *s)
{
    return util_hash_str_from(UTIL_HASH_SEED, s);
}

static inline uint64_t util_hash_bytes(const void *p, size_t n)
{
    return util_hash_bytes_from(UTIL_HASH_SEED, p, n);
}

#endif
