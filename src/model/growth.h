/*
 * growth.h -- leak suspects: the stacks whose held memory keeps rising,
 * from the capture's growth records (each stack's live bytes at the end of
 * equal time buckets, capture.h).
 *
 * Contract: a stack's series is its records summed over processes and
 * threads (bucket i is the same time in all of them).  It is a suspect
 * when, over its growth window -- from the last time it held its least to
 * the run's end, at least GROWTH_MIN_BUCKETS buckets and half of the time
 * since it first held memory --
 *   - it gained at least max(GROWTH_MIN_BYTES, 4 x the sampling mean),
 *   - a least-squares line through its points rises, with R^2 >= 0.8,
 *   - and at least half of the window's steps rose.
 * So memory that is simply not freed at the end (allocated once, early, or
 * in the last buckets) is no suspect, and neither is a working set that
 * comes and goes.  Suspects are sorted by rate, largest first.  A capture
 * without growth records (older, or --memory off) has none.  0, or -1
 * when out of memory.
 */
#ifndef STETHO_MODEL_GROWTH_H
#define STETHO_MODEL_GROWTH_H

#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"

#define GROWTH_MIN_BUCKETS 6
#define GROWTH_MIN_BYTES (256u << 10)

struct growth_series {
    uint32_t stack;             /* the capture's stack id */
    uint32_t n;                 /* buckets */
    uint64_t *live;             /* [n]: bytes held at each bucket's end */
};

struct growth_suspect {
    uint32_t series;            /* index into growth.series */
    double rate;                /* bytes per second, the line's slope */
    double r2;                  /* how well the line fits, 0..1 */
    double rose;                /* fraction of the window's steps that rose */
    uint64_t since_ns;          /* the window's start, since the capture's */
    uint64_t from_bytes, to_bytes;      /* held then, and at the last bucket */
    uint32_t nbuckets;          /* the window's */
};

struct growth {
    uint64_t bucket_ns;         /* 0: the capture has no growth records */
    struct growth_series *series;       /* one per stack that held memory */
    size_t nseries;
    struct growth_suspect *suspects;
    size_t nsuspects;
};

int growth_build(struct growth *g, const struct capture *c);
void growth_free(struct growth *g);

#endif
