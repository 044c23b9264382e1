/*
 * diff.h -- `stetho diff BASE NEW`: every time and memory metric per
 * function and per stack, new minus base.
 *
 * Contract: functions and stacks are matched as model/match.h does -- by
 * (function name, file), not line numbers, so a function whose lines
 * moved still matches; stacks by those identities, whatever the process
 * or thread.  Rows are sorted by |new - base| of the chosen metric (self,
 * or total with by_total, for functions), largest first.
 * The terminal form prints the first `limit` rows of each table; the JSON
 * form (schema "stetho-diff/1", docs/json-schema.md) has every row.
 * 0, or -1 when out of memory (write errors are the caller's to check).
 */
#ifndef STETHO_REPORT_DIFF_H
#define STETHO_REPORT_DIFF_H

#include <stdio.h>
#include "model/profile.h"

struct diff_opts {
    enum prof_metric metric;
    int by_total;               /* functions by total, not self */
    long limit;                 /* rows per terminal table; 0 = all */
    int json;
    const char *base_name, *new_name;   /* shown in the header */
};

int report_diff(const struct capture *base, const struct capture *new_,
                const struct diff_opts *o, FILE *out);

/* The differential flame graph: the HTML report's page showing one tree
 * of both captures' stacks, each frame coloured by new - base of
 * o->metric, and the function table (diff_html.c; limit and json are
 * not used).  0, or -1 when out of memory. */
int report_diff_html(const struct capture *base, const struct capture *new_,
                     const struct diff_opts *o, FILE *out);

#endif
