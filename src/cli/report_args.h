/*
 * report_args.h -- what the report commands (tree, table, export) share
 * on the command line: option values, the metric names, and loading the
 * capture they report on.
 *
 * Contract: the cli_* functions that can fail print the one-line
 * "stetho: ..." error themselves and return -1; the command then exits
 * with STETHO_EXIT_USAGE.
 */
#ifndef STETHO_CLI_REPORT_ARGS_H
#define STETHO_CLI_REPORT_ARGS_H

#include "capture/capture.h"
#include "report/profile.h"

/* Is argv[*i] the option `name` ("--metric")?  Then *value is its value,
 * from "--metric=cpu" or the next argument (then *i moves past it), or
 * NULL if it has none; returns 1.  Otherwise returns 0. */
int cli_option(int argc, char **argv, int *i, const char *name, const char **value);

int cli_metric(const char *cmd, const char *value, enum prof_metric *out);

/* Loads the capture at path; a truncated one gets a warning on stderr. */
int cli_load_capture(const char *cmd, const char *path, struct capture *c);

#endif
