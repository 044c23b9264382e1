/*
 * table.h -- the functions (or lines) of the report model's tables, one
 * row each with every metric, the way `stetho table` prints them.
 *
 * Contract: rows sorted by the metric's self (or total) value, largest
 * first; the user..samples columns split the value sorted by, so a row's
 * columns add up to it; a capture with memory adds allocated, allocations,
 * peak and leaked.  0, or -1 when out of memory (write errors are the
 * caller's to check).  With calls: one row per function that was
 * counted, cProfile's columns (ncalls as total/primitive when they differ,
 * tottime, tottime per call, cumtime, cumtime per primitive call,
 * filename:lineno(function)), sorted by tottime (or cumtime with
 * by_total), with the sampled user, sys and wait seconds of the function's
 * total time beside them ("-" for a function never sampled); a capture without counts is an error the caller
 * reports (-2).
 */
#ifndef STETHO_REPORT_TABLE_H
#define STETHO_REPORT_TABLE_H

#include <stdio.h>
#include "model/profile.h"

struct table_opts {
    int lines;                  /* one row per line, not per function */
    int by_total;               /* sort by total, not self */
    enum prof_metric metric;
    long limit;                 /* 0 = every row */
    int calls;                  /* cProfile's columns from the exact counts */
    int merge_tasks;            /* asyncio tasks by coroutine (profile.h) */
};

/* 0; -1 out of memory; -2 the capture has no call counts (calls). */
int report_table_print(const struct capture *c, const struct table_opts *o, FILE *out);

#endif
