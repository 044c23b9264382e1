/*
 * gcpauses.c -- the collector's pauses per generation (gcpauses.h).
 */
#include "model/gcpauses.h"

#include <string.h>

/* 0.1 ms to 100 ms in steps of about 3x: a young collection takes well
 * under a millisecond, a full one of a large heap tens to hundreds. */
const uint64_t prof_gc_hist_le_ns[PROF_GC_HIST] = {
    100000, 300000, 1000000, 3000000, 10000000, 30000000, 100000000, UINT64_MAX,
};

void prof_gc_pauses_build(struct prof_gc_pauses *p, const struct capture *c)
{
    memset(p, 0, sizeof *p);
    p->exact = c->ngc_pauses > 0;
    for (size_t i = 0; i < c->ngc_pauses; i++) {
        const struct cap_gc_pause *g = &c->gc_pauses[i];
        if (g->generation >= CAP_GC_GENERATIONS)
            continue;           /* the reader refuses them; a hand-made capture */
        struct prof_gc_gen *s = &p->gen[g->generation];
        s->collections++;
        s->total_ns += g->duration_ns;
        if (g->duration_ns > s->longest_ns)
            s->longest_ns = g->duration_ns;
        s->collected += g->collected;
        s->uncollectable += g->uncollectable;
        int k = 0;
        while (k < PROF_GC_HIST - 1 && g->duration_ns > prof_gc_hist_le_ns[k])
            k++;
        s->hist[k]++;
    }
}
