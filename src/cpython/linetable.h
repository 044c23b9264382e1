/*
 * linetable.h -- map an instruction offset to a source line, for each of
 * CPython's line-table encodings (see layout.h: enum py_linetable_kind).
 *
 * Contract: `offset` is in bytes of bytecode for PY_LINES_LNOTAB and
 * PY_LINES_310 and in 16-bit code units for PY_LINES_LOCATIONS (as each
 * version's own PyCode_Addr2Line takes it).  Returns the line, or -1 when
 * the instruction has no line or the table is malformed.  Pure functions:
 * the table is untrusted bytes read from another process.
 */
#ifndef STETHO_CPYTHON_LINETABLE_H
#define STETHO_CPYTHON_LINETABLE_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/layout.h"

int linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                   int firstlineno, int64_t offset);

#endif
