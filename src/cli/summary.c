/*
 * summary.c -- count samples per function (name, file, first line).
 *
 * A thread's stack counts once per sample; a function counts once per
 * stack for "total" however often it recurses.
 */
#include "cli/summary.h"

#include <stdlib.h>
#include <string.h>

struct entry {
    char *name, *file;
    int firstline;
    unsigned long self, total;
    unsigned long last_stack;       /* de-duplicates recursion for "total" */
};

struct summary {
    struct entry *v;
    size_t n, cap;
    size_t *index;                  /* open addressing: entry number + 1 */
    size_t index_cap;
    unsigned long samples, stacks;
};

struct summary *summary_new(void)
{
    return calloc(1, sizeof(struct summary));
}

void summary_free(struct summary *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].name);
        free(s->v[i].file);
    }
    free(s->v);
    free(s->index);
    free(s);
}

static size_t hash_key(const char *name, const char *file, int line)
{
    size_t h = 1469598103934665603ULL ^ (size_t)line;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    for (const char *p = file; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static int rehash(struct summary *s)
{
    size_t ncap = s->index_cap ? s->index_cap * 2 : 256;
    size_t *ni = calloc(ncap, sizeof *ni);
    if (!ni)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        size_t j = hash_key(s->v[i].name, s->v[i].file, s->v[i].firstline) & (ncap - 1);
        while (ni[j])
            j = (j + 1) & (ncap - 1);
        ni[j] = i + 1;
    }
    free(s->index);
    s->index = ni;
    s->index_cap = ncap;
    return 0;
}

static struct entry *lookup(struct summary *s, const char *name, const char *file, int line)
{
    if ((s->n + 1) * 2 > s->index_cap && rehash(s) < 0)
        return NULL;
    size_t j = hash_key(name, file, line) & (s->index_cap - 1);
    while (s->index[j]) {
        struct entry *e = &s->v[s->index[j] - 1];
        if (e->firstline == line && !strcmp(e->name, name) && !strcmp(e->file, file))
            return e;
        j = (j + 1) & (s->index_cap - 1);
    }
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 64;
        struct entry *nv = realloc(s->v, ncap * sizeof *nv);
        if (!nv)
            return NULL;
        s->v = nv;
        s->cap = ncap;
    }
    struct entry *e = &s->v[s->n];
    *e = (struct entry){ strdup(name), strdup(file), line, 0, 0, 0 };
    if (!e->name || !e->file) {
        free(e->name);
        free(e->file);
        return NULL;
    }
    s->index[j] = ++s->n;
    return e;
}

void summary_add(struct summary *s, const struct py_snapshot *snap)
{
    s->samples++;
    for (size_t i = 0; i < snap->nthreads; i++) {
        const struct py_thread *th = &snap->threads[i];
        if (!th->n)
            continue;
        s->stacks++;
        for (size_t k = 0; k < th->n; k++) {
            const struct py_frame *f = &snap->frames[th->first + k];
            struct entry *e = lookup(s, py_frame_name(f), py_frame_file(f),
                                     f->code ? f->code->firstlineno : 0);
            if (!e)
                return;
            if (k == 0)
                e->self++;
            if (e->last_stack != s->stacks) {
                e->total++;
                e->last_stack = s->stacks;
            }
        }
    }
}

unsigned long summary_samples(const struct summary *s)
{
    return s->samples;
}

static int by_self(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->self != y->self)
        return x->self < y->self ? 1 : -1;
    return x->total < y->total ? 1 : x->total > y->total ? -1 : 0;
}

void summary_print(const struct summary *s, FILE *f, double seconds)
{
    fprintf(f, "\nstetho: %lu samples in %.2f s, %lu thread stacks\n",
            s->samples, seconds, s->stacks);
    if (!s->stacks)
        return;
    struct entry *sorted = malloc(s->n * sizeof *sorted);
    if (!sorted)
        return;
    memcpy(sorted, s->v, s->n * sizeof *sorted);
    qsort(sorted, s->n, sizeof *sorted, by_self);
    fprintf(f, "  %6s %6s  %s\n", "self%", "total%", "function (file:line)");
    for (size_t i = 0; i < s->n && i < 15 && sorted[i].self; i++)
        fprintf(f, "  %5.1f%% %5.1f%%  %s (%s:%d)\n",
                100.0 * (double)sorted[i].self / (double)s->stacks,
                100.0 * (double)sorted[i].total / (double)s->stacks,
                sorted[i].name, sorted[i].file, sorted[i].firstline);
    free(sorted);
}
