/*
 * types.c -- the type census table from the TYPES records (types.h).
 */
#include "model/types.h"
#include "model/capinfo.h"
#include "util/array.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

void prof_types_free(struct prof_types *t)
{
    free(t->rows);
    memset(t, 0, sizeof *t);
}

/* One process's censuses: which ones the columns come from. */
struct proc_census {
    int32_t pid;
    uint64_t first, peak, end;
    int has_peak_before;
};

static struct proc_census *proc_of(struct proc_census *p, size_t n, int32_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (p[i].pid == pid)
            return &p[i];
    return NULL;
}

static int by_end_bytes(const void *a, const void *b)
{
    const struct prof_type_row *x = a, *y = b;
    if (x->end_bytes != y->end_bytes)
        return x->end_bytes < y->end_bytes ? 1 : -1;
    return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

int prof_types_build(struct prof_types *t, const struct capture *c)
{
    memset(t, 0, sizeof *t);
    t->sample_mean = c->mem_totals.sample_mean;
    if (!c->ntypes)
        return 0;
    uint64_t peak_t = c->mem_totals.peak_heap_t_ns;
    struct proc_census *procs = NULL;
    size_t nprocs = 0, capprocs = 0, caprows = 0;
    struct kmap rows = {0}, tops = {0}, seen = {0};
    uint64_t *top_count = NULL;
    size_t ntop = 0, captop = 0;
    int rc = -1;

    /* which census of each process is its first, nearest the peak, last */
    for (size_t i = 0; i < c->ntypes; i++) {
        const struct cap_type_count *r = &c->types[i];
        int isnew;
        if (!kmap_put(&seen, (uint64_t)(uint32_t)r->pid, r->t_ns, 0, &isnew))
            goto out;
        t->ncensus += isnew;
        struct proc_census *p = proc_of(procs, nprocs, r->pid);
        if (!p) {
            if (ARRAY_RESERVE(procs, nprocs, capprocs) < 0)
                goto out;
            p = &procs[nprocs++];
            *p = (struct proc_census){ r->pid, r->t_ns, r->t_ns, r->t_ns, r->t_ns <= peak_t };
        }
        if (r->t_ns < p->first)
            p->first = r->t_ns;
        if (r->t_ns > p->end)
            p->end = r->t_ns;
        /* the last at or before the peak, else the first after it */
        if (r->t_ns <= peak_t) {
            if (!p->has_peak_before || r->t_ns > p->peak)
                p->peak = r->t_ns;
            p->has_peak_before = 1;
        } else if (!p->has_peak_before && r->t_ns < p->peak) {
            p->peak = r->t_ns;
        }
    }
    t->peak_t_ns = procs[0].peak;
    t->end_t_ns = procs[0].end;

    for (size_t i = 0; i < c->ntypes; i++) {
        const struct cap_type_count *r = &c->types[i];
        const struct proc_census *p = proc_of(procs, nprocs, r->pid);
        int isnew;
        uint32_t *slot = kmap_put(&rows, r->name, 0, (uint32_t)t->nrows, &isnew);
        if (!slot)
            goto out;
        if (isnew) {
            if (ARRAY_RESERVE(t->rows, t->nrows, caprows) < 0)
                goto out;
            memset(&t->rows[t->nrows], 0, sizeof t->rows[0]);
            t->rows[t->nrows++].name = capture_string(c, r->name);
        }
        struct prof_type_row *row = &t->rows[*slot];
        if (r->t_ns == p->peak) {
            row->count += r->count;
            row->bytes += r->bytes;
        }
        if (r->t_ns == p->first) {
            row->growth_count -= (int64_t)r->count;
            row->growth_bytes -= (int64_t)r->bytes;
        }
        if (r->t_ns != p->end)
            continue;
        row->end_count += r->count;
        row->end_bytes += r->bytes;
        row->growth_count += (int64_t)r->count;
        row->growth_bytes += (int64_t)r->bytes;
        uint32_t *top = kmap_put(&tops, r->name, r->stack, (uint32_t)ntop, &isnew);
        if (!top)
            goto out;
        if (isnew) {
            if (ARRAY_RESERVE(top_count, ntop, captop) < 0)
                goto out;
            top_count[ntop++] = 0;
        }
        top_count[*top] += r->count;
        /* top_share holds the top stack's count until the end */
        if ((double)top_count[*top] > row->top_share ||
            ((double)top_count[*top] == row->top_share && r->stack < row->top_stack)) {
            row->top_stack = r->stack;
            row->top_share = (double)top_count[*top];
        }
    }
    for (size_t i = 0; i < t->nrows; i++) {
        struct prof_type_row *row = &t->rows[i];
        row->top_share = row->end_count ? row->top_share / (double)row->end_count : 0;
        const struct cap_frame *f = row->top_stack ? capture_stack_site(c, row->top_stack) : NULL;
        if (f) {
            row->top_func = capture_string(c, f->function);
            row->top_file = capture_string(c, f->file);
            row->top_line = f->line;
        }
    }
    qsort(t->rows, t->nrows, sizeof *t->rows, by_end_bytes);
    rc = 0;
out:
    free(procs);
    free(top_count);
    kmap_free(&rows);
    kmap_free(&tops);
    kmap_free(&seen);
    if (rc < 0)
        prof_types_free(t);
    return rc;
}
