/*
 * cells.c -- the model's (bucket, thread, node) sums (cells.h).
 *
 * One pass over the samples and the memory records; a record's thread
 * and node are those of the profile's row of its (pid, tid, stack), a
 * look-up.  Only at the
 * end is the number of cells known: buckets are merged two by two while
 * there are too many, and the cells are sorted.
 */
#include "model/cells.h"
#include "util/array.h"
#include "util/kmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Add v to the cell (bucket, thread, node); 0, or -1. */
static int add_cell(struct prof_cells *cl, struct kmap *map, uint32_t bucket, uint32_t thread,
                    uint32_t node, const uint64_t v[PROF_NCOLS])
{
    int isnew;
    uint32_t *slot = kmap_put(map, bucket, (uint64_t)thread << 32 | node, (uint32_t)cl->n,
                              &isnew);
    if (!slot)
        return -1;
    if (isnew) {
        if (ARRAY_RESERVE(cl->v, cl->n, cl->cap) < 0)
            return -1;
        struct prof_cell *cell = &cl->v[cl->n++];
        *cell = (struct prof_cell){ .bucket = bucket, .thread = thread, .node = node };
    }
    struct prof_cell *cell = &cl->v[*slot];
    for (int k = 0; k < PROF_NCOLS; k++)
        cell->v[k] += v[k];
    return 0;
}

/* Halve the number of buckets, merging the cells of each pair. */
static int coarsen(struct prof_cells *cl)
{
    struct prof_cell *old = cl->v;
    size_t n = cl->n;
    struct kmap map = {0};
    int rc = 0;
    cl->v = NULL;
    cl->n = cl->cap = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = add_cell(cl, &map, old[i].bucket / 2, old[i].thread, old[i].node, old[i].v);
    free(old);
    kmap_free(&map);
    cl->nbuckets = (cl->nbuckets + 1) / 2;
    cl->bucket_ns *= 2;
    return rc;
}

/* Add v, of (pid, tid, stack) at time t, to its cell and the totals;
 * row is the profile's row of it, if known (else looked up). */
