/*
 * growth.c -- leak suspects from the growth records (growth.h).
 */
#include "model/growth.h"
#include "util/array.h"
#include "util/kmap.h"

#include <stdlib.h>
#include <string.h>

void growth_free(struct growth *g)
{
    for (size_t i = 0; i < g->nseries; i++)
        free(g->series[i].live);
    free(g->series);
    free(g->suspects);
    memset(g, 0, sizeof *g);
}

/* The records summed per stack. */
static int merge(struct growth *g, const struct capture *c)
{
    struct kmap index = {0};
    size_t cap = 0;
    int rc = -1;
    for (size_t r = 0; r < c->ngrowth; r++) {
        const struct cap_mem_growth *rec = &c->growth[r];
        if (!g->bucket_ns)
            g->bucket_ns = rec->bucket_ns;
        if (rec->bucket_ns != g->bucket_ns)
            continue;           /* one recorder writes one width; another is no series of ours */
        int isnew;
        uint32_t *slot = kmap_put(&index, rec->stack, 0, (uint32_t)g->nseries, &isnew);
        if (!slot)
            goto out;
        if (isnew) {
            if (ARRAY_RESERVE(g->series, g->nseries, cap) < 0)
                goto out;
            g->series[g->nseries++] = (struct growth_series){ rec->stack, 0, NULL };
        }
        struct growth_series *s = &g->series[*slot];
        if (rec->n > s->n) {
            uint64_t *v = realloc(s->live, rec->n * sizeof *v);
            if (!v)
                goto out;
            memset(v + s->n, 0, (rec->n - s->n) * sizeof *v);
            s->live = v;
            s->n = rec->n;
        }
        for (uint32_t i = 0; i < rec->n; i++)
            s->live[i] += rec->live[i];
    }
    rc = 0;
out:
    kmap_free(&index);
    return rc;
}

/* A suspect if it is one (growth.h), else 0. */
static int judge(const struct growth *g, uint32_t which, uint64_t min_bytes,
                 struct growth_suspect *out)
{
    const struct growth_series *s = &g->series[which];
    uint32_t first = 0, low = 0;
    while (first < s->n && !s->live[first])
        first++;
    if (first == s->n)
        return 0;
    for (uint32_t i = first; i < s->n; i++)
        if (s->live[i] <= s->live[low])
            low = i;            /* the last time it held its least */
    if (first)
        first--;                /* it held nothing at the bucket before */
    uint32_t n = s->n - low;
    if (n < GROWTH_MIN_BUCKETS || 2 * n < s->n - first ||
        s->live[s->n - 1] < s->live[low] + min_bytes)
        return 0;

    double w = (double)g->bucket_ns / 1e9, sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    uint32_t rose = 0;
    for (uint32_t i = low; i < s->n; i++) {
        double x = (i + 1) * w, y = (double)s->live[i];
        sx += x, sy += y, sxx += x * x, sxy += x * y, syy += y * y;
        rose += i > low && s->live[i] > s->live[i - 1];
    }
    double vx = sxx - sx * sx / n, vy = syy - sy * sy / n, cxy = sxy - sx * sy / n;
    if (vx <= 0 || vy <= 0 || cxy <= 0)
        return 0;
    double r2 = cxy * cxy / (vx * vy);
    double rose_frac = (double)rose / (n - 1);
    if (r2 < 0.8 || rose_frac < 0.5)
        return 0;
    *out = (struct growth_suspect){ which, cxy / vx, r2, rose_frac,
                                    (uint64_t)(low + 1) * g->bucket_ns, s->live[low],
                                    s->live[s->n - 1], n };
    return 1;
}

static int by_rate(const void *a, const void *b)
{
    const struct growth_suspect *x = a, *y = b;
    if (x->rate != y->rate)
        return x->rate < y->rate ? 1 : -1;
    return (x->series > y->series) - (x->series < y->series);
}

int growth_build(struct growth *g, const struct capture *c)
{
    memset(g, 0, sizeof *g);
    if (merge(g, c) < 0)
        goto oom;
    g->suspects = malloc((g->nseries ? g->nseries : 1) * sizeof *g->suspects);
    if (!g->suspects)
        goto oom;
    uint64_t mean = c->mem_totals.sample_mean;
    uint64_t min_bytes = mean * 4 > GROWTH_MIN_BYTES ? mean * 4 : GROWTH_MIN_BYTES;
    for (size_t i = 0; i < g->nseries; i++)
        g->nsuspects += judge(g, (uint32_t)i, min_bytes, &g->suspects[g->nsuspects]);
    qsort(g->suspects, g->nsuspects, sizeof *g->suspects, by_rate);
    return 0;
oom:
    growth_free(g);
    return -1;
}
