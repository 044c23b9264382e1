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

/* Doubles the table (kmap.c); -1 when out of memory. */
int kmap_grow(struct kmap *m);

/* The lookups are inline: the reports and memtrack make one per sample or
 * allocation. */
static inline uint64_t kmap_mix(uint64_t a, uint64_t b)
{
    /* a through splitmix64's finaliser, plus b times an odd constant: keys
     * that differ only in b (consecutive ids under one parent or thread,
     * the common case) land in distinct slots of any power-of-two table,
     * and every bit of a reaches the low bits the table uses. */
    a ^= a >> 30;
    a *= 0xbf58476d1ce4e5b9ULL;
    a ^= a >> 27;
    a *= 0x94d049bb133111ebULL;
    a ^= a >> 31;
    return a + b * 0x9e3779b97f4a7c15ULL;
}

/* The slot of (a, b) in a table of cap (a power of two, not full): its
 * own, or the empty one where it would go. */
static inline struct kmap_slot *kmap_find(struct kmap_slot *slots, size_t cap, uint64_t a,
                                          uint64_t b)
{
    size_t i = (size_t)kmap_mix(a, b) & (cap - 1);
    while (slots[i].used && (slots[i].a != a || slots[i].b != b))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

/* The value stored for (a, b), or `missing` if there is none. */
static inline uint32_t kmap_get(const struct kmap *m, uint64_t a, uint64_t b, uint32_t missing)
{
    if (!m->cap)
        return missing;
    const struct kmap_slot *s = kmap_find(m->slots, m->cap, a, b);
    return s->used ? s->value : missing;
}

/* The slot of (a, b), inserting it with `value` if it is new (then *isnew
 * is 1).  NULL when out of memory.  The pointer is valid until the next
 * insertion. */
static inline uint32_t *kmap_put(struct kmap *m, uint64_t a, uint64_t b, uint32_t value,
                                 int *isnew)
{
    if ((m->n + 1) * 2 > m->cap && kmap_grow(m) < 0)
        return NULL;
    struct kmap_slot *s = kmap_find(m->slots, m->cap, a, b);
    *isnew = !s->used;
    if (!s->used) {
        *s = (struct kmap_slot){ a, b, value, 1 };
        m->n++;
    }
    return &s->value;
}

#endif