static int add_record(struct prof_cells *cl, struct kmap *map, const struct profile *p,
                      const struct prof_row *row, uint64_t t, int32_t pid, int32_t tid,
                      uint32_t stack, const uint64_t v[PROF_NCOLS])
{
    if (!row)
        row = prof_row_of(p, pid, tid, stack);
    uint32_t thread, leaf;
    if (row) {
        thread = row->thread;
        leaf = row->leaf;
    } else {
        /* an interval of a stack no memory entry has: its thread's root */
        uint64_t key = (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
        thread = kmap_get(&p->thread_index, key, 0, UINT32_MAX);
        if (thread == UINT32_MAX)
            return 0;           /* filtered out of the profile */
        leaf = p->threads[thread].root == UINT32_MAX ? 0 : p->threads[thread].root;
    }
    assert(thread < p->nthreads && leaf < p->nnodes);
    uint64_t bucket = t / cl->bucket_ns;
    if (bucket >= cl->nbuckets)
        bucket = cl->nbuckets - 1;
    for (int k = 0; k < PROF_NCOLS; k++)
        cl->totals[k] += v[k];
    return add_cell(cl, map, (uint32_t)bucket, thread, leaf, v);
}

/* Allocations when they happened; what each stack held at the heap's
 * peak at the peak; leaks at the end. */
static int add_memory(struct prof_cells *cl, struct kmap *map, const struct profile *p)
{
    const struct capture *c = p->cap;
    uint64_t v[PROF_NCOLS], end = cl->span_ns - 1;
    uint64_t peak = c->mem_totals.peak_heap_t_ns ? c->mem_totals.peak_heap_t_ns : end;
    for (size_t i = 0; i < c->nmem_allocs; i++) {
        const struct cap_mem_interval *m = &c->mem_allocs[i];
        memset(v, 0, sizeof v);
        v[PROF_COL_ALLOC] = m->bytes;
        v[PROF_COL_ALLOCS] = m->count;
        if (add_record(cl, map, p, NULL, m->t_ns, m->pid, m->tid, m->stack, v) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->nmem; i++) {
        const struct cap_mem_stack *m = &c->mem[i];
        memset(v, 0, sizeof v);
        v[PROF_COL_PEAK] = m->peak_bytes;
        if (v[PROF_COL_PEAK] &&
            add_record(cl, map, p, NULL, peak, m->pid, m->tid, m->stack, v) < 0)
            return -1;
        memset(v, 0, sizeof v);
        v[PROF_COL_LEAKED] = m->leaked_bytes;
        if (!c->nmem_allocs) {  /* no intervals: the totals, at the end */
            v[PROF_COL_ALLOC] = m->alloc_bytes;
            v[PROF_COL_ALLOCS] = m->alloc_count;
        }
        if ((v[PROF_COL_LEAKED] || v[PROF_COL_ALLOC] || v[PROF_COL_ALLOCS]) &&
            add_record(cl, map, p, NULL, end, m->pid, m->tid, m->stack, v) < 0)
            return -1;
    }
    return 0;
}

static int cell_order(const void *pa, const void *pb)
{
    const struct prof_cell *a = pa, *b = pb;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    if (a->thread != b->thread)
        return a->thread < b->thread ? -1 : 1;
    return a->node < b->node ? -1 : a->node > b->node;
}

/* The axis: the capture's duration, or up to its last record; buckets of
 * at least two sampling intervals, so that most hold a sample of every
 * thread. */
static void axis(struct prof_cells *cl, const struct capture *c, unsigned max_buckets)
{
    uint64_t span = c->has_duration ? c->duration_ns : 0;
    for (size_t i = 0; i < c->nsamples; i++)
        if (c->samples[i].t_ns >= span)
            span = c->samples[i].t_ns + 1;
    for (size_t i = 0; i < c->ntimeline; i++)
        if (c->timeline[i].t_ns >= span)
            span = c->timeline[i].t_ns + 1;
    for (size_t i = 0; i < c->nmem_allocs; i++)
        if (c->mem_allocs[i].t_ns >= span)
            span = c->mem_allocs[i].t_ns + 1;
    if (!span)
        span = 1;
    uint64_t interval = c->interval_ns ? c->interval_ns : 1000000;
    uint64_t want = span / interval / 2;
    if (want > max_buckets)
        want = max_buckets;
    if (want < 1)
        want = 1;
    cl->span_ns = span;
    cl->bucket_ns = span / want + (span % want != 0);
    cl->nbuckets = (unsigned)((span + cl->bucket_ns - 1) / cl->bucket_ns);
    cl->fine_nbuckets = cl->nbuckets;
    cl->fine_bucket_ns = cl->bucket_ns;
}

int prof_cells_build(struct prof_cells *cl, const struct profile *p,
                     const struct prof_cells_opts *o)
{
    const struct capture *c = p->cap;
    unsigned max_buckets = o && o->max_buckets ? o->max_buckets : PROF_MAX_BUCKETS;
    unsigned min_buckets = o && o->min_buckets ? o->min_buckets : PROF_MIN_BUCKETS;
    size_t max_cells = o && o->max_cells ? o->max_cells : PROF_MAX_CELLS;
    struct kmap map = {0};

    memset(cl, 0, sizeof *cl);
    axis(cl, c, max_buckets);
    cl->ncols = c->has_memory ? PROF_NCOLS : PROF_NTIME_COLS;
    for (size_t i = 0; i < c->nsamples; i++) {
        const struct cap_sample *s = &c->samples[i];
        if (p->sample_row[i] == UINT32_MAX)
            continue;           /* filtered out of the profile */
        uint64_t v[PROF_NCOLS] = { [PROF_COL_SAMPLES] = 1, [PROF_COL_USER] = s->user_ns,
                                   [PROF_COL_SYS] = s->sys_ns };
        for (int k = 0; k < CAP_WAIT_KINDS; k++)
            v[PROF_COL_WAIT + k] = s->wait_ns[k];
        if (add_record(cl, &map, p, &p->rows[p->sample_row[i]], s->t_ns, s->pid, s->tid,
                       s->stack, v) < 0)
            goto fail;
    }
    if (c->has_memory && add_memory(cl, &map, p) < 0)
        goto fail;
    kmap_free(&map);            /* every cell is in; merging makes its own */
    while (cl->n > max_cells && (cl->nbuckets + 1) / 2 >= min_buckets)
        if (coarsen(cl) < 0)
            goto fail;
    if (cl->n)
        qsort(cl->v, cl->n, sizeof *cl->v, cell_order);
    return 0;
fail:
    kmap_free(&map);
    prof_cells_free(cl);
    return -1;
}

void prof_cells_free(struct prof_cells *cl)
{
    free(cl->v);
    memset(cl, 0, sizeof *cl);
}

int prof_cells_series(const struct prof_cells *cl, const struct capture *c, uint64_t **rss,
                      uint64_t **heap)
{
    unsigned n = cl->fine_nbuckets;
    unsigned char *seen = calloc(n, 1);
    *rss = calloc(n, sizeof **rss);
    *heap = calloc(n, sizeof **heap);
    if (!*rss || !*heap || !seen) {
        free(*rss);
        free(*heap);
        free(seen);
        *rss = *heap = NULL;
        return -1;
    }
    for (size_t i = 0; i < c->ntimeline; i++) {
        const struct cap_timeline_point *t = &c->timeline[i];
        uint64_t k = t->t_ns / cl->fine_bucket_ns;
        if (k >= n)
            k = n - 1;
        if (!seen[k] || t->rss_bytes > (*rss)[k])
            (*rss)[k] = t->rss_bytes;
        if (!seen[k] || t->heap_bytes > (*heap)[k])
            (*heap)[k] = t->heap_bytes;
        seen[k] = 1;
    }
    for (unsigned k = 1; k < n; k++)
        if (!seen[k]) {
            (*rss)[k] = (*rss)[k - 1];
            (*heap)[k] = (*heap)[k - 1];
        }
    free(seen);
    return 0;
}
