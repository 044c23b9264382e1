/*
 * export.h -- a capture in the formats other tools read (docs/exports.md),
 * each a reader of the report model (model/profile.h) in a file of its
 * own: src/export/<format>.c.
 *
 * Contract: each writer takes a loaded capture, builds the model with the
 * options it needs (never folding recursion: stacks stay exact), writes
 * the whole format to `out` and returns 0, or -1 when out of memory.
 * Write errors are the caller's to check (ferror).  Adding a format is
 * one file with one such function, and one line in export.c's table.
 */
#ifndef STETHO_EXPORT_EXPORT_H
#define STETHO_EXPORT_EXPORT_H

#include <stdio.h>
#include "capture/capture.h"
#include "model/profile.h"

/* --metric samples: count samples instead of summing a time. */
#define EXPORT_SAMPLES PROF_SAMPLES

/* What `stetho export` was asked for besides the format.  A zeroed struct
 * is the default (wall time, one root per thread); formats that have no
 * use for an option ignore it. */
struct export_opts {
    int metric;                 /* enum prof_metric, or EXPORT_SAMPLES */
    int merge_threads;          /* no root frame per thread */
    int merge_tasks;            /* asyncio tasks by coroutine (profile.h) */
    int symbolize;              /* native frames resolved again when loaded
                                   (native/symbolize.h; the CLI does it) */
};

typedef int export_writer(const struct capture *c, const struct export_opts *o, FILE *out);

/* The writer of the format called name, or NULL. */
export_writer *export_find(const char *name);
/* The formats' names, ", "-separated, into buf. */
void export_names(char *buf, size_t len);
/* The format an output file's name asks for ("x.json": "json"), or NULL;
 * *suffix_len (if not NULL) gets the length of the suffix that said so. */
const char *export_format_for(const char *path, size_t *suffix_len);

/* Each writer: docs/exports.md (json: docs/json-schema.md). */
export_writer export_json, export_speedscope, export_collapsed, export_pprof, export_pstats,
    export_chrome, export_html;

#endif
