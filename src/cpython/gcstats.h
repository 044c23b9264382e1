/*
 * gcstats.h -- the garbage collector's counters of a CPython process,
 * read from outside: what gc.get_stats() returns, per generation the
 * collections, the objects collected and the objects uncollectable since
 * the interpreter started.
 *
 * Contract: reads the main interpreter's gc.generation_stats (layout.h
 * is_gc_stats) with one read (two when the caller does not know where the
 * main interpreter is: interp 0; a walk's snapshot does, py_snapshot.interp).  0 with out filled; -1 when the layout does
 * not know where they are (a version newer than the tables), the read
 * fails, or what was read cannot be counters (negative).
 */
#ifndef STETHO_CPYTHON_GCSTATS_H
#define STETHO_CPYTHON_GCSTATS_H

#include <stdint.h>
#include "capture/capture.h"
#include "cpython/target.h"

int py_gc_stats(struct py_target *t, uint64_t interp, struct cap_gc_point *out);

#endif
