/*
 * census.h -- live Python objects by type: one census of one process, made
 * by reading the type of each live object-allocator block (cpython/
 * objtype.h) and written as TYPES records (capture.h cap_type_count).
 *
 * Contract: census_begin(pid), census_add() for each live block the agent
 * reported from PyObject_Malloc's domain (with the capture stack that
 * allocated it and what it stands for: one block, or a sampled block's
 * estimated count and bytes), census_end() to read what is still pending
 * (census_step() to read some of them now), and give one record per (type, stack): kept aside (census_result), to be
 * written once the census is known good -- the process had not begun
 * to finalize before it was read (memtrack.c) -- or dropped.  Blocks are read in batches
 * (one process_vm_readv per batch).  A block whose type does not check
 * out, or cannot be read (freed and unmapped since), is not counted.
 * census_end() gives the records (none when out of memory: a census with
 * types missing would mislead) and when the reading ended.  A block whose
 * type an earlier census found is counted without a read
 * (census_add_known: an object's type is its own for its whole life);
 * census_each_read() tells, after census_end(), which type each block
 * added was found to have, for the caller to keep.  Memory: the batch,
 * the type cache and the (type, stack) table of one census; a census_new()
 * is used by one thread.
 */
#ifndef STETHO_MEMORY_CENSUS_H
#define STETHO_MEMORY_CENSUS_H

#include <stdint.h>
#include <sys/types.h>
#include "capture/capture.h"

struct census;

struct census *census_new(struct capture_writer *w);
void census_free(struct census *c);

void census_begin(struct census *c, pid_t pid);
/* size: the block's own size; count, bytes: what it stands for. */
void census_add(struct census *c, uint64_t addr, uint64_t size, uint64_t count,
                uint64_t bytes, uint32_t stack);
/* A block whose type (its name's capture string id) an earlier census
 * read: counted as census_add() would, without reading it. */
void census_add_known(struct census *c, uint32_t name, uint64_t count, uint64_t bytes,
                      uint32_t stack);
/* For each block census_add() gave this census: its address and its type's
 * name id; CENSUS_NO_TYPE if it was read and holds no object (a buffer the
 * object allocator gave out; never said while the type cache is full, when
 * an unknown type may be no type only for want of room); 0 if it could not
 * be read or was not read (the census was cut short). */
#define CENSUS_NO_TYPE UINT32_MAX
typedef void (*census_read_fn)(void *ctx, uint64_t addr, uint32_t name);
void census_each_read(const struct census *c, census_read_fn fn, void *ctx);

struct census_result {
    struct cap_type_count *v;   /* NULL when empty */
    size_t n;
    uint64_t done_ns;           /* CLOCK_MONOTONIC when the reading ended */
};

/* Reads on for about budget_ns of CPU time (at least one window); 1 when
 * every block was read.  So a large census is read over several ticks
 * and never holds the memory thread long (census_add then comes first). */
int census_step(struct census *c, uint64_t budget_ns);
/* The census at t_ns (since the capture's start) into *out (emptied
 * first), reading what is left. */
void census_end(struct census *c, uint64_t t_ns, struct census_result *out);
/* Writes r's records (the writer's lock taken once for them all), then empties r. */
void census_write(struct capture_writer *w, struct census_result *r);
void census_drop(struct census_result *r);

#endif
