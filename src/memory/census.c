/*
 * census.c -- one census of a process's live objects by type (census.h).
 */
#include "memory/census.h"
#include "cpython/objtype.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 1024

struct pending {
    uint64_t size, count, bytes;
    uint32_t stack;
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
    struct reader_iov iov[BATCH];
    uint8_t head[BATCH][OBJTYPE_HEAD];
    struct pending pend[BATCH];
    size_t n;
    struct kmap index;          /* (name, stack) -> tally[i] */
    struct tally *tally;
    size_t ntally, captally;
    uint64_t objects;
    int failed_read, oom, gone;   /* gone: a whole batch unreadable */
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
    c->n = c->ntally = 0;
    c->objects = 0;
    c->failed_read = c->oom = c->gone = 0;
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

static void count(struct census *c, uint32_t name, const struct pending *p)
{
    int isnew;
    uint32_t *slot = kmap_put(&c->index, name, p->stack, (uint32_t)c->ntally, &isnew);
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
        c->tally[c->ntally++] = (struct tally){ name, p->stack, 0, 0 };
    }
    c->tally[*slot].count += p->count;
    c->tally[*slot].bytes += p->bytes;
    c->objects += p->count;
}

static void drain(struct census *c)
{
    reader_readv(&c->r, c->iov, c->n);
    size_t ok = 0;
    for (size_t i = 0; i < c->n; i++)
        ok += c->iov[i].ok != 0;
    c->gone = !ok && c->n;      /* exited: no use reading the rest */
    for (size_t i = 0; i < c->n; i++) {
        if (!c->iov[i].ok) {
            c->failed_read = 1;
            continue;
        }
        /* the names' table follows the type cache, which the lookup may grow */
        const struct objtype *t = objtype_of(&c->types, &c->r, c->head[i], c->iov[i].len,
                                             c->pend[i].size);
        uint32_t name = t ? name_id(c, t) : 0;
        if (name)
            count(c, name, &c->pend[i]);
    }
    c->n = 0;
}

void census_add(struct census *c, uint64_t addr, uint64_t size, uint64_t count, uint64_t bytes,
                uint32_t stack)
{
    size_t len = size < OBJTYPE_HEAD ? (size_t)size : OBJTYPE_HEAD;
    if (len < 16 || c->gone)
        return;                 /* no object is smaller than its header */
    c->iov[c->n] = (struct reader_iov){ addr, c->head[c->n], len, 0 };
    c->pend[c->n] = (struct pending){ size, count, bytes, stack };
    if (++c->n == BATCH)
        drain(c);
}

int64_t census_end(struct census *c, uint64_t t_ns, int whole)
{
    drain(c);
    if ((whole && c->failed_read) || c->oom)
        return -1;
    int32_t pid = (int32_t)(intptr_t)c->r.ctx;
    for (size_t i = 0; i < c->ntally; i++) {
        const struct tally *t = &c->tally[i];
        capw_type_count(c->w, &(struct cap_type_count){ t_ns, pid, t->name, t->stack,
                                                        t->count, t->bytes });
    }
    return (int64_t)c->objects;
}
