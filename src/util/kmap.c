/* kmap.c -- the (u64, u64) -> u32 hash map of kmap.h: what is not inline. */
#include "util/kmap.h"

#include <stdlib.h>

void kmap_free(struct kmap *m)
{
    free(m->slots);
    m->slots = NULL;
    m->cap = m->n = 0;
}

int kmap_grow(struct kmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    struct kmap_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return -1;
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].used)
            *kmap_find(ns, ncap, m->slots[i].a, m->slots[i].b) = m->slots[i];
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    return 0;
}
