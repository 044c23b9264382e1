/*
 * intern.c -- the capture writer's intern tables (see intern.h).
 *
 * Each kind of key lives in an array indexed by id - 1; an idtab maps a
 * key's hash to candidate ids, and the array is what equality compares
 * against.  Tables stay at most half full.
 */
#include "capture/intern.h"
#include "util/mix.h"

#include <stdlib.h>
#include <string.h>

typedef int (*key_eq)(const void *t, uint32_t id, const void *key);

static uint32_t mix(uint64_t h)
{
    return (uint32_t)mix64(h);     /* every input bit over the low 32 */
}

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;     /* FNV-1a */

    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return mix(h ^ len);
}

/* The id stored for this key, or 0 with *slot set to where it would go. */
static uint32_t idtab_find(const struct idtab *tab, uint32_t hash, key_eq eq,
                           const void *t, const void *key, size_t *slot)
{
    size_t mask = tab->cap - 1;

    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        const struct idslot *s = &tab->slots[i];
        if (s->id == 0) {
            *slot = i;
            return 0;
        }
        if (s->hash == hash && eq(t, s->id, key))
            return s->id;
    }
}

/* Makes room for one more entry, keeping the table at most half full. */
static int idtab_grow(struct idtab *tab, uint32_t count)
{
    if (tab->cap && ((size_t)count + 1) * 2 <= tab->cap)
        return 0;
    size_t cap = tab->cap ? tab->cap * 2 : 64;
    struct idslot *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < tab->cap; i++) {
        struct idslot s = tab->slots[i];
        if (s.id == 0)
            continue;
        size_t j = s.hash & (cap - 1);
        while (slots[j].id)
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(tab->slots);
    tab->slots = slots;
    tab->cap = cap;
    return 0;
}

/* Grows an id-indexed array so that index n fits: the array, or NULL. */
static void *array_grow(void *arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return arr;
    size_t ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(arr, ncap * size);
    if (p)
        *cap = ncap;
    return p;
}

void intern_init(struct intern *t)
{
    memset(t, 0, sizeof *t);
}

void intern_free(struct intern *t)
{
    for (uint32_t i = 0; i < t->nstrs; i++)
        free(t->strs[i].s);
    free(t->strs);
    free(t->frames);
    free(t->strtab.slots);
    free(t->frametab.slots);
    free(t->stacks.keys);
    free(t->stacks.tab.slots);
    free(t->modules.keys);
    free(t->modules.tab.slots);
    memset(t, 0, sizeof *t);
}

/* ---- strings ---- */

struct str_key { const char *s; size_t len; };

static int str_eq(const void *tab, uint32_t id, const void *key)
{
    const struct intern *t = tab;
    const struct str_key *k = key;
    const struct istr *s = &t->strs[id - 1];
    return s->len == k->len && memcmp(s->s, k->s, k->len) == 0;
}

uint32_t intern_string(struct intern *t, const char *s, size_t len, int *fresh)
{
    struct str_key k = { s, len };
    uint32_t h = hash_bytes(s, len), id;
    size_t slot;

    *fresh = 0;
    if (idtab_grow(&t->strtab, t->nstrs) < 0)
        return 0;
    if ((id = idtab_find(&t->strtab, h, str_eq, t, &k, &slot)))
        return id;
    if (t->nstrs == UINT32_MAX - 1)
        return 0;
    void *arr = array_grow(t->strs, &t->strs_cap, t->nstrs, sizeof *t->strs);
    if (!arr)
        return 0;
    t->strs = arr;
    char *copy = malloc(len + 1);
    if (!copy)
        return 0;
    memcpy(copy, s, len);
    copy[len] = '\0';
    t->strs[t->nstrs] = (struct istr){ copy, len };
    id = ++t->nstrs;
    t->strtab.slots[slot] = (struct idslot){ h, id };
    *fresh = 1;
    return id;
}

/* ---- frames ---- */

static int frame_eq(const void *tab, uint32_t id, const void *key)
{
    const struct intern *t = tab;
    const struct ikey_frame *a = &t->frames[id - 1], *b = key;
    return a->function == b->function && a->file == b->file && a->line == b->line &&
           a->first_line == b->first_line && a->kind == b->kind && a->module == b->module &&
           a->addr == b->addr;
}

uint32_t intern_frame(struct intern *t, const struct ikey_frame *k, int *fresh)
{
    uint64_t h64 = (uint64_t)k->function << 32 | k->file;
    uint32_t h = mix(h64 ^ mix((uint64_t)(uint32_t)k->line << 32 |
                               (uint32_t)k->first_line) ^ ((uint64_t)k->kind << 61) ^
                       mix(k->addr ^ (uint64_t)k->module << 40)), id;
    size_t slot;

    *fresh = 0;
    if (idtab_grow(&t->frametab, t->nframes) < 0)
        return 0;
    if ((id = idtab_find(&t->frametab, h, frame_eq, t, k, &slot)))
        return id;
    if (t->nframes == UINT32_MAX - 1)
        return 0;
    void *arr = array_grow(t->frames, &t->frames_cap, t->nframes, sizeof *t->frames);
    if (!arr)
        return 0;
    t->frames = arr;
    t->frames[t->nframes] = *k;
    id = ++t->nframes;
    t->frametab.slots[slot] = (struct idslot){ h, id };
    *fresh = 1;
    return id;
}

/* ---- pairs: stacks, modules ---- */

static int pair_eq(const void *tab, uint32_t id, const void *key)
{
    const struct pairs *t = tab;
    const struct ikey_pair *a = &t->keys[id - 1], *b = key;
    return a->a == b->a && a->b == b->b;
}

uint32_t intern_pair(struct pairs *t, uint32_t a, uint32_t b, int *fresh)
{
    struct ikey_pair k = { a, b };
    uint32_t h = mix((uint64_t)a << 32 | b), id;
    size_t slot;

    *fresh = 0;
    if (idtab_grow(&t->tab, t->n) < 0)
        return 0;
    if ((id = idtab_find(&t->tab, h, pair_eq, t, &k, &slot)))
        return id;
    if (t->n == UINT32_MAX - 1)
        return 0;
    void *arr = array_grow(t->keys, &t->cap, t->n, sizeof *t->keys);
    if (!arr)
        return 0;
    t->keys = arr;
    t->keys[t->n] = k;
    id = ++t->n;
    t->tab.slots[slot] = (struct idslot){ h, id };
    *fresh = 1;
    return id;
}
