/*
 * gcpauses.h -- the garbage collector's pauses per generation, from the
 * GC_PAUSE records the agent timed (capture.h cap_gc_pause): collections,
 * total and longest pause, objects collected and uncollectable, and a
 * histogram of the pauses.
 *
 * Contract: prof_gc_pauses_build() sums every process's records; `exact`
 * is 0 when the capture has none (no agent: the reports then fall back to
 * the sampled [gc] frames, and say so).  Histogram bucket k counts the
 * pauses of at most prof_gc_hist_le_ns[k] nanoseconds (and more than
 * bucket k - 1's); the last bucket has no bound.  No allocation.
 */
#ifndef STETHO_MODEL_GCPAUSES_H
#define STETHO_MODEL_GCPAUSES_H

#include <stdint.h>
#include "capture/capture.h"

#define PROF_GC_HIST 8

extern const uint64_t prof_gc_hist_le_ns[PROF_GC_HIST];        /* last: UINT64_MAX */

struct prof_gc_gen {
    uint64_t collections, total_ns, longest_ns, collected, uncollectable;
    uint64_t hist[PROF_GC_HIST];
};

struct prof_gc_pauses {
    int exact;
    struct prof_gc_gen gen[CAP_GC_GENERATIONS];
};

void prof_gc_pauses_build(struct prof_gc_pauses *p, const struct capture *c);

#endif
