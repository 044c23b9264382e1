/*
 * top_view.h -- the screen of `stetho top`: a header with the process's
 * totals, a table of functions (or lines), a footer with the keys.
 *
 * Contract: top_view_draw paints one frame on stdscr (curses must be
 * initialised) from the model alone: `whole` is the profile of every
 * thread in the window shown (header, thread names), `shown` the one the
 * table reads (the same, or one thread's); either may be NULL before the
 * first samples.  It never aggregates samples itself.  Everything fits any
 * size the terminal has (80x24 and up; smaller cuts, never wraps); when
 * the names would get too little room, the CPU columns and then the
 * allocation count are left out (never the column sorted by).
 */
#ifndef STETHO_REPORT_TOP_VIEW_H
#define STETHO_REPORT_TOP_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include "model/profile.h"

/* The table's columns, in the order the sort keys (1..8, < >) walk them. */
enum top_col {
    TOP_OWN = 0,        /* own wall */
    TOP_TOTAL,          /* total wall */
    TOP_OWN_CPU,
    TOP_TOTAL_CPU,
    TOP_WAIT,           /* total waiting (its main kind shown) */
    /* the memory columns, only when the capture has memory */
    TOP_HELD,           /* held now: what its stacks hold (latest MEM_LIVE) */
    TOP_ALLOCATED,
    TOP_ALLOCATIONS,
    TOP_NCOLS,
};

#define TOP_RSS_POINTS 64

struct top_view {
    int32_t pid;
    const char *status;         /* NULL while sampling; else why it stopped */
    const char *note;           /* run --live: where the program's output goes */
    int lines;                  /* lines, not functions */
    int sort;                   /* enum top_col */
    int32_t tid;                /* 0: every thread */
    int paused, help, editing, color;
    char filter[64];            /* substring of function or file; "" = none */
    double refresh_s;
    uint64_t window_t0_ns;      /* after `r`: the window starts here */
    uint64_t rss[TOP_RSS_POINTS];       /* RSS at the last refreshes, oldest first */
    size_t nrss;
    uint64_t rss_peak;
};

void top_view_draw(const struct profile *whole, const struct profile *shown,
                   const struct top_view *v);
/* The name of a column, for the header and help ("own", "total cpu", ...). */
const char *top_col_name(int col);

#endif
