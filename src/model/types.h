/*
 * types.h -- live Python objects by type (`stetho leaks`, `stats`, the
 * HTML report's leaks tab): the capture's type census records turned into
 * one row per type.
 *
 * Contract: prof_types_build() reads the census records (capture.h
 * cap_type_count): each is what one census of one process found of one
 * type among the live blocks one stack allocated.  Per process, the
 * census nearest the heap's peak (before or at it if there is one, else
 * the first after) gives count/bytes, the last census gives
 * end_count/end_bytes, and growth is the last minus the first.  Rows are
 * summed over processes and sorted by end_bytes, largest first (then by
 * name).  The top creating stack is the one that allocated most of the
 * type's objects at the end (top_share of them).  Counts and bytes of a
 * sampled capture are estimates (each sampled block stands for
 * 1 / (1 - exp(-size / mean)) blocks); `sampled` says so.  A capture
 * without census records has ncensus = 0 and no rows.  0, or -1 when out
 * of memory (*t is then empty).
 *
 * Names are kept stable for the HTML report (branch htmlleaks).
 */
#ifndef STETHO_MODEL_TYPES_H
#define STETHO_MODEL_TYPES_H

#include <stddef.h>
#include <stdint.h>
#include "capture/capture.h"

struct prof_type_row {
    const char *name;           /* the type's tp_name, as the capture holds it */
    uint64_t count, bytes;      /* at the census nearest the peak */
    uint64_t end_count, end_bytes;      /* at the last census */
    int64_t growth_count, growth_bytes; /* last census minus first */
    uint32_t top_stack;         /* capture stack id, 0: none */
    const char *top_func, *top_file;    /* its innermost Python frame, or NULL */
    int32_t top_line;
    double top_share;           /* of end_count, 0..1 */
};

struct prof_types {
    size_t ncensus;             /* census records' distinct (pid, time) */
    uint64_t peak_t_ns, end_t_ns;       /* of the first process's censuses */
    uint64_t sample_mean;       /* 0: exact counts */
    struct prof_type_row *rows;
    size_t nrows;
};

int prof_types_build(struct prof_types *t, const struct capture *c);
void prof_types_free(struct prof_types *t);

#endif
