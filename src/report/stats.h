/*
 * stats.h -- `stetho stats`: a capture's numbers at a glance, as text or
 * as JSON (schema "stetho-stats/1", docs/json-schema.md; with the leaks
 * report's JSON as "leaks", report/leaks.h).
 *
 * Contract: writes the whole report to out; 0, or -1 when out of memory
 * (write errors are the caller's to check).
 */
#ifndef STETHO_REPORT_STATS_H
#define STETHO_REPORT_STATS_H

#include <stdio.h>
#include "capture/capture.h"

int stats_write(const struct capture *c, int json, FILE *out);

#endif
