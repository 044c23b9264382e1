/*
 * report_args.h -- the command line of every command that reads a
 * capture (tree, table, stats, html, export): one parser, each command
 * naming the options it takes; loading the capture; writing a rendering
 * to a file.
 *
 * Contract: the functions that can fail print the one-line "stetho: ..."
 * error themselves and return -1; the command then exits with
 * STETHO_EXIT_USAGE.
 */
#ifndef STETHO_CLI_REPORT_ARGS_H
#define STETHO_CLI_REPORT_ARGS_H

#include <stdio.h>
#include "capture/capture.h"
#include "export/export.h"
#include "report/table.h"
#include "report/tree_print.h"

/* The options a command takes (report_args_parse's `takes`). */
enum {
    RA_METRIC = 1 << 0,         /* --metric M: any metric (tree, table) */
    RA_TIME_METRIC = 1 << 1,    /* --metric M: a time or samples (export) */
    RA_SHOW_ALL = 1 << 2,       /* --show-all */
    RA_MIN_PERCENT = 1 << 3,    /* --min-percent P */
    RA_THREADS = 1 << 4,        /* --threads separate|merged */
    RA_COLOR = 1 << 5,          /* --color, --no-color */
    RA_RECURSION = 1 << 6,      /* --keep-recursion */
    RA_LINES = 1 << 7,          /* --lines */
    RA_SORT = 1 << 8,           /* --sort self|total */
    RA_LIMIT = 1 << 9,          /* --limit N */
    RA_JSON = 1 << 10,          /* --json */
    RA_OUTPUT = 1 << 11,        /* -o, --output FILE */
    RA_FORMAT = 1 << 12,        /* -f, --format F */
    RA_MERGE_THREADS = 1 << 13, /* --merge-threads */
    RA_CALLS = 1 << 14,         /* --calls (table) */
    RA_MERGE_TASKS = 1 << 15,   /* --merge-tasks: asyncio tasks by coroutine */
    RA_SYMBOLIZE = 1 << 16,     /* --symbolize: native frames resolved again */
};

/* --symbolize's line in a command's usage. */
#define SYMBOLIZE_USAGE                                                                   \
    "  --symbolize           native frames (--native) named again from their binaries,\n" \
    "                        found by build-id (the recorded path, else\n"              \
    "                        /usr/lib/debug/.build-id/); see docs/native.md\n"

struct report_args {
    const char *path;           /* the capture; NULL if none was given */
    struct tree_opts tree;      /* tree: metric, show_all, ... (color: -1 = a terminal?) */
    struct table_opts table;
    struct export_opts export;
    int json;
    const char *output, *format;
};

/* Parse argv (the arguments after the command's name) into *a, with
 * each command's defaults.  0; 1 when --help printed usage (exit 0); or
 * -1 after an error. */
int report_args_parse(const char *cmd, unsigned takes, void (*usage)(FILE *), int argc,
                      char **argv, struct report_args *a);

/* Is argv[*i] the option `name` ("--metric")?  Then *value is its value,
 * from "--metric=cpu" or the next argument (then *i moves past it), or
 * NULL if it has none; returns 1.  Otherwise returns 0. */
int cli_option(int argc, char **argv, int *i, const char *name, const char **value);

/* Loads the capture at path; a truncated one gets a warning on stderr.
 * With symbolize, its native frames are then resolved again from the
 * binaries found by build-id (native/symbolize.h), and a line on stderr
 * says how many modules were found. */
int cli_load_capture(const char *cmd, const char *path, int symbolize, struct capture *c);

/* Render the capture file at path with `write` into output (NULL or "-":
 * standard output), symbolized again if o->symbolize.  After a failure, a regular file half written is
 * removed.  *size (if not NULL) gets the bytes written to a file.  0, or
 * -1 after a one-line error. */
int cli_render(const char *cmd, const char *path, export_writer *write,
               const struct export_opts *o, const char *output, long *size);

#endif
