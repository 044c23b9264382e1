/*
 * kmap.h -- a hash map from a pair of 64-bit keys to a 32-bit value.
 *
 * The reports aggregate millions of samples by small composite keys
 * ((parent node, frame), (pid/tid, stack), ...); packing them in two
 * words keeps one map type for all of them.  Open addressing, linear
 * probing, grows at half full; no deletion (aggregation never needs it).
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

/* A zeroed struct kmap is an empty map. */
void kmap_free(struct kmap *m);

/* The value stored for (a, b), or `missing` if there is none. */
uint32_t kmap_get(const struct kmap *m, uint64_t a, uint64_t b, uint32_t missing);

/* The slot of (a, b), inserting it with `value` if it is new (then *isnew
 * is 1).  NULL when out of memory.  The pointer is valid until the next
 * insertion. */
uint32_t *kmap_put(struct kmap *m, uint64_t a, uint64_t b, uint32_t value, int *isnew);

#endif
