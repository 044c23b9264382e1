/*
 * html_report.h -- a capture as one self-contained HTML page: a flame
 * graph, a timeline, and function and line tables, working offline.
 *
 * The page never receives raw samples.  The capture is aggregated here
 * into a call tree shared by all threads (nodes keyed by (parent node,
 * function and line)) and a time axis cut into at most HTML_MAX_BUCKETS
 * buckets; the data is the metric sums of each (bucket, thread, node)
 * that has samples or memory records (a "cell").  The page sums the cells
 * of a time range to re-aggregate the tree and the tables for that range.
 * When a capture has so many cells that the page would be large, buckets
 * are merged two by two until there are at most HTML_MAX_CELLS cells (or
 * as few as HTML_MIN_BUCKETS buckets).  Format and design:
 * docs/html-report.md.
 *
 * The page's template, CSS and JavaScript are src/report/html/, embedded
 * at build time (tools/embed.py).
 */
#ifndef STETHO_REPORT_HTML_REPORT_H
#define STETHO_REPORT_HTML_REPORT_H

#include <stdio.h>
#include "capture/capture.h"

#define HTML_MAX_BUCKETS 2000
#define HTML_MIN_BUCKETS 100
#define HTML_MAX_CELLS 150000

/* Limits of the aggregation; zero fields take the defaults above. */
struct html_opts {
    unsigned max_buckets, min_buckets;
    size_t max_cells;
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

#endif
