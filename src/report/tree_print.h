/*
 * tree_print.h -- the call tree as text, the way `stetho tree` and the end
 * of `stetho run` show it.
 *
 * Contract: a reader of the report model (model/profile.h).  A header
 * (program, Python, duration, samples, and wall = user + sys +
 * waiting with the numbers), then one line per node:
 *
 *   1.234s 45.6%  compute  app.py:12  [user 1.10 sys 0.02 wait 0.11 (io 0.10 lock 0.01)]
 *
 * children below their parent with tree guides, largest first, nodes
 * under min_percent of the whole left out.  With a memory metric the line
 * leads with bytes or a count ("12.3 MiB", "1,234") and ends with the
 * node's memory ([12.3 MiB in 1,234 allocations, peak ..., leaked ...]);
 * a capture with memory adds a memory line to the header.  Library
 * frames are collapsed unless show_all, direct recursion folded with
 * fold_recursion (see profile.h).  Colour is ANSI escapes, only if asked.
 */
#ifndef STETHO_REPORT_TREE_PRINT_H
#define STETHO_REPORT_TREE_PRINT_H

#include <stdio.h>
#include "capture/capture.h"
#include "model/profile.h"

struct tree_opts {
    enum prof_metric metric;    /* sorts, cuts and heads each line */
    int show_all;               /* no library-frame collapsing */
    double min_percent;         /* leave out nodes under this share */
    int merge_threads;          /* one tree, not one per thread */
    int fold_recursion;         /* f -> f -> f shown once (profile.h) */
    int merge_tasks;            /* asyncio tasks by coroutine (profile.h) */
    int color;
    int has_range;              /* only samples in [t0_ns, t1_ns) */
    uint64_t t0_ns, t1_ns;
};

/* Defaults: wall, collapsed, 1%, per thread, every level of recursion,
 * no colour, everything.  (The commands fold recursion by default.) */
void tree_opts_init(struct tree_opts *o);

/* 0, or -1 when out of memory or `out` failed. */
int report_tree_print(const struct capture *c, const struct tree_opts *o, FILE *out);

/* For a capture with memory: peak heap and RSS and when, then the five
 * stacks that held the most at the heap's peak (their innermost Python
 * function, file:line, bytes), merged by location (model/places.h).
 * Prints nothing without memory.  0, or -1 as report_tree_print. */
int report_memory_headline(const struct capture *c, int color, FILE *out);

#endif
