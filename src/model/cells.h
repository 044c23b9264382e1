/*
 * cells.h -- the model on a time axis: the metric sums of each (time
 * bucket, thread, tree node) that has samples or memory records (a
 * "cell"), what the HTML page re-aggregates for any time range.
 *
 * Contract: built on a profile (any options; the HTML report's is one
 * tree for all threads, by line), whose rows' thread indices and leaf
 * nodes the cells use.  The axis is the capture's duration (or up to its last
 * sample, timeline point or allocation), cut into at most max_buckets
 * buckets of at least two sampling intervals.  Samples count at their
 * time; allocations when they happened; what each stack held at the
 * heap's peak at the peak; leaks (and, without intervals, allocations)
 * at the end.  When there are more than max_cells cells, buckets are
 * merged two by two until there are not (or only min_buckets are left).
 * The cells end sorted by (bucket, thread, node).  `totals` are exact
 * (sums before any merging).  Zero options take the defaults.
 */
#ifndef STETHO_MODEL_CELLS_H
#define STETHO_MODEL_CELLS_H

#include "model/profile.h"

#define PROF_MAX_BUCKETS 2000
#define PROF_MIN_BUCKETS 100
#define PROF_MAX_CELLS 150000

/* A cell's columns: a sample count, the time split, then, when the run
 * recorded memory, allocated, allocations, held at the peak, leaked. */
enum prof_col {
    PROF_COL_SAMPLES = 0,
    PROF_COL_USER = 1,
    PROF_COL_SYS = 2,
    PROF_COL_WAIT = 3,          /* + enum cap_wait */
    PROF_COL_ALLOC = PROF_COL_WAIT + CAP_WAIT_KINDS,
    PROF_COL_ALLOCS,
    PROF_COL_PEAK,
    PROF_COL_LEAKED,
    PROF_NCOLS,
    PROF_NTIME_COLS = PROF_COL_ALLOC,
};

_Static_assert(PROF_NCOLS <= 32, "a cell's non-zero columns fit a 32-bit mask");

struct prof_cell {
    uint32_t bucket, thread, node;      /* thread: index into profile.threads */
    uint64_t v[PROF_NCOLS];
};

struct prof_cells_opts {
    unsigned max_buckets, min_buckets;
    size_t max_cells;
};

struct prof_cells {
    struct prof_cell *v;
    size_t n, cap;
    uint64_t totals[PROF_NCOLS];
    int ncols;                  /* PROF_NTIME_COLS, or PROF_NCOLS with memory */
    uint64_t span_ns;           /* the axis: [0, span_ns) */
    uint64_t bucket_ns;
    unsigned nbuckets;
    uint64_t fine_bucket_ns;    /* the buckets before any merging */
    unsigned fine_nbuckets;
};

/* 0, or -1 when out of memory.  o may be NULL. */
int prof_cells_build(struct prof_cells *cl, const struct profile *p,
                     const struct prof_cells_opts *o);
void prof_cells_free(struct prof_cells *cl);

/* The capture's memory timeline on the fine buckets: per bucket the
 * highest RSS (heap) seen in it, or the last value before it.  *rss and
 * *heap get arrays of fine_nbuckets the caller frees; 0, or -1. */
int prof_cells_series(const struct prof_cells *cl, const struct capture *c, uint64_t **rss,
                      uint64_t **heap);

#endif
