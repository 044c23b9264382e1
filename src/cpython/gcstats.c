/*
 * gcstats.c -- the collector's counters, from outside (gcstats.h).
 */
#include "cpython/gcstats.h"

int py_gc_stats(struct py_target *t, uint64_t interp, struct cap_gc_point *out)
{
    const struct py_layout *l = &t->layout;
    /* struct gc_generation_stats { Py_ssize_t collections, collected,
     * uncollectable; } generation_stats[NUM_GENERATIONS] */
    int64_t v[CAP_GC_GENERATIONS][3];
    if (l->is_gc_stats == PY_NOFIELD ||
        (!interp && reader_ptr(&t->rd, t->runtime + l->rt_interpreters_head, &interp) < 0) ||
        !interp ||
        reader_read(&t->rd, interp + l->is_gc_stats, v, sizeof v) < 0)
        return -1;
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        if (v[k][0] < 0 || v[k][1] < 0 || v[k][2] < 0)
            return -1;
        out->collections[k] = (uint64_t)v[k][0];
        out->collected[k] = (uint64_t)v[k][1];
        out->uncollectable[k] = (uint64_t)v[k][2];
    }
    return 0;
}
