/*
 * mix.h -- the one 64-bit hash finalizer the hash tables share (murmur3's
 * fmix64: every input bit reaches every output bit, so addresses and
 * consecutive ids spread over a power-of-two table's low bits).
 */
#ifndef STETHO_UTIL_MIX_H
#define STETHO_UTIL_MIX_H

#include <stdint.h>

static inline uint64_t mix64(uint64_t a)
{
    a ^= a >> 33;
    a *= 0xff51afd7ed558ccdULL;
    a ^= a >> 33;
    a *= 0xc4ceb9fe1a85ec53ULL;
    a ^= a >> 33;
    return a;
}

#endif
