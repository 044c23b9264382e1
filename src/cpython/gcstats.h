/*
 * gcstats.h -- the garbage collector's counters of a CPython process,
 * read from outside: what gc.get_stats() returns, per generation the
 * collections, the objects collected and the objects uncollectable since
 * the interpreter started.
 *
 * Contract: the main interpreter's gc.generation_stats (layout.h
 * is_gc_stats) as a walk read them, in the batch that reads the
 * interpreter (py_snapshot.gc_stats: no read of their own).  0 with out
 * filled; -1 when the layout does not know where they are (a version newer
 * than the tables), the read failed, or what was read cannot be counters
 * (negative).
 */
#ifndef STETHO_CPYTHON_GCSTATS_H
#define STETHO_CPYTHON_GCSTATS_H

#include <stdint.h>
#include "capture/capture.h"
#include "cpython/walker.h"

int py_gc_stats(const struct py_snapshot *s, struct cap_gc_point *out);

#endif
