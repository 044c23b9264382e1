/*
 * export.h -- `stetho export`'s formats: each writes a whole capture to a
 * stream in its own file (export_<format>.c) and returns 0, or -1 when out
 * of memory.  Write errors are the caller's to check (ferror).
 */
#ifndef STETHO_CLI_EXPORT_H
#define STETHO_CLI_EXPORT_H

#include <stdio.h>
#include "capture/capture.h"

/* docs/json-schema.md: "stetho-profile/1" */
int export_json(const struct capture *c, FILE *out);

#endif
