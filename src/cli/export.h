/*
 * export.h -- `stetho export`'s formats: each writes a whole capture to a
 * stream in its own file (export_<format>.c) and returns 0, or -1 when out
 * of memory.  Write errors are the caller's to check (ferror).
 */
#ifndef STETHO_CLI_EXPORT_H
#define STETHO_CLI_EXPORT_H

#include <stdio.h>
#include "capture/capture.h"
#include "report/profile.h"

/* --metric samples: count samples instead of summing a time. */
#define EXPORT_SAMPLES (-1)

/* What `stetho export` was asked for besides the format.  A zeroed struct
 * is the default (wall time, one root per thread); formats that have no
 * use for an option ignore it. */
struct export_opts {
    int metric;                 /* enum prof_metric, or EXPORT_SAMPLES */
    int merge_threads;          /* no root frame per thread */
};

/* The format an output file's name asks for ("x.json": "json"), or NULL;
 * *suffix_len (if not NULL) gets the length of the suffix that said so. */
const char *export_format_for(const char *path, size_t *suffix_len);

/* Export the capture file to output in format; 0, or -1 after a one-line
 * error on stderr. */
int export_to_file(const char *capture_path, const char *format, const char *output);

/* Each writer: docs/exports.md (json: docs/json-schema.md). */
int export_json(const struct capture *c, const struct export_opts *o, FILE *out);
int export_speedscope(const struct capture *c, const struct export_opts *o, FILE *out);
int export_collapsed(const struct capture *c, const struct export_opts *o, FILE *out);
int export_pprof(const struct capture *c, const struct export_opts *o, FILE *out);
int export_pstats(const struct capture *c, const struct export_opts *o, FILE *out);
int export_chrome(const struct capture *c, const struct export_opts *o, FILE *out);
/* the HTML report (docs/html-report.md): writer in cli/html.c */
int export_html(const struct capture *c, const struct export_opts *o, FILE *out);

#endif
