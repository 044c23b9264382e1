/*
 * kmap.h -- a hash map from a pair of 64-bit keys to a 32-bit value.
 *
 * Contract: a zeroed struct kmap is empty; kmap_put inserts or finds,
 * kmap_get only finds; values are whatever the caller stores (usually an
 * index into its own array).  The reports aggregate millions of samples by
 * small composite keys ((parent node, frame), (pid/tid, stack), ...), and
 * memtrack and the capture reader index memory metrics by (pid, tid,
 * stack): packing keys in two words keeps one map type for all of them.
 * Open addressing, linear probing, grows at half full; no deletion
 * (aggregation never needs it).
 */
#ifndef STETHO_UTIL_KMAP_H
#define STETHO_UTIL_KMAP_H

#include <stddef.h>
#include <stdint.h>

struct kmap_slot {
    uint64_t a, b;
    uint32_t value;
    uint32_t used;
};

struct kmap {
    struct kmap_slot *slots;
    size_t cap, n;
};

/* Two 32-bit keys as one word: a (pid, tid) pair, say.  Unsigned, so a
 * negative half does not spill into the other. */
static inline uint64_t kmap_pair32(uint32_t hi, uint32_t lo)
{
    return (uint64_t)hi << 32 | lo;
}

/* A zeroed struct kmap is an empty map. */
void kmap_free(struct kmap *m);

/* The value stored for (a, b), or `missing` if there is none. */
uint32_t kmap_get(const struct kmap *m, uint64_t a, uint64_t b, uint32_t missing);

/* The slot of (a, b), inserting it with `value` if it is new (then *isnew
 * is 1).  NULL when out of memory.  The pointer is valid until the next
 * insertion. */
uint32_t *kmap_put(struct kmap *m, uint64_t a, uint64_t b, uint32_t value, int *isnew);

#endif
