/*
 * linetable.h -- map an instruction offset to a source line, for each of
 * CPython's line-table encodings (see layout.h: enum py_linetable_kind).
 *
 * Contract: `offset` is in bytes of bytecode for PY_LINES_LNOTAB and
 * PY_LINES_310 and in 16-bit code units for PY_LINES_LOCATIONS (as each
 * version's own PyCode_Addr2Line takes it).  Returns the line, or -1 when
 * the instruction has no line or the table is malformed.  The table is
 * untrusted bytes read from another process: any bytes give an answer,
 * never a read outside [table, table+len) or an unbounded loop.
 *
 * linetable_line() decodes from the start of the table: its cost grows
 * with the offset.  linetable_lookup() gives the same answer for every
 * offset at a bounded cost through an index kept beside the table (one
 * per code object, in the code cache): the forward decode remembers where
 * it stopped, so increasing offsets continue from there, and leaves a
 * checkpoint every LINETABLE_STRIDE bytes of table, so an offset behind
 * it decodes from the checkpoint before it (a binary search away).  The
 * index only ever holds states the from-the-start decode passes through,
 * which is why the answers are the same.  The caller gives the
 * checkpoints' room (linetable_index_room(len) of them); an index is used
 * with one table only, by one thread at a time.
 */
#ifndef STETHO_CPYTHON_LINETABLE_H
#define STETHO_CPYTHON_LINETABLE_H

#include <stddef.h>
#include <stdint.h>
#include "cpython/layout.h"

/* Bytes of table between checkpoints: a lookup behind the frontier
 * decodes at most this much (about 20-30 entries); the checkpoints take
 * a quarter of the table's size. */
#define LINETABLE_STRIDE 64

/* The decoder's state where an entry starts: its byte in the table, the
 * instruction offset it starts at, and the line before it is applied
 * (64 bits: a torn table can hold any deltas). */
struct linetable_mark {
    uint32_t cursor;
    uint32_t addr;
    int64_t line;
};

struct linetable_index {
    struct linetable_mark *marks;   /* marks[i]: the first entry at or after
                                       byte i * LINETABLE_STRIDE, in order */
    uint32_t n, cap;
    struct linetable_mark front;    /* where the forward decode stopped */
    int stop;                       /* 0: more to decode; 1: end of table;
                                       -1: malformed from front on */
};

int linetable_line(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                   int firstlineno, int64_t offset);

/* How many marks an index over a table of len bytes may hold; 0 when the
 * table is short enough to decode from its start every time (or too long
 * for 32-bit marks: then linetable_lookup does so too). */
size_t linetable_index_room(size_t len);
void linetable_index_init(struct linetable_index *x, struct linetable_mark *marks, size_t cap,
                          int firstlineno);
int linetable_lookup(enum py_linetable_kind kind, const uint8_t *table, size_t len,
                     struct linetable_index *x, int64_t offset);

#endif
