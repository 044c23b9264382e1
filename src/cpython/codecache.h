/*
 * codecache.h -- what we know of each code object, keyed by its address.
 *
 * Contract: codecache_get() returns the cached entry for a code object's
 * address, reading and decoding it (names, file, first line, line table) on
 * a miss; NULL if it cannot be read or does not look like a code object.
 * Entries live until codecache_free() (or until the cache is full, when it
 * is emptied and refilled -- so a caller must not keep entry pointers across
 * calls that may miss; codecache_generation() changes when that happens).
 * Code objects die (a module's body after import, exec'd code) and their
 * addresses are reused, so an entry is trusted only after checking that a
 * small window of the object (the pointers to its names, file and line
 * table, and its first line: codecache_ident) still holds the same bytes.
 * A walker batches those checks into one read for a whole stack (one
 * piece per distinct code object), not one read per field.
 * Each entry carries its line table's lookup index (linetable.h), in the
 * entry's own allocation: it is a memo that changes on lookups through a
 * const entry, never changing an answer; the entry's owner (one thread)
 * is its only user.
 */
#ifndef STETHO_CPYTHON_CODECACHE_H
#define STETHO_CPYTHON_CODECACHE_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/layout.h"
#include "cpython/linetable.h"
#include "proc/reader.h"

#define CODE_IDENT_MAX 128

struct code_info {
    uint64_t addr;
    uint8_t ident[CODE_IDENT_MAX];  /* the identity window, as decoded */
    size_t ident_len;
    char *name;             /* co_qualname where it exists, else co_name */
    char *filename;
    int firstlineno;
    uint8_t *linetable;
    size_t linetable_len;
    struct linetable_index *lines;  /* its index, after the entry */
    int shim;               /* an interpreter-made code object that is not
                               the program's (3.13's __init__ cleanup) */
};

struct codecache;

struct codecache *codecache_new(size_t max_entries);
void codecache_free(struct codecache *c);
/* Find, check (one read) and if need be (re)load: the simple way. */
const struct code_info *codecache_get(struct codecache *c, struct reader *r,
                                      const struct py_layout *l, uint64_t code_type,
                                      uint64_t addr);

/* The pieces, for batched checks: the cached entry (unchecked) or NULL;
 * where the identity window is; whether `window` matches an entry; and a
 * fresh decode that replaces any entry for addr (changing the generation
 * if it did). */
const struct code_info *codecache_find(const struct codecache *c, uint64_t addr);
void codecache_ident(const struct py_layout *l, uint64_t *offset, size_t *len);
int codecache_same(const struct code_info *e, const void *window);
const struct code_info *codecache_load(struct codecache *c, struct reader *r,
                                       const struct py_layout *l, uint64_t code_type,
                                       uint64_t addr);
uint64_t codecache_generation(const struct codecache *c);

#endif
