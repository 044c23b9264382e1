/*
 * summary.h -- the short report `stetho run` prints at exit: where the
 * samples fell, by innermost function (self) and anywhere on the stack
 * (total).  Interim, until the capture-based reports.
 */
#ifndef STETHO_CLI_SUMMARY_H
#define STETHO_CLI_SUMMARY_H

#include <stdio.h>
#include "cpython/walker.h"

struct summary;

struct summary *summary_new(void);
void summary_free(struct summary *s);
void summary_add(struct summary *s, const struct py_snapshot *snap);
unsigned long summary_samples(const struct summary *s);
void summary_print(const struct summary *s, FILE *f, double seconds);

#endif
