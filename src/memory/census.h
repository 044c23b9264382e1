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
 * types missing would mislead) and when the reading ended.  Memory: the batch,
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
/* Writes r's records (the writer's lock taken per record), then empties r. */
void census_write(struct capture_writer *w, struct census_result *r);
void census_drop(struct census_result *r);

#endif
