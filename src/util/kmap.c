/* kmap.c -- the (u64, u64) -> u32 hash map of kmap.h. */
#include "util/kmap.h"

#include <stdlib.h>

static uint64_t mix(uint64_t a, uint64_t b)
{
    /* splitmix64's finaliser over both words: cheap, and consecutive ids
     * (the common case) spread over the whole table. */
    uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

void kmap_free(struct kmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

static struct kmap_slot *find(struct kmap_slot *slots, size_t cap, uint64_t a, uint64_t b)
{
    size_t i = (size_t)mix(a, b) & (cap - 1);
    while (slots[i].used && (slots[i].a != a || slots[i].b != b))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

uint32_t kmap_get(const struct kmap *m, uint64_t a, uint64_t b, uint32_t missing)
{
    if (!m->cap)
        return missing;
    const struct kmap_slot *s = find(m->slots, m->cap, a, b);
    return s->used ? s->value : missing;
}

static int grow(struct kmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct kmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used)
            *find(ns, ncap, m->slots[i].a, m->slots[i].b) = m->slots[i];
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}

uint32_t *kmap_put(struct kmap *m, uint64_t a, uint64_t b, uint32_t value, int *isnew)
{
    if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
        return NULL;
    struct kmap_slot *s = find(m->slots, m->cap, a, b);
    *isnew = !s->used;
    if (!s->used) {
        *s = (struct kmap_slot){ a, b, value, 1 };
        m->n++;
    }
    return &s->value;
}
