/*
 * layout_debug.h -- a layout from CPython 3.13+'s _Py_DebugOffsets.
 *
 * Contract: reads the offsets CPython itself publishes at the start of
 * _PyRuntime (cookie "xdebugpy") and fills `out`; what the debug offsets do
 * not carry is taken from `fallback` (the newest generated table).  Returns
 * 0, or -1 with a reason in `why` (no cookie, free-threaded build, a layout
 * of the struct we do not know, a read failure).
 */
#ifndef STETHO_CPYTHON_LAYOUT_DEBUG_H
#define STETHO_CPYTHON_LAYOUT_DEBUG_H

#include <stddef.h>
#include "cpython/layout.h"
#include "proc/reader.h"

int py_layout_from_debug(struct reader *r, uint64_t runtime, int major, int minor,
                         const struct py_layout *fallback, struct py_layout *out,
                         char *why, size_t whylen);

#endif
