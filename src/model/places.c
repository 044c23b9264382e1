/*
 * places.c -- rows summed by location (places.h).
 */
#include "model/places.h"
#include "util/kmap.h"

#include <assert.h>
#include <stdlib.h>

int prof_places_build(struct prof_places *pl, const struct profile *p)
{
    const struct capture *c = p->cap;
    struct kmap index = {0};
    int isnew;
    pl->n = 0;
    pl->v = malloc((p->nrows ? p->nrows : 1) * sizeof *pl->v);
    if (!pl->v)
        return -1;
    for (size_t i = 0; i < p->nrows; i++) {
        const struct prof_row *r = &p->rows[i];
        const struct cap_frame *f = capture_stack_site(c, r->stack);
        uint32_t line = f ? p->line_of[f - c->frames] : UINT32_MAX;
        uint32_t *slot = kmap_put(&index, line, 0, (uint32_t)pl->n, &isnew);
        if (!slot) {
            kmap_free(&index);
            prof_places_free(pl);
            return -1;
        }
        if (isnew)
            pl->v[pl->n++] = (struct prof_place){ .line = f ? &p->lines[line] : NULL,
                                                  .order = (uint32_t)pl->n };
        prof_metrics_sum(&pl->v[*slot].m, &r->m);
    }
    assert(pl->n <= p->nrows);
    kmap_free(&index);
    return 0;
}

void prof_places_free(struct prof_places *pl)
{
    free(pl->v);
    pl->v = NULL;
    pl->n = 0;
}

struct sort_by {
    enum prof_metric by, then;
};

static int by_metrics(const void *a, const void *b, void *ctx)
{
    const struct prof_place *x = a, *y = b;
    const struct sort_by *s = ctx;
    uint64_t x1 = prof_metric_ns(&x->m, s->by), y1 = prof_metric_ns(&y->m, s->by);
    if (x1 != y1)
        return x1 < y1 ? 1 : -1;
    uint64_t x2 = prof_metric_ns(&x->m, s->then), y2 = prof_metric_ns(&y->m, s->then);
    if (x2 != y2)
        return x2 < y2 ? 1 : -1;
    return x->order < y->order ? -1 : x->order > y->order;
}

void prof_places_sort(struct prof_places *pl, enum prof_metric by, enum prof_metric then)
{
    struct sort_by s = { by, then };
    qsort_r(pl->v, pl->n, sizeof *pl->v, by_metrics, &s);
}
