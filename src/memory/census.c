/*
 * census.c -- one census of a process's live objects by type (census.h).
 */
#include "memory/census.h"
#include "cpython/objtype.h"
#include "util/kmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Blocks are read a window at a time: sorted by address, the blocks within
 * WINDOW bytes of each other are read with one piece, NWIN pieces per
 * system call.  process_vm_readv pins the target's pages piece by piece, so
 * one piece per block would cost a page walk per object. */
#define WINDOW (64u << 10)
#define NWIN 16

struct item {
    uint64_t addr, size, count, bytes;  /* size: the block's; count, bytes: what it stands for */
    uint32_t stack;
    uint32_t name;              /* its type's, once read and counted; CENSUS_NO_TYPE:
                                   read, no object; 0: not (yet), or unreadable */
};

struct tally {
    uint32_t name;              /* capture string id */
    uint32_t stack;
    uint64_t count, bytes;
};

struct census {
    struct capture_writer *w;
    struct reader r;
    struct objtype_cache types;
    uint32_t *names;            /* types[i] -> capture string id, 0: not yet */
    size_t names_cap;
    struct item *items;         /* this census's blocks, sorted once begun */
    size_t nitems, capitems, pos;       /* pos: the next to read */
    uint8_t *buf;               /* NWIN windows */
    uint64_t *cand;             /* type words to read */
    size_t capcand;
    struct kmap index;          /* (name, stack) -> tally[i] */
    struct tally *tally;
    size_t ntally, captally;
    int oom;
};

struct census *census_new(struct capture_writer *w)
{
    struct census *c = calloc(1, sizeof *c);
    if (c)
        c->w = w;
    return c;
}

void census_free(struct census *c)
{
    if (!c)
        return;
    objtype_reset(&c->types);
    kmap_free(&c->index);
    free(c->names);
    free(c->items);
    free(c->buf);
    free(c->cand);
    free(c->tally);
    free(c);
}

void census_begin(struct census *c, pid_t pid)
{
    c->r = reader_remote(pid);
    objtype_reset(&c->types);   /* types die and addresses are reused */
    if (c->names)
        memset(c->names, 0, c->names_cap * sizeof *c->names);
    kmap_free(&c->index);
    c->nitems = c->ntally = c->pos = 0;
    c->oom = 0;
}

/* The capture's string id of type i's name. */
static uint32_t name_id(struct census *c, const struct objtype *t)
{
    size_t i = (size_t)(t - c->types.types);
    if (i >= c->names_cap) {
        size_t cap = c->types.cap;
        uint32_t *v = realloc(c->names, cap * sizeof *v);
        if (!v)
            return 0;
        memset(v + c->names_cap, 0, (cap - c->names_cap) * sizeof *v);
        c->names = v;
        c->names_cap = cap;
    }
    if (!c->names[i])
        c->names[i] = capw_string(c->w, t->name);
    return c->names[i];
}

static void count_known(struct census *c, uint32_t name, uint64_t n, uint64_t bytes,
                        uint32_t stack)
{
    int isnew;
    uint32_t *slot = kmap_put(&c->index, name, stack, (uint32_t)c->ntally, &isnew);
    if (!slot) {
        c->oom = 1;
        return;
    }
    if (isnew) {
        if (c->ntally == c->captally) {
            size_t cap = c->captally ? 2 * c->captally : 256;
            struct tally *v = realloc(c->tally, cap * sizeof *v);
            if (!v) {
                c->oom = 1;
                return;
            }
            c->tally = v;
            c->captally = cap;
        }
        c->tally[c->ntally++] = (struct tally){ name, stack, 0, 0 };
    }
    c->tally[*slot].count += n;
    c->tally[*slot].bytes += bytes;
}

static void count(struct census *c, uint32_t name, const struct item *p)
{
    count_known(c, name, p->count, p->bytes, p->stack);
}

static size_t head_len(const struct item *it)
{
    return it->size < OBJTYPE_HEAD ? (size_t)it->size : OBJTYPE_HEAD;
}

/* Items with their heads: each whose type is known already counted; the
 * others' possible type words read in batches, then they are classified.
 * (Reading every word first would read, for each tuple, the objects its
 * items point at: a million tuples, millions of reads.) */
