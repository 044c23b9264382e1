/*
 * check.h -- `stetho check CAPTURE`: budgets for CI.
 *
 * Contract: the metrics a budget can be put on are wall (the run's
 * duration, what a stopwatch shows), cpu (user + sys of every thread
 * sampled), peak (the heap's peak), leaked and allocations (the memory
 * totals `stetho stats` prints).  A budget is broken when the capture's
 * value is above max[m] (has_max bit m), or, against a baseline capture,
 * above the baseline's value by more than increase[m] (a fraction,
 * has_increase bit m).  check_run prints one line per budget on out,
 * "ok" or "FAIL", and returns how many are broken; or -1 with a one-line
 * reason in err when a budget cannot be judged (no budget at all, a
 * memory budget on a capture without memory).  Out of memory: -1 too.
 */
#ifndef STETHO_REPORT_CHECK_H
#define STETHO_REPORT_CHECK_H

#include <stdio.h>
#include "model/metrics.h"

#define CHECK_BIT(m) (1u << (m))
/* the metrics a budget can name */
#define CHECK_METRICS (CHECK_BIT(PROF_WALL) | CHECK_BIT(PROF_CPU) | CHECK_BIT(PROF_PEAK) | \
                       CHECK_BIT(PROF_LEAKED) | CHECK_BIT(PROF_ALLOCATIONS))

struct check_opts {
    unsigned has_max, has_increase;     /* CHECK_BIT(metric) */
    uint64_t max[PROF_NMETRICS];
    double increase[PROF_NMETRICS];     /* 0.1 = 10 % */
    const char *increase_text[PROF_NMETRICS];   /* as given, for the message */
    const char *max_text[PROF_NMETRICS];
};

int check_run(const struct capture *c, const struct capture *baseline,
              const struct check_opts *o, FILE *out, char *err, size_t errlen);

#endif
