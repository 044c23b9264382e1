/*
 * gcstats.c -- the collector's counters, from outside (gcstats.h).
 */
#include "cpython/gcstats.h"

_Static_assert(PY_GC_GENERATIONS == CAP_GC_GENERATIONS, "one generation per generation");

int py_gc_stats(const struct py_snapshot *s, struct cap_gc_point *out)
{
    /* struct gc_generation_stats { Py_ssize_t collections, collected,
     * uncollectable; } generation_stats[NUM_GENERATIONS] */
    if (!s->gc_stats_ok)
        return -1;
    for (int k = 0; k < CAP_GC_GENERATIONS; k++) {
        const int64_t *v = s->gc_stats[k];
        if (v[0] < 0 || v[1] < 0 || v[2] < 0)
            return -1;
        out->collections[k] = (uint64_t)v[0];
        out->collected[k] = (uint64_t)v[1];
        out->uncollectable[k] = (uint64_t)v[2];
    }
    return 0;
}