static void classify(struct census *c, struct item *items, const uint8_t **heads,
                     size_t n)
{
    size_t need = n * (OBJTYPE_HEAD / 16), nc = 0;
    if (need > c->capcand) {
        uint64_t *v = realloc(c->cand, need * sizeof *v);
        if (!v) {
            c->oom = 1;
            return;
        }
        c->cand = v;
        c->capcand = need;
    }
    for (size_t i = 0; i < n; i++) {
        if (!heads[i])
            continue;           /* freed and unmapped since: not live */
        const struct objtype *t = objtype_of(&c->types, NULL, heads[i], head_len(&items[i]),
                                             items[i].size);
        uint32_t name = t ? name_id(c, t) : 0;
        if (name) {
            count(c, name, &items[i]);
            items[i].name = name;
            heads[i] = NULL;    /* done */
        }
    }
    for (size_t i = 0; i < n; i++)
        for (size_t o = 0; heads[i] && o + 16 <= head_len(&items[i]); o += 16) {
            uint64_t type;
            memcpy(&type, heads[i] + o + OBJTYPE_OB_TYPE, sizeof type);
            if (!kmap_get(&c->types.index, type, 0, 0))
                c->cand[nc++] = type;
        }
    objtype_prefetch(&c->types, &c->r, c->cand, nc);
    for (size_t i = 0; i < n; i++) {
        if (!heads[i])
            continue;           /* freed and unmapped since: not live */
        const struct objtype *t = objtype_of(&c->types, &c->r, heads[i], head_len(&items[i]),
                                             items[i].size);
        uint32_t name = t ? name_id(c, t) : 0;
        if (name) {
            count(c, name, &items[i]);
            items[i].name = name;
        } else if (!t && c->types.n < OBJTYPE_CACHE_MAX) {
            items[i].name = CENSUS_NO_TYPE;     /* every word it has was tried */
        }
    }
}

/* The items by address: a radix sort (least significant digit first, of
 * (address, index) pairs, then the items gathered in that order).  qsort
 * with a comparison function was two thirds of a census's CPU on millions
 * of blocks (alloc_objects), and ran in one go, holding the memory thread
 * for 100-300 ms while the agents waited on a full pipe.  Digits that are
 * the same in every address (the alignment's low bits, the high ones) are
 * skipped.  0 when out of memory. */
#define RADIX_BITS 11
struct keyed {
    uint64_t addr, i;
};

