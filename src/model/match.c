/*
 * match.c -- two captures matched by identity (match.h).
 *
 * Matching is by text because the two runs share nothing else: their
 * string, frame and stack ids are their own.  A function's identity is
 * (function, file) and deliberately not its first line -- an edit above
 * it moves that, and a diff across an edit is the point.  A stack is the
 * list of its functions' identities, so it matches across processes and
 * threads too.
 */
#include "model/match.h"
#include "util/array.h"
#include "util/hash.h"

#include <stdlib.h>
#include <string.h>

/* The identity of (function, file), added if new; UINT32_MAX when out
 * of memory.  A hash collision between different texts moves the key on
 * until it finds the text or a free slot. */
static uint32_t identity(struct match *d, const char *function, const char *file)
{
    uint64_t a = util_hash_str(function), b = util_hash_str(file);
    for (;;) {
        int isnew;
        uint32_t *slot = kmap_put(&d->func_index, a, b, (uint32_t)d->nfuncs, &isnew);
        if (!slot)
            return UINT32_MAX;
        if (isnew) {
            if (ARRAY_RESERVE(d->funcs, d->nfuncs, d->funcs_cap) < 0)
                return UINT32_MAX;
            d->funcs[d->nfuncs] = (struct match_func){ .function = function, .file = file };
            return (uint32_t)d->nfuncs++;
        }
        const struct match_func *f = &d->funcs[*slot];
        if (!strcmp(f->function, function) && !strcmp(f->file, file))
            return *slot;
        b = b * 31 + 1;
    }
}

/* The stack of these identities, added if new; UINT32_MAX when out of
 * memory. */
static uint32_t stack_of(struct match *d, const uint32_t *ids, uint32_t depth)
{
    uint64_t a = util_hash_bytes(ids, depth * sizeof *ids), b = depth;
    for (;;) {
        int isnew;
        uint32_t *slot = kmap_put(&d->stack_index, a, b, (uint32_t)d->nstacks, &isnew);
        if (!slot)
            return UINT32_MAX;
        if (isnew) {
            if (ARRAY_RESERVE(d->stacks, d->nstacks, d->stacks_cap) < 0)
                return UINT32_MAX;
            for (uint32_t i = 0; i < depth; i++) {
                if (ARRAY_RESERVE(d->path, d->npath, d->path_cap) < 0)
                    return UINT32_MAX;
                d->path[d->npath++] = ids[i];
            }
            d->stacks[d->nstacks] = (struct match_stack){ .first = d->npath - depth, .depth = depth };
            return (uint32_t)d->nstacks++;
        }
        const struct match_stack *s = &d->stacks[*slot];
        if (s->depth == depth && !memcmp(d->path + s->first, ids, depth * sizeof *ids))
            return *slot;
        b += (uint64_t)1 << 32;
    }
}

/* One side: its functions and stacks added to the identities. */
static int add_side(struct match *d, int side)
{
    const struct profile *p = &d->p[side];
    uint32_t *ident = malloc((p->nfuncs ? p->nfuncs : 1) * sizeof *ident);
    uint32_t *buf = malloc((p->cap->nstacks + 1) * sizeof *buf);
    int rc = -1;
    if (!ident || !buf)
        goto out;
    for (size_t i = 0; i < p->nfuncs; i++) {
        const struct prof_site *s = &p->funcs[i];
        ident[i] = identity(d, s->function, s->file);
        if (ident[i] == UINT32_MAX)
            goto out;
        prof_metrics_sum(&d->funcs[ident[i]].self[side], &s->self);
        prof_metrics_sum(&d->funcs[ident[i]].total[side], &s->total);
    }
    for (size_t r = 0; r < p->nrows; r++) {
        size_t n = prof_stack_funcs(p, p->rows[r].stack, buf);
        for (size_t i = 0; i < n; i++)
            buf[i] = ident[buf[i]];
        uint32_t s = stack_of(d, buf, (uint32_t)n);
        if (s == UINT32_MAX)
            goto out;
        prof_metrics_sum(&d->stacks[s].m[side], &p->rows[r].m);
    }
    rc = 0;
out:
    free(ident);
    free(buf);
    return rc;
}

void match_free(struct match *d)
{
    for (int k = 0; k < 2; k++)
        if (d->built[k])
            profile_free(&d->p[k]);
    free(d->funcs);
    kmap_free(&d->func_index);
    free(d->stacks);
    free(d->path);
    kmap_free(&d->stack_index);
}

int match_build(struct match *d, const struct capture *base, const struct capture *new_)
{
    const struct capture *c[2] = { base, new_ };
    memset(d, 0, sizeof *d);
    for (int k = 0; k < 2; k++) {
        if (profile_build(&d->p[k], c[k], &(struct profile_opts){ .skip = PROF_NO_TREE }) < 0)
            return -1;
        d->built[k] = 1;
        if (add_side(d, k) < 0)
            return -1;
    }
    return 0;
}

/* ---- sorting ---- */


static int by_change(const void *a, const void *b)
{
    const struct match_order *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

static uint64_t change(const struct prof_metrics m[2], enum prof_metric which)
{
    uint64_t b = prof_metric_ns(&m[0], which), n = prof_metric_ns(&m[1], which);
    return n > b ? n - b : b - n;
}

static int is_empty(const struct prof_metrics *m)
{
    static const struct prof_metrics zero;
    return !memcmp(m, &zero, sizeof zero);
}


int match_sort(const struct match *d, enum prof_metric metric, int by_total,
               struct match_order **fo_out, size_t *nf, struct match_order **so_out, size_t *ns)
{
    struct match_order *fo = malloc((d->nfuncs ? d->nfuncs : 1) * sizeof *fo);
    struct match_order *so = malloc((d->nstacks ? d->nstacks : 1) * sizeof *so);
    *fo_out = fo;
    *so_out = so;
    *nf = *ns = 0;
    if (!fo || !so)
        return -1;
    for (size_t i = 0; i < d->nfuncs; i++) {
        const struct match_func *fn = &d->funcs[i];
        const struct prof_metrics *m = by_total ? fn->total : fn->self;
        if (is_empty(&fn->total[0]) && is_empty(&fn->total[1]))
            continue;
        fo[(*nf)++] = (struct match_order){ (uint32_t)i, change(m, metric), fn->function };
    }
    for (size_t i = 0; i < d->nstacks; i++) {
        const struct match_stack *s = &d->stacks[i];
        if (is_empty(&s->m[0]) && is_empty(&s->m[1]))
            continue;
        so[(*ns)++] = (struct match_order){ (uint32_t)i, change(s->m, metric),
                                            d->funcs[d->path[s->first + s->depth - 1]].function };
    }
    qsort(fo, *nf, sizeof *fo, by_change);
    qsort(so, *ns, sizeof *so, by_change);
    return 0;
}
