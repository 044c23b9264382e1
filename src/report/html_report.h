/*
 * html_report.h -- a capture as one self-contained HTML page: a flame
 * graph, a timeline, and function and line tables, working offline.
 *
 * Contract: the page never receives raw samples.  Its data is the report
 * model's (model/profile.h) call tree shared by all threads, by line, and
 * the model's cells (model/cells.h): the metric sums of each (time bucket,
 * thread, node), which the page sums over a time range to re-aggregate
 * the tree and the tables for that range.  Format and design:
 * docs/html-report.md.
 *
 * A capture with memory also gets the facts of `stetho leaks` (its JSON,
 * report/leaks.h) for the page's Leaks tab.
 *
 * The page's template, CSS and JavaScript are src/report/html/, embedded
 * at build time (tools/embed.py).
 */
#ifndef STETHO_REPORT_HTML_REPORT_H
#define STETHO_REPORT_HTML_REPORT_H

#include <stdio.h>
#include "capture/capture.h"
#include "model/cells.h"

#define HTML_MAX_BUCKETS PROF_MAX_BUCKETS
#define HTML_MIN_BUCKETS PROF_MIN_BUCKETS
#define HTML_MAX_CELLS PROF_MAX_CELLS

/* Limits of the aggregation (zero fields take the defaults above), and
 * --merge-tasks. */
struct html_opts {
    unsigned max_buckets, min_buckets;
    size_t max_cells;
    int merge_tasks;            /* asyncio tasks by coroutine (model/profile.h) */
};

/* What the aggregation came to (for tests and for the command's notes). */
struct html_stats {
    size_t nodes, cells, funcs, sites;  /* nodes: of the shared tree, the root too */
    unsigned buckets;
    uint64_t bucket_ns;
};

/* The page's data alone: one JSON object ("stetho-html/1"), every string
 * written so that it cannot end a <script> element.  0, or -1 when out
 * of memory (write errors are the caller's to check with ferror).
 * o and stats may be NULL. */
int html_report_data(const struct capture *c, const struct html_opts *o, FILE *out,
                     struct html_stats *stats);

/* The whole page: template, CSS, JavaScript and the data. */
int html_report_write(const struct capture *c, const struct html_opts *o, FILE *out,
                      struct html_stats *stats);

/* The page around any data (the diff page's too, report/diff.h): the
 * template with the CSS, the JavaScript, and what data(ctx, out) writes
 * (its -1 is returned, the page is finished all the same). */
int html_page_write(FILE *out, int (*data)(void *ctx, FILE *out), void *ctx);

#endif
