/*
 * pystr.h -- read str and bytes objects out of another address space.
 *
 * Contract: py_read_str() decodes a compact str object (every str CPython
 * creates since 3.3 that we meet in code objects) into NUL-terminated UTF-8
 * in a malloc'd buffer, at most `max` characters; py_read_bytes() copies a
 * bytes object's payload (at most `max` bytes) into a malloc'd buffer.  Both
 * return NULL on a failed read or an implausible object (torn or not a
 * str/bytes), never reading more than the bounded size.
 */
#ifndef STETHO_CPYTHON_PYSTR_H
#define STETHO_CPYTHON_PYSTR_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/layout.h"
#include "proc/reader.h"

char *py_read_str(struct reader *r, const struct py_layout *l, uint64_t addr, size_t max);
uint8_t *py_read_bytes(struct reader *r, const struct py_layout *l, uint64_t addr,
                       size_t max, size_t *len);

#endif