static int sort_items(struct census *c)
{
    size_t n = c->nitems;
    struct keyed *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    struct item *out = malloc(n * sizeof *out);
    if (!a || !b || !out) {
        free(a);
        free(b);
        free(out);
        return 0;
    }
    uint64_t any = 0, all = ~0ull;
    for (size_t i = 0; i < n; i++) {
        a[i] = (struct keyed){ c->items[i].addr, i };
        any |= c->items[i].addr;
        all &= c->items[i].addr;
    }
    const uint64_t mask = (1u << RADIX_BITS) - 1;
    for (unsigned shift = 0; shift < 64; shift += RADIX_BITS) {
        if (!(((any ^ all) >> shift) & mask))
            continue;                   /* this digit is the same everywhere */
        size_t pos[1u << RADIX_BITS] = { 0 };
        for (size_t i = 0; i < n; i++)
            pos[(a[i].addr >> shift) & mask]++;
        size_t sum = 0;
        for (size_t d = 0; d <= mask; d++) {
            size_t k = pos[d];
            pos[d] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            b[pos[(a[i].addr >> shift) & mask]++] = a[i];
        struct keyed *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = c->items[a[i].i];
        assert(i == 0 || out[i - 1].addr <= out[i].addr);
    }
    free(a);
    free(b);
    free(c->items);
    c->items = out;
    c->capitems = n;
    return 1;
}

/* Up to NWIN windows from item i: read, then classified; returns the
 * next item.  A window that cannot be read whole (a hole: memory unmapped
 * since) is read block by block. */
static size_t windows(struct census *c, size_t i)
{
    struct reader_iov iov[NWIN];
    size_t first[NWIN + 1], k = 0, j = i;
    while (k < NWIN && j < c->nitems) {
        uint64_t start = c->items[j].addr, end = start + head_len(&c->items[j]);
        first[k] = j++;
        while (j < c->nitems && c->items[j].addr + head_len(&c->items[j]) - start <= WINDOW) {
            uint64_t e = c->items[j].addr + head_len(&c->items[j]);
            end = e > end ? e : end;
            j++;
        }
        iov[k] = (struct reader_iov){ start, c->buf + (size_t)k * WINDOW, (size_t)(end - start), 0 };
        k++;
    }
    first[k] = j;
    reader_readv(&c->r, iov, k);
    size_t n = j - i;
    const uint8_t **heads = malloc(n * sizeof *heads);
    uint8_t (*own)[OBJTYPE_HEAD] = NULL;
    if (!heads) {
        c->oom = 1;
        return j;
    }
    for (size_t w = 0; w < k; w++) {
        size_t a = first[w], b = first[w + 1];
        if (iov[w].ok) {
            for (size_t x = a; x < b; x++)
                heads[x - i] = (const uint8_t *)iov[w].dst + (c->items[x].addr - iov[w].addr);
            continue;
        }
        if (!own && !(own = malloc(n * sizeof *own))) {
            c->oom = 1;
            break;
        }
        for (size_t x = a; x < b; x++) {
            const struct item *it = &c->items[x];
            heads[x - i] = reader_read(&c->r, it->addr, own[x - i], head_len(it)) == 0
                               ? own[x - i] : NULL;
        }
    }
    if (!c->oom)
        classify(c, c->items + i, heads, n);
    free(own);
    free(heads);
    return j;
}

void census_add(struct census *c, uint64_t addr, uint64_t size, uint64_t count, uint64_t bytes,
                uint32_t stack)
{
    if (size < 16 || c->oom)
        return;                 /* no object is smaller than its header */
    if (c->nitems == c->capitems) {
        size_t cap = c->capitems ? 2 * c->capitems : 4096;
        struct item *v = realloc(c->items, cap * sizeof *v);
        if (!v) {
            c->oom = 1;
            return;
        }
        c->items = v;
        c->capitems = cap;
    }
    c->items[c->nitems++] = (struct item){ addr, size, count, bytes, stack, 0 };
}

void census_add_known(struct census *c, uint32_t name, uint64_t count, uint64_t bytes,
                      uint32_t stack)
{
    if (!c->oom)
        count_known(c, name, count, bytes, stack);
}

void census_each_read(const struct census *c, census_read_fn fn, void *ctx)
{
    for (size_t i = 0; i < c->nitems; i++)
        fn(ctx, c->items[i].addr, i < c->pos ? c->items[i].name : 0);
}

void census_drop(struct census_result *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

void census_write(struct capture_writer *w, struct census_result *r)
{
    capw_hold(w);                       /* thousands of rows: one lock */
    for (size_t i = 0; i < r->n; i++)
        capw_type_count(w, &r->v[i]);
    capw_release(w);
    census_drop(r);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* CPU time of this thread: a step's budget. */
static uint64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int census_step(struct census *c, uint64_t budget_ns)
{
    uint64_t t0 = cpu_ns();
    if (!c->buf && !(c->buf = malloc((size_t)NWIN * WINDOW)))
        c->oom = 1;
    if (c->pos == 0 && c->nitems && !c->oom && !sort_items(c))
        c->oom = 1;
    while (c->pos < c->nitems && !c->oom) {
        c->pos = windows(c, c->pos);
        if (cpu_ns() - t0 >= budget_ns)
            break;
    }
    return c->pos >= c->nitems || c->oom;
}

void census_end(struct census *c, uint64_t t_ns, struct census_result *out)
{
    census_drop(out);
    while (!census_step(c, UINT64_MAX))
        ;
    out->done_ns = monotonic_ns();
    if (c->oom || !c->ntally || !(out->v = malloc(c->ntally * sizeof *out->v)))
        return;
    int32_t pid = (int32_t)(intptr_t)c->r.ctx;
    for (size_t i = 0; i < c->ntally; i++) {
        const struct tally *t = &c->tally[i];
        out->v[i] = (struct cap_type_count){ t_ns, pid, t->name, t->stack, t->count, t->bytes };
    }
    out->n = c->ntally;
}
