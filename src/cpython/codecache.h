/*
 * codecache.h -- what we know of each code object, keyed by its address.
 *
 * Contract: codecache_get() returns the cached entry for a code object's
 * address, reading and decoding it (names, file, first line, line table) on
 * a miss; NULL if it cannot be read or does not look like a code object.
 * Entries live until codecache_free() (or until the cache is full, when it
 * is emptied and refilled -- so a caller must not keep entry pointers across
 * calls that may miss; codecache_generation() changes when that happens).
 * A steady-state walk therefore costs one read per frame, not per field.
 */
#ifndef STETHO_CPYTHON_CODECACHE_H
#define STETHO_CPYTHON_CODECACHE_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/layout.h"
#include "proc/reader.h"

struct code_info {
    uint64_t addr;
    char *name;             /* co_qualname where it exists, else co_name */
    char *filename;
    int firstlineno;
    uint8_t *linetable;
    size_t linetable_len;
};

struct codecache;

struct codecache *codecache_new(size_t max_entries);
void codecache_free(struct codecache *c);
const struct code_info *codecache_get(struct codecache *c, struct reader *r,
                                      const struct py_layout *l, uint64_t code_type,
                                      uint64_t addr);
uint64_t codecache_generation(const struct codecache *c);

#endif
